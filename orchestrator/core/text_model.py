"""A linear model over character n-grams: how likely a line shows an intent, as pure arithmetic.

The weights are learnt outside the core (``orchestrator.intent_model`` fits scikit-learn's
logistic regression on the labelled examples operators keep in ``journeys/intent_examples.yaml``)
and handed in as numbers: the core only counts the line's character n-grams, weighs them
(tf-idf: 1 + log count, times the n-gram's idf, scaled to unit length) and adds up
``weight × value``. The same numbers give the same answer everywhere; the work is linear in
the line (at most ``len(line) × (longest n-gram)`` lookups).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

_SPACES = re.compile(r"\s\s+")  # as scikit-learn's character analyser: a run of white space is one space


@dataclass(frozen=True)
class CharModel:
    """``features``: n-gram → (idf, weight); ``bias``: the intercept.

    N-grams of ``shortest`` to ``longest`` characters."""

    features: Mapping[str, tuple[float, float]]
    bias: float
    shortest: int = 1
    longest: int = 3

    def probability(self, text: str) -> float:
        """P(the line shows the intent), by the logistic function of the linear score."""
        counts = Counter(self._ngrams(_SPACES.sub(" ", text)))
        values: dict[str, float] = {}
        for gram, count in counts.items():
            known = self.features.get(gram)
            if known is not None:
                values[gram] = (1.0 + math.log(count)) * known[0]
        norm = math.sqrt(sum(v * v for v in values.values()))
        score = self.bias + (sum(self.features[g][1] * v for g, v in values.items()) / norm if norm else 0.0)
        return 1.0 / (1.0 + math.exp(-score)) if score >= 0 else math.exp(score) / (1.0 + math.exp(score))

    def _ngrams(self, text: str) -> list[str]:
        return [text[i : i + n] for n in range(self.shortest, self.longest + 1) for i in range(len(text) - n + 1)]
