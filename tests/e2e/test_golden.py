"""Golden dry runs of every example journey: recorded events in, the exact simulate output out.

For each journey ``journeys/<id>.yaml`` there are recorded events
``tests/fixtures/events/<id>.jsonl`` and the bytes ``orchestrator simulate`` writes for them
with the real journeys, catalog and templates, ``tests/fixtures/golden/<id>.jsonl``. Any
difference fails. After an intended change, regenerate and review the diff::

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/e2e/test_golden.py

``STORIES`` says in a few words what each fixture customer must get (the steps that
acted, on which channel and variant, and what was suppressed); it is checked against the
output too, so a regenerated golden that changes behaviour still fails until the story
is updated on purpose.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import datetime
from pathlib import Path

import orjson
import pytest

from orchestrator.bootstrap import load_world
from orchestrator.cli import main
from orchestrator.core import World
from orchestrator.service.simulate import simulate
from orchestrator.settings import Settings

REPO = Path(__file__).resolve().parents[2]
JOURNEYS = REPO / "journeys"
TEMPLATES = REPO / "templates"
EVENTS = REPO / "tests" / "fixtures" / "events"
GOLDEN = REPO / "tests" / "fixtures" / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

# Timers due up to this moment fire: far enough for every fixture's story to finish.
UNTIL = {
    "replenish": "2026-12-05T00:00:00+08:00",
    "invite-friend": "2026-11-25T00:00:00+08:00",
    "moving-house": "2026-11-15T00:00:00+08:00",
    "steamer-idle": "2026-11-25T00:00:00+08:00",
    "winback-dormant": "2026-10-20T00:00:00+08:00",
    "car-service": "2026-10-15T00:00:00+08:00",
    "fruit-day": "2026-11-11T00:00:00+08:00",
    "baby-stage": "2027-02-10T00:00:00+08:00",
    "aftersales-care": "2026-11-22T00:00:00+08:00",
    "member-group": "2026-11-20T00:00:00+08:00",
    "tier-benefits": "2026-11-25T00:00:00+08:00",
    "new-to-loyal": "2026-12-05T00:00:00+08:00",
    "complaint": "2026-12-01T00:00:00+08:00",
    "returns": "2026-12-05T00:00:00+08:00",
    "nps-detractor": "2026-12-25T00:00:00+08:00",
    "trade-up": "2026-08-12T00:00:00+08:00",
}

# Per customer, in order: "hit <occurrence>" (of the journey's own trigger scenario; the
# golden has every hit), "<step> <channel> [variant]" for an action,
# "~<step> <channel> <reason>" for a suppressed send (a fallback's suppression is written
# after the action it fell back to). [] = nothing at all.
STORIES: dict[str, dict[str, list[str]]] = {
    "replenish": {
        "R3001": ["hit protein:2026-11-30", "remind wecom_private", "combo sms A"],  # no reply → SMS next 10:00
        "R3002": ["hit protein:2026-11-30", "remind wecom_private", "combo_coupon sms B"],
        "R3003": ["hit protein:2026-11-30", "remind wecom_private"],  # holdout
        "R3004": ["hit protein:2026-11-30", "remind wecom_private", "follow_up task"],  # replied, associate done
        "R3005": ["hit protein:2026-11-30", "remind wecom_private", "follow_up task", "combo_coupon sms B"],
        "R3006": ["hit protein:2026-11-30", "remind wecom_private", "goal"],  # bought the next day: goal
        "R3007": ["hit protein:2026-11-30", "remind wecom_private"],  # first-time buyer: reminder only
        "R3008": ["hit protein:2026-11-30"],  # no WeCom id: the reminder step fails
        "R3009": ["hit protein:2026-11-30"],  # CRM do-not-disturb: not entered
        "R3011": [  # SMS consent withdrawn: the combo goes by WeCom
            "hit protein:2026-11-30",
            "remind wecom_private",
            "combo wecom_private A",
            "~combo sms consent, fell back",
        ],
        "R3012": ["hit protein:2026-11-30", "remind wecom_private"],  # refund: exit_on
    },
    "invite-friend": {
        # ¥59 order ignored, ¥199 counts; the second ask is within the 30-day cooldown
        "I4001": [
            "hit chat:2026-11-10",
            "invite_1v1 task",
            "credit webhook",
            "thanks wecom_private",
            "hit chat:2026-11-20",
        ],
        "I4002": [
            "hit chat:2026-11-10",
            "invite_1v1 task",
            "invite_auto sms",  # SLA lapsed
            "~invite_auto wecom_private no_recipient, fell back",
            "nudge sms",
            "~nudge wecom_private no_recipient, fell back",
        ],
        "I4003": [],  # asks the brand for themselves ("这是什么牌子的"): no friend asked, no hit
        "I4004": [],  # no trigger phrase
        "I4005": [
            "hit chat:2026-11-11",
            "invite_1v1 task",
            "invite_auto wecom_private",
            "nudge wecom_private",
        ],  # skipped
    },
    "moving-house": {
        "H5001": ["hit orders:2026-11-02", "premium wecom_private", "consult task"],  # opened the list
        "H5002": ["hit orders:2026-11-03", "starter wecom_private"],
        "H5003": ["hit orders:2026-11-03", "starter wecom_private", "goal"],  # bought an air fryer: goal
        "H5004": [],  # a rice cooker is no move
        "H5005": ["hit orders:2026-11-04", "starter sms", "~starter wecom_private no_recipient, fell back"],
        "H5006": ["hit orders:2026-11-04"],  # refunded before the list: exit_on
    },
    "steamer-idle": {
        # answered twice: the tag is set once, so one hit
        "S3002": ["hit 担心闲置:si-007", "steam_oven wecom_private steam_oven", "week_plan wecom_private steam_oven"],
        "S3001": ["hit 担心闲置:si-008", "steamer wecom_private steamer", "week_plan wecom_private steamer"],
        "S3020": ["hit 担心闲置:si-009"],  # holdout
        "S3004": ["hit 价格敏感:si-010"],  # another answer, another tag: not this journey
        "S3005": [
            "hit 担心闲置:si-011",
            "steam_oven sms steam_oven",
            "~steam_oven wecom_private no_recipient, fell back",
        ],
        "S3006": ["hit 担心闲置:si-012", "steam_oven wecom_private steam_oven", "goal steam_oven"],  # bought: goal
    },
    "winback-dormant": {
        "W3001": ["gift_offer wecom_private B", "goal B"],  # came back: goal
        "W3002": ["coupon_offer wecom_private A", "reminder sms A"],
        "W3003": ["manager_call task", "reminder sms"],  # diamond, called
        "W3004": ["manager_call task", "vip_message wecom_private", "reminder sms"],  # after National Day
        "W3005": [],  # low value
        "W3006": [],  # active
        "W3007": ["coupon_offer wecom_private A", "~reminder sms consent"],
        "W3010": [],  # holdout
    },
    "car-service": {
        # 60 km a day (own readings): due by mileage at 30500 km, weeks before the 180 days; serviced: goal
        "C6001": ["hit service:2026-06-01T11:00:00+08:00", "card wecom_private", "confirm wecom_private", "goal"],
        # 8 km a day: due by time; the advisor's call led to a booking, then no service: a no-show call
        "C6002": [
            "hit service:2026-04-04T10:00:00+08:00",
            "card wecom_private",
            "advisor_call task",
            "confirm wecom_private",
            "no_show task",
        ],
        # one reading (40 km a day assumed), no WeCom id, reminded on a Friday afternoon: the card on Monday
        "C6003": [
            "hit service:2026-05-23T16:00:00+08:00",
            "card sms",
            "~card wecom_private no_recipient, fell back",
            "advisor_call task",
            "sms_card sms",
        ],
        "C6004": [],  # serviced again before due: the next reminder belongs to the new service
        "C6005": ["hit service:2026-05-21T10:00:00+08:00", "card wecom_private"],  # sold the car: exit_on
        "C6006": ["hit service:2026-05-22T10:00:00+08:00"],  # no model known: not entered
        # reminded on a Saturday: the card on the 调休 Sunday 09-20, a workday
        "C6007": ["hit service:2026-05-31T12:00:00+08:00", "card wecom_private", "confirm wecom_private", "goal"],
    },
    "fruit-day": {
        "F7001": [
            "coupon coupon",
            "announce wecom_private",
            "goal",  # redeemed the first week's coupon
            "coupon coupon",
            "announce wecom_private",
            "last_call wecom_private",
        ],
        "F7002": [
            "coupon coupon",
            "announce sms",
            "~announce wecom_private no_recipient, fell back",
            "coupon coupon",
            "announce sms",
            "~announce wecom_private no_recipient, fell back",
        ],
        "F7003": [],  # not in the fruit club
        "F7004": [
            "coupon coupon",
            "~announce wecom_private no_recipient, fell back",
            "~announce sms consent",
            "coupon coupon",
            "~announce wecom_private no_recipient, fell back",
            "~announce sms consent",
        ],
        "F7005": ["coupon coupon", "announce wecom_private", "last_call wecom_private"],  # joined after the 1st
    },
    "baby-stage": {
        "B8001": ["monthly wecom_private"] * 6,  # months 6-11
        "B8002": [
            "monthly sms",
            "~monthly wecom_private no_recipient, fell back",
            *["~monthly wecom_private no_recipient, fell back", "~monthly sms consent"] * 3,
        ],
        "B8003": [],  # no birth date
        "B8004": [],  # six months was before they joined
        "B8005": ["monthly wecom_private"] * 4,  # birth date corrected
    },
    "aftersales-care": {
        # low effort: thanked; a second ticket within the 7-day cooldown gets no second survey
        "A9001": ["survey wecom_private", "thanks wecom_private"],
        "A9002": ["survey wecom_private", "recovery_call task", "make_good wecom_private"],
        # no answer: called again 2 hours later, resolved
        "A9003": [
            "survey wecom_private",
            "recovery_call task",
            "recovery_call task",
            "make_good wecom_private",
        ],
        # no WeCom id: SMS; asked to be called back at 19:00, then the manager skipped it
        "A9004": [
            "survey sms",
            "~survey wecom_private no_recipient, fell back",
            "recovery_call task",
            "recovery_call task",
            "apology sms",
            "~apology wecom_private no_recipient, fell back",
        ],
        "A9005": ["survey wecom_private", "recovery_call task", "apology wecom_private"],
        "A9006": ["survey wecom_private"],  # never answered: the instance times out
        # the call was not made within the 4-hour SLA
        "A9007": ["survey wecom_private", "recovery_call task", "apology wecom_private"],
    },
    "member-group": {
        "G9101": ["welcome wecom_private", "invite wecom_private", "hello_in_group wecom_group"],  # joined that day
        "G9102": ["welcome wecom_private", "invite wecom_private", "reminder wecom_private"],  # never joined
        "G9103": [  # joined after the reminder
            "welcome wecom_private",
            "invite wecom_private",
            "reminder wecom_private",
            "hello_in_group wecom_group",
        ],
        "G9104": ["welcome wecom_private"],  # not a buyer: no invitation
        "G9105": ["welcome wecom_private", "invite wecom_private", "hello_in_group wecom_group"],  # re-added: once
    },
    "tier-benefits": {
        "T9201": ["hit 普通>银:2026-11-17T12:00:00+08:00", "benefits wecom_private"],
        "T9202": [
            "hit 普通>银:2026-11-17T12:00:00+08:00",
            "benefits wecom_private",
            "hit 银>金:2026-11-18T12:00:00+08:00",
            "gold_coupon coupon",
            "benefits wecom_private",
        ],
        "T9203": [  # up to 钻 in three days; the manager called, then the message
            "hit 普通>银:2026-11-17T12:00:00+08:00",
            "benefits wecom_private",
            "hit 银>金:2026-11-18T12:00:00+08:00",
            "gold_coupon coupon",
            "benefits wecom_private",
            "hit 金>钻:2026-11-19T12:00:00+08:00",
            "adviser_call task",
            "benefits wecom_private",
        ],
        "T9204": [  # 银 before the programme started: only 金 is announced
            "hit 普通>银:2026-11-10T12:00:00+08:00",
            "hit 银>金:2026-11-18T12:00:00+08:00",
            "gold_coupon coupon",
            "benefits wecom_private",
        ],
        "T9205": [  # 钻, the manager did not call within a day: the message goes anyway
            "hit 普通>银:2026-11-17T13:00:00+08:00",
            "benefits wecom_private",
            "hit 银>金:2026-11-18T13:00:00+08:00",
            "gold_coupon coupon",
            "benefits wecom_private",
            "hit 金>钻:2026-11-19T13:00:00+08:00",
            "adviser_call task",
            "benefits wecom_private",
        ],
        "T9207": [  # no WeCom id: SMS
            "hit 普通>银:2026-11-17T12:00:00+08:00",
            "benefits sms",
            "~benefits wecom_private no_recipient, fell back",
        ],
    },
    "new-to-loyal": {
        # first order before the programme: not welcomed; the second one is thanked with points
        "N9401": [
            "hit registered>new:2026-11-10T12:00:00+08:00",
            "hit new>loyal:2026-11-23T12:00:00+08:00",
            "thanks wecom_private",
            "credit webhook",
        ],
        # welcomed; no second order in a week: check-in with the coupon (churn risk 0.6)
        "N9402": ["hit registered>new:2026-11-22T12:00:00+08:00", "welcome wecom_private", "check_in wecom_private"],
        "N9403": [  # no WeCom id: SMS
            "hit registered>new:2026-11-22T12:00:00+08:00",
            "welcome sms",
            "~welcome wecom_private no_recipient, fell back",
            "check_in sms",
            "~check_in wecom_private no_recipient, fell back",
        ],
        "N9404": ["hit registered>new:2026-11-15T12:00:00+08:00"],  # before the programme started
    },
    "complaint": {
        "K9501": ["acknowledge wecom_private", "associate_call task", "goal"],  # called back, resolved next day
        # severe; the store manager let 2 hours pass: the area manager called; resolved
        "K9502": ["acknowledge wecom_private", "manager_call task", "escalate task", "goal"],
        # called back; another complaint's resolution does not count; still open 3 days later: chase
        "K9503": ["acknowledge wecom_private", "associate_call task", "chase task"],
        "K9504": [  # no WeCom id: SMS acknowledgement; resolved the same day
            "acknowledge sms",
            "manager_call task",
            "~acknowledge wecom_private no_recipient, fell back",
            "goal",
        ],
    },
    "returns": {
        "V9601": ["instructions wecom_private", "refunded wecom_private"],  # received, refunded
        "V9602": ["instructions wecom_private", "exchange_sent wecom_private"],  # an exchange
        "V9603": [  # no WeCom id; not picked up in 2 days; received, but no refund in 3 days: a task
            "instructions sms",
            "~instructions wecom_private no_recipient, fell back",
            "pickup_reminder sms",
            "~pickup_reminder wecom_private no_recipient, fell back",
            "refund_late task",
        ],
        "V9604": ["instructions wecom_private"],  # cancelled: exit_on
    },
    "nps-detractor": {
        # scored 3; resolved on the call: a coupon; asked again a month later, answered 9: the goal
        "N9001": [
            "hit store:nps-011",
            "manager_call task",
            "make_good wecom_private",
            "ask_again wecom_private",
            "goal",
        ],
        # no WeCom id; the manager skipped the call: apology and the new question by SMS
        "N9002": [
            "hit delivery:nps-012",
            "manager_call task",
            "apology sms",
            "~apology wecom_private no_recipient, fell back",
            "ask_again sms",
            "~ask_again wecom_private no_recipient, fell back",
        ],
        # a promoter (10) in October fell to 2: the task says so; declined the call: apology
        "N9003": ["hit store:nps-014", "manager_call task", "apology wecom_private", "ask_again wecom_private"],
        "N9004": [],  # 8: a passive hit only
        "N9005": [],  # 9: a promoter hit only
        # not called within 24 hours: apology; a second low score inside the 30-day cooldown enters nothing
        "N9006": [
            "hit store:nps-017",
            "manager_call task",
            "apology wecom_private",
            "hit store:nps-018",
            "ask_again wecom_private",
        ],
        "N9007": [],  # 42: off the 0-10 scale, no hit
    },
    "trade-up": {
        # five months after the S1, the S3 offer with the S1's filter; clicked: the associate's task; upgraded
        "T9001": ["offer wecom_private", "pick_up task", "goal"],
        "T9002": ["goal"],  # upgraded on their own in May: no offer
        "T9003": ["offer sms", "~offer wecom_private no_recipient, fell back"],  # no WeCom id: no last call
        "T9004": ["offer wecom_private", "last_call wecom_private"],  # never clicked
        "T9005": [],  # only a filter: nothing to upgrade from
        "T9006": ["offer wecom_private", "last_call wecom_private"],  # two S1 orders, one offer (reentry: never)
    },
}
FAILED_STEPS = {"replenish": ["remind"]}  # a step failure names the instance, not the customer


@pytest.fixture(scope="module")
def world() -> World:
    return load_world(Settings(xo_journeys_dir=JOURNEYS, xo_templates_dir=TEMPLATES))[1]


def _cli(events: Path, until: str, out: Path) -> bytes:
    """`orchestrator simulate`, exactly as an operator runs it."""
    args = ["simulate", "--journeys", str(JOURNEYS), "--templates", str(TEMPLATES)]
    assert main([*args, "--events", str(events), "--until", until, "--out", str(out)]) == 0
    return out.read_bytes()


def _in_process(world: World, lines: list[bytes], until: str) -> bytes:
    return b"".join(r + b"\n" for r in simulate(world, lines, datetime.fromisoformat(until)).records)


def _story(output: bytes, scenario: str | None) -> tuple[dict[str, list[str]], list[str], set[str]]:
    """Per customer what happened (hits of the journey's own scenario only), the failed steps, the journeys."""
    story: dict[str, list[str]] = {}
    failed: list[str] = []
    journeys: set[str] = set()
    for line in output.splitlines():
        record = orjson.loads(line)
        if "action_id" in record:
            ref = record["journey"]
            journeys.add(ref["id"])
            told = " ".join(p for p in (ref["step"], record["channel"], ref["variant"]) if p)
            story.setdefault(record["customer_id"], []).append(told)
        elif "hit_id" in record:
            if record["scenario"] != scenario:
                continue
            story.setdefault(record["customer_id"], []).append(f"hit {record['occurrence']}")
        elif "conversion" in record:
            c = record["conversion"]
            story.setdefault(c["customer_id"], []).append(f"goal {c['variant'] or ''}".rstrip())
        elif "suppressed" in record:
            s = record["suppressed"]
            journeys.add(s["journey_id"])
            story.setdefault(s["customer_id"], []).append(f"~{s['step']} {s['channel']} {s['reason']}")
        else:
            failed.append(record["step_failure"]["step"])
            journeys.add(record["step_failure"]["journey_id"])
    return story, failed, journeys


def test_every_journey_has_recorded_events_and_a_golden(world: World) -> None:
    journeys = {j.id for j in world.journeys}
    assert journeys == set(UNTIL) == set(STORIES)
    assert {p.stem for p in EVENTS.glob("*.jsonl")} == journeys
    if not UPDATE:
        assert {p.stem for p in GOLDEN.glob("*.jsonl")} == journeys


@pytest.mark.parametrize("journey", sorted(UNTIL))
def test_simulate_matches_the_golden(journey: str, world: World, tmp_path: Path) -> None:
    events = EVENTS / f"{journey}.jsonl"
    output = _cli(events, UNTIL[journey], tmp_path / "out.jsonl")
    again = _in_process(world, events.read_bytes().splitlines(), UNTIL[journey])
    assert again == output, "two runs of the same events gave different bytes"
    golden = GOLDEN / f"{journey}.jsonl"
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(output)
    trigger = world.newest[journey].trigger
    story, failed, journeys = _story(output, getattr(trigger, "scenario", None))
    assert journeys <= {journey}, "a fixture's customers should only meet their own journey"
    assert story == {c: told for c, told in STORIES[journey].items() if told}
    assert failed == FAILED_STEPS.get(journey, [])
    assert output == golden.read_bytes(), f"simulate output differs from {golden.relative_to(REPO)}"


def test_customers_of_different_fixtures_do_not_interfere(world: World) -> None:
    """All fixtures in one run: every golden record is among its records (it only adds later ones)."""
    lines = [line for j in sorted(UNTIL) for line in (EVENTS / f"{j}.jsonl").read_bytes().splitlines()]
    produced = Counter(_in_process(world, lines, max(UNTIL.values())).splitlines())
    for journey in sorted(UNTIL):
        missing = Counter((GOLDEN / f"{journey}.jsonl").read_bytes().splitlines()) - produced
        assert not missing, f"{journey}: {sorted(missing)[:3]}"
