"""Survey answers: configured answers set tags (担心闲置 …), effort scores above the bar are hits,
NPS answers are promoters, passives or detractors.

The fold (``profile.py``) keeps each touchpoint's NPS / CES (费力度) / CSAT as last, mean
and count, and adds the tags. Here: ``survey_tagged`` when an answer gives a tag the
customer did not have, ``high_effort`` when a ``high_effort.metric`` score is at
least ``at_least`` (or at most ``at_most``, for scales where low means hard), and one of
``nps_promoter`` (9-10), ``nps_passive`` (7-8), ``nps_detractor`` (0-6) for every answer on
the ``nps.metric`` scale (bands set in ``nps``), with the touchpoint's previous band.
"""

from __future__ import annotations

from orchestrator.core.effects import ScenarioHit
from orchestrator.core.event_data import SurveyAnswered
from orchestrator.core.profile import survey_tags
from orchestrator.core.scenario_spec import HighEffort, NpsBands, SurveySettings
from orchestrator.core.scenarios.base import Found, Signal, hit
from orchestrator.core.scenarios.names import HIGH_EFFORT, NPS_DETRACTOR, NPS_PASSIVE, NPS_PROMOTER, SURVEY_TAGGED
from orchestrator.core.state import CustomerState


def on_event(state: CustomerState, sig: Signal) -> Found:
    settings = sig.settings.surveys
    if settings is None or sig.event is None or sig.event.type != "survey.answered":
        return state, []
    data = SurveyAnswered.model_validate(sig.event.data)
    hits = [_tagged(state, sig, data, tag) for tag in survey_tags(data, settings) if tag not in sig.before.tags]
    found = [_effort(state, sig, data, settings), _nps(state, sig, data, settings)]
    return state, hits + [h for h in found if h is not None]


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


def _nps(state: CustomerState, sig: Signal, data: SurveyAnswered, settings: SurveySettings) -> ScenarioHit | None:
    bands = settings.nps
    scale = settings.scales.get(data.metric or "")
    if bands is None or data.metric != bands.metric or data.score is None or scale is None or sig.event is None:
        return None
    if not scale.min <= data.score <= scale.max:
        return None  # off the scale: the fold ignored it too
    category = _band(data.score, bands)
    before = sig.before.experience.get(data.touchpoint, {}).get(data.metric)
    stat = state.profile.experience.get(data.touchpoint, {}).get(data.metric)
    evidence = {
        "rule": _rule(category, bands, scale.min, scale.max),
        "category": category,
        "touchpoint": data.touchpoint,
        "metric": data.metric,
        "score": data.score,
        "mean": stat.mean if stat else data.score,
        "count": stat.count if stat else 1,
        "previous": _band(before.last, bands) if before else None,
        "question": data.question,
        "event_id": sig.event.id,
    }
    scenario = {"promoter": NPS_PROMOTER, "passive": NPS_PASSIVE, "detractor": NPS_DETRACTOR}[category]
    return hit(scenario, state, f"{data.touchpoint}:{sig.event.id}", sig.at, evidence)


def _band(score: float, bands: NpsBands) -> str:
    if score >= bands.promoters_from:
        return "promoter"
    return "detractor" if score <= bands.detractors_to else "passive"


def _rule(category: str, bands: NpsBands, low: float, high: float) -> str:
    ranges = {
        "promoter": f"{bands.promoters_from:g}-{high:g}",
        "passive": f"above {bands.detractors_to:g}, below {bands.promoters_from:g}",
        "detractor": f"{low:g}-{bands.detractors_to:g}",
    }
    return f"{bands.metric} {ranges[category]}: {category}"
