"""Survey answers: configured answers set tags (担心闲置 …), effort scores above the bar are hits.

The fold (``profile.py``) keeps each touchpoint's NPS / CES (费力度) / CSAT as last, mean
and count, and adds the tags. Here: ``survey_tagged`` when an answer gives a tag the
customer did not have, and ``high_effort`` when a ``high_effort.metric`` score is at
least ``at_least`` (or at most ``at_most``, for scales where low means hard).
"""

from __future__ import annotations

from orchestrator.core.effects import ScenarioHit
from orchestrator.core.event_data import SurveyAnswered
from orchestrator.core.profile import survey_tags
from orchestrator.core.scenario_spec import HighEffort, SurveySettings
from orchestrator.core.scenarios.base import Found, Signal, hit
from orchestrator.core.scenarios.names import HIGH_EFFORT, SURVEY_TAGGED
from orchestrator.core.state import CustomerState


def on_event(state: CustomerState, sig: Signal) -> Found:
    settings = sig.settings.surveys
    if settings is None or sig.event is None or sig.event.type != "survey.answered":
        return state, []
    data = SurveyAnswered.model_validate(sig.event.data)
    hits = [_tagged(state, sig, data, tag) for tag in survey_tags(data, settings) if tag not in sig.before.tags]
    effort = _effort(state, sig, data, settings)
    return state, hits + ([effort] if effort else [])


def _tagged(state: CustomerState, sig: Signal, data: SurveyAnswered, tag: str) -> ScenarioHit:
    assert sig.event is not None  # noqa: S101 - on_event checked it
    rule = next(r for r in (sig.settings.surveys.tags if sig.settings.surveys else ()) if r.tag == tag)
    evidence = {
        "rule": f"answer {rule.match} {rule.answer}",
        "tag": tag,
        "question": data.question,
        "answer": data.answer,
        "event_id": sig.event.id,
    }
    return hit(SURVEY_TAGGED, state, f"{tag}:{sig.event.id}", sig.at, evidence)


def _effort(state: CustomerState, sig: Signal, data: SurveyAnswered, settings: SurveySettings) -> ScenarioHit | None:
    bar = settings.high_effort
    scale = settings.scales.get(data.metric or "")
    if bar is None or data.metric != bar.metric or data.score is None or scale is None or sig.event is None:
        return None
    if not scale.min <= data.score <= scale.max or not _hard(data.score, bar):
        return None
    stat = state.profile.experience.get(data.touchpoint, {}).get(data.metric)
    evidence = {
        "rule": f"{bar.metric} ≥ {bar.at_least:g}" if bar.at_least is not None else f"{bar.metric} ≤ {bar.at_most:g}",
        "touchpoint": data.touchpoint,
        "metric": data.metric,
        "score": data.score,
        "mean": stat.mean if stat else data.score,
        "count": stat.count if stat else 1,
        "question": data.question,
        "event_id": sig.event.id,
    }
    return hit(HIGH_EFFORT, state, f"{data.touchpoint}:{sig.event.id}", sig.at, evidence)


def _hard(score: float, bar: HighEffort) -> bool:
    return score >= bar.at_least if bar.at_least is not None else score <= (bar.at_most or 0)
