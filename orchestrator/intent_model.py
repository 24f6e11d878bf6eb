"""Chat-intent classifiers learnt from the examples operators keep, outside the core.

``journeys/intent_examples.yaml`` holds, per intent, sentences that show it (``positive``) and
sentences that share its words but do not (``negative``)::

    asked_by_friend:
      positive: [给老人买来看电视剧的, 同事问我是什么牌子]
      negative: [朋友推荐的, 包装精美适合送人]

For each intent whose rule in ``scenarios.yaml`` has a ``model`` section, scikit-learn's
logistic regression (liblinear, class-balanced, a fixed seed: the same examples always give
the same weights) is fitted on the examples' character 1–3-grams (tf-idf), and handed to
the core as plain numbers (``core.text_model.CharModel``): no library runs per chat line.
Fitting takes well under a second for a thousand examples and happens once per set of
examples (cached), when the world is built.
"""

from __future__ import annotations

import warnings
from functools import cache
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, RootModel

from orchestrator.core.scenario_spec import ChatSettings
from orchestrator.core.text import normalize
from orchestrator.core.text_model import CharModel

INTENT_EXAMPLES_FILE = "intent_examples.yaml"
SEED = 0
Sentence = Annotated[str, Field(min_length=1, max_length=1000)]


class ExampleSet(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    positive: tuple[Sentence, ...] = Field(min_length=1, description="sentences that show the intent")
    negative: tuple[Sentence, ...] = Field(min_length=1, description="sentences that share its words but do not")


class IntentExamples(RootModel[dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")], ExampleSet]]):
    """``intent_examples.yaml``: labelled sentences per intent name."""

    root: dict[str, ExampleSet] = Field(default_factory=dict)


def problems(chat: ChatSettings, examples: IntentExamples) -> list[tuple[tuple[str | int, ...], str]]:
    """Every intent with a ``model`` section has examples; every intent with examples exists."""
    found: list[tuple[tuple[str | int, ...], str]] = []
    for name, rule in chat.intents.items():
        if rule.model is not None and name not in examples.root:
            found.append((("chat", "intents", name, "model"), f"no examples for {name!r} in {INTENT_EXAMPLES_FILE}"))
    return found


def unknown_intents(chat: ChatSettings, examples: IntentExamples) -> list[tuple[tuple[str | int, ...], str]]:
    known = ", ".join(sorted(chat.intents)) or "none"
    return [
        ((name,), f"no intent {name!r} under chat.intents; known: {known}")
        for name in examples.root
        if name not in chat.intents
    ]


def train(chat: ChatSettings, examples: IntentExamples) -> dict[str, CharModel]:
    """The classifier of each intent that has a ``model`` section and examples."""
    models = {}
    for name, rule in chat.intents.items():
        found = examples.root.get(name)
        if rule.model is not None and found is not None:
            models[name] = fit(found.positive, found.negative, rule.model.strength)
    return models


@cache
def fit(positive: tuple[str, ...], negative: tuple[str, ...], strength: float) -> CharModel:
    """Logistic regression on character 1–3-grams of the normalised sentences, as plain numbers."""
    from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: PLC0415 - only when a model is configured
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415 - same

    texts = [normalize(t) for t in (*positive, *negative)]
    labels = [1] * len(positive) + [0] * len(negative)
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, lowercase=False)
    matrix = vectorizer.fit_transform(texts)
    classifier = LogisticRegression(C=strength, class_weight="balanced", solver="liblinear", random_state=SEED)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # liblinear's convergence notes: the fit is used as it stands
        classifier.fit(matrix, labels)
    weights = classifier.coef_[0]
    features = {  # every n-gram, weighted or not: each counts in the line's length (the tf-idf norm)
        gram: (float(vectorizer.idf_[index]), float(weights[index])) for gram, index in vectorizer.vocabulary_.items()
    }
    return CharModel(features=features, bias=float(classifier.intercept_[0]))
