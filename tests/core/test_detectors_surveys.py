"""Survey answers: tags from configured answers, NPS / CES / CSAT per touchpoint, high effort as a hit."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from orchestrator.core import CustomerState, Event, World
from orchestrator.core.scenario_spec import ScenarioSettings
from orchestrator.core.scenarios.names import SAMPLE_EVIDENCE
from tests.builders import NOW, make_event, make_world, run

DAY = timedelta(days=1)
SURVEYS: dict[str, Any] = {
    "tags": [
        {"question": "还在犹豫什么？", "answer": "担心闲置", "tag": "担心闲置"},
        {"answer": "价格", "match": "contains", "tag": "价格敏感"},
    ],
    "high_effort": {"metric": "ces", "at_least": 5},
}


def _world(**surveys: Any) -> World:
    return replace(make_world(), scenarios=ScenarioSettings.model_validate({"surveys": {**SURVEYS, **surveys}}))


def _answer(n: int, **data: Any) -> Event:
    return make_event("survey.answered", NOW + n * DAY, data, id_=f"sv-{n}")


TAGS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "the configured answer": ({"question": "还在犹豫什么？", "answer": "担心闲置"}, ["担心闲置"]),
    "the same answer to another question": ({"question": "满意吗？", "answer": "担心闲置"}, []),
    "an answer containing a word": ({"question": "还在犹豫什么？", "answer": "价格有点高"}, ["价格敏感"]),
    "by survey id": ({"survey_id": "还在犹豫什么？", "answer": "担心闲置"}, ["担心闲置"]),
    "another answer": ({"question": "还在犹豫什么？", "answer": "没时间"}, []),
}


@pytest.mark.parametrize("case", list(TAGS))
def test_configured_answers_set_tags_and_each_new_tag_is_a_hit(case: str) -> None:
    data, tags = TAGS[case]
    [outcome] = run(_world(), CustomerState.new("M1"), _answer(0, **data))
    assert list(outcome.state.profile.tags) == tags
    assert [h.evidence["tag"] for h in outcome.hits if h.scenario == "survey_tagged"] == tags
    for hit in outcome.hits:
        assert set(hit.evidence) == set(SAMPLE_EVIDENCE[hit.scenario])


def test_a_tag_already_held_is_no_new_hit() -> None:
    data = {"question": "还在犹豫什么？", "answer": "担心闲置"}
    outcomes = run(_world(), CustomerState.new("M1"), _answer(0, **data), _answer(1, **data))
    assert [len(o.hits) for o in outcomes] == [1, 0]


def test_scores_are_folded_per_touchpoint_as_last_mean_and_count() -> None:
    outcomes = run(
        _world(),
        CustomerState.new("M1"),
        _answer(0, metric="nps", score=9, touchpoint="delivery"),
        _answer(2, metric="nps", score=6, touchpoint="delivery"),
        _answer(1, metric="nps", score=3, touchpoint="delivery"),  # arrives last, answered in between
        _answer(3, metric="csat", score=4, touchpoint="store"),
        _answer(4, metric="nps", score=42, touchpoint="store"),  # off the scale: ignored
    )
    experience = outcomes[-1].state.profile.experience
    delivery = experience["delivery"]["nps"]
    assert (delivery.last, delivery.mean, delivery.count, delivery.at) == (6, 6, 3, NOW + 2 * DAY)
    assert set(experience["store"]) == {"csat"}


@pytest.mark.parametrize(("score", "fires"), [(4, False), (5, True), (7, True), (9, False)])
def test_a_high_effort_answer_is_a_hit(score: float, fires: bool) -> None:
    [outcome] = run(_world(), CustomerState.new("M1"), _answer(0, metric="ces", score=score, touchpoint="after_sales"))
    found = [h for h in outcome.hits if h.scenario == "high_effort"]
    assert bool(found) is fires
    if fires:
        assert found[0].evidence["rule"] == "ces ≥ 5"
        assert found[0].occurrence == "after_sales:sv-0"
        assert found[0].evidence["count"] == 1


def test_scales_where_low_means_hard() -> None:
    world = _world(high_effort={"metric": "ces", "at_least": None, "at_most": 2})
    [outcome] = run(world, CustomerState.new("M1"), _answer(0, metric="ces", score=1))
    assert [h.evidence["rule"] for h in outcome.hits] == ["ces ≤ 2"]


def test_off_without_its_section() -> None:
    [outcome] = run(make_world(), CustomerState.new("M1"), _answer(0, answer="担心闲置", metric="ces", score=7))
    assert outcome.hits == ()
    assert outcome.state.profile.tags == ()


NPS_BANDS = [(0, "nps_detractor"), (6, "nps_detractor"), (6.5, "nps_passive"), (7, "nps_passive")]
NPS_BANDS += [(8, "nps_passive"), (9, "nps_promoter"), (10, "nps_promoter")]


@pytest.mark.parametrize(("score", "scenario"), NPS_BANDS)
def test_every_nps_answer_is_a_promoter_passive_or_detractor_hit(score: float, scenario: str) -> None:
    [outcome] = run(_world(), CustomerState.new("M1"), _answer(0, metric="nps", score=score, touchpoint="store"))
    [found] = [h for h in outcome.hits if h.scenario.startswith("nps_")]
    assert found.scenario == scenario
    assert found.occurrence == "store:sv-0"
    assert found.evidence["category"] == scenario.removeprefix("nps_")
    assert found.evidence["previous"] is None
    assert set(found.evidence) == set(SAMPLE_EVIDENCE[scenario])


def test_nps_evidence_carries_the_touchpoints_previous_band_and_mean() -> None:
    answers = [
        _answer(0, metric="nps", score=9, touchpoint="store"),
        _answer(1, metric="nps", score=3, touchpoint="store"),
    ]
    outcomes = run(_world(), CustomerState.new("M1"), *answers)
    [last] = [h for h in outcomes[-1].hits if h.scenario.startswith("nps_")]
    assert (last.scenario, last.evidence["previous"], last.evidence["mean"], last.evidence["count"]) == (
        "nps_detractor",
        "promoter",
        6.0,
        2,
    )
    assert last.evidence["rule"] == "nps 0-6: detractor"


@pytest.mark.parametrize("data", [{"metric": "nps", "score": 11}, {"metric": "nps", "score": -1}, {"metric": "nps"}])
def test_an_nps_answer_off_the_scale_or_without_a_score_is_no_hit(data: dict[str, Any]) -> None:
    [outcome] = run(_world(), CustomerState.new("M1"), _answer(0, **data))
    assert [h for h in outcome.hits if h.scenario.startswith("nps_")] == []


def test_nps_bands_are_settings_and_can_be_off() -> None:
    strict = _world(nps={"detractors_to": 7, "promoters_from": 10})
    [seven] = run(strict, CustomerState.new("M1"), _answer(0, metric="nps", score=7))
    [nine] = run(strict, CustomerState.new("M1"), _answer(0, metric="nps", score=9))
    assert [h.scenario for h in seven.hits] == ["nps_detractor"]
    assert [h.scenario for h in nine.hits] == ["nps_passive"]
    [off] = run(_world(nps=None), CustomerState.new("M1"), _answer(0, metric="nps", score=10))
    assert off.hits == ()


def test_nps_bands_out_of_order_are_refused() -> None:
    with pytest.raises(ValueError, match=r"detractors_to \(9\) must be below promoters_from \(9\)"):
        ScenarioSettings.model_validate({"surveys": {"nps": {"detractors_to": 9, "promoters_from": 9}}})
