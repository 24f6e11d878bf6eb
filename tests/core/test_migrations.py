"""Stored states of earlier releases load, upgrade and keep running; newer or broken ones are refused."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from orchestrator.bootstrap import load_world
from orchestrator.core import CustomerState, World, dedupe, packing, process
from orchestrator.core.migrations import (
    STEPS,
    StateTooNew,
    StateUnreadable,
    dump_state,
    load_state,
    pack_state,
    upgrade,
)
from orchestrator.core.state import SEEN_WINDOW, STATE_SCHEMA
from orchestrator.core.view import plain
from orchestrator.settings import Settings
from tests.builders import NOW, make_event

REPO = Path(__file__).resolve().parents[2]
RELEASE_0_1_0 = REPO / "tests" / "fixtures" / "states" / "release-0.1.0.jsonl"
FORM_1 = REPO / "tests" / "fixtures" / "states" / "form-1.jsonl"
FIELDS_ADDED_SINCE_0_1_0 = ("forgotten_at", "identifiers", "redirect_to")  # forms 1 (erasure) and 2 (OneID)


def _legacy(ids: list[str]) -> list[str]:
    """Ids seen before form 4, as form 5 keeps them: hashed, with no content digest."""
    return [dedupe.id_hash(i) + dedupe.LEGACY for i in dict.fromkeys(ids)][-SEEN_WINDOW:]


def _old_states() -> list[bytes]:
    return [line for line in RELEASE_0_1_0.read_bytes().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def world() -> World:
    return load_world(Settings(xo_journeys_dir=REPO / "journeys", xo_templates_dir=REPO / "templates"))[1]


def test_every_form_has_a_step_to_the_next() -> None:
    assert sorted(STEPS) == list(range(STATE_SCHEMA))


def test_release_0_1_0_states_load_unchanged_but_for_the_form() -> None:
    lines = _old_states()
    assert len(lines) >= 50  # the fixture: every customer of the recorded example events
    for raw in lines:
        old = json.loads(raw)
        assert "schema_version" not in old
        state = load_state(raw)
        assert state.schema_version == STATE_SCHEMA
        again = plain(state)
        assert again["profile"].pop("owner") is None  # form 3 (tests/core/test_staff.py)
        del again["schema_version"]
        for added in FIELDS_ADDED_SINCE_0_1_0:
            del again[added]
        del again["profile"]["consent_at"]  # form 2: no decision times for older consent
        assert again.pop("seen_digests") == _legacy(old.pop("seen"))  # forms 4, 5: ids hashed, without digest
        assert again.pop("seen") == []  # form 5: merge steps only
        assert again == old


def test_upgraded_states_run_through_todays_journeys(world: World) -> None:
    later = NOW + timedelta(days=400)  # after every recorded event
    for raw in _old_states():
        state = load_state(raw)
        member = state.profile.identity.get("member_id", state.customer_id)
        chat = make_event("chat.message", later, {"text": "蛋白粉快吃完了"}, id_="after-upgrade", member=member)
        outcome = process(state, chat, later, world)
        assert outcome.state.version == state.version + 1
        assert load_state(dump_state(outcome.state)) == outcome.state  # written back in today's form


def test_a_newer_form_is_refused_with_the_customer_named() -> None:
    doc = plain(CustomerState.new("C9"))
    doc["schema_version"] = STATE_SCHEMA + 1
    doc["a_field_from_the_future"] = 1
    with pytest.raises(StateTooNew, match=rf"state of C9: written in form {STATE_SCHEMA + 1}"):
        load_state(json.dumps(doc))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\xff not json", "not JSON"),
        (b"[1, 2]", "a JSON list, not an object"),
        (b'{"schema_version": "one", "customer_id": "C1"}', "state of C1: schema_version 'one' is not a version"),
        (b'{"schema_version": true}', "schema_version True is not a version"),
        (
            f'{{"schema_version": {STATE_SCHEMA}, "customer_id": "C1", "version": "x"}}'.encode(),
            r"state of C1: version: ",
        ),
        (
            b'{"schema_version": 1, "customer_id": "C1", "version": "x"}',
            r"state of C1: form 1 upgraded to \d+: version",
        ),
        (b'{"customer_id": "C2", "seen": 5}', r"state of C2: form 0 upgraded to \d+: seen: "),
        (b"[" * 100_000, "not JSON"),
    ],
)
def test_an_unreadable_state_says_what_and_whose(raw: bytes, message: str) -> None:
    with pytest.raises(StateUnreadable, match=message):
        load_state(raw)


def test_upgrade_applies_steps_in_order() -> None:
    assert upgrade({"customer_id": "C1"}, 0) == {
        "schema_version": STATE_SCHEMA,
        "customer_id": "C1",
        "forgotten_at": None,
        "identifiers": [],
        "redirect_to": None,
        "seen": [],
        "seen_digests": [],
    }
    assert upgrade({"schema_version": STATE_SCHEMA}, STATE_SCHEMA) == {"schema_version": STATE_SCHEMA}


def test_form_1_states_load_with_no_identifiers_claimed_and_no_redirect() -> None:
    lines = [line for line in FORM_1.read_bytes().splitlines() if line.strip()]
    assert lines
    for raw in lines:
        old = json.loads(raw)
        assert old["schema_version"] == 1
        state = load_state(raw)
        assert (state.schema_version, state.identifiers, state.redirect_to) == (STATE_SCHEMA, (), None)
        again = plain(state)
        for added in ("schema_version", *FIELDS_ADDED_SINCE_0_1_0):
            again.pop(added)
        assert again["profile"].pop("owner") is None  # form 3
        assert again["profile"].pop("consent_at") == {}
        assert again.pop("seen_digests") == _legacy(old.pop("seen"))  # forms 4, 5
        assert again.pop("seen") == []
        del old["schema_version"]
        assert again == old


def test_the_stored_form_leaves_out_the_fields_at_their_default_and_reads_back_equal(world: World) -> None:
    fixtures = REPO / "tests" / "fixtures" / "states"
    states = [load_state(line) for path in sorted(fixtures.glob("*.jsonl")) for line in path.read_bytes().splitlines()]
    fresh = CustomerState.new("C1")
    chat = make_event("chat.message", NOW, {"text": "蛋白粉快吃完了"}, id_="c1", member="C1")
    processed = process(fresh, chat, NOW, world).state
    reset = processed.model_copy(update={"version": 0, "segments": {}})  # set back to defaults: left out too
    for state in [*states, fresh, processed, reset]:
        stored = dump_state(state)
        assert load_state(stored) == state
        assert len(stored) <= len(json.dumps(plain(state), ensure_ascii=False, separators=(",", ":")))
        assert packing.unpack(pack_state(state)) == stored.encode()  # packed: the same stored form
        assert load_state(pack_state(state)) == state
    assert json.loads(dump_state(fresh)) == {"schema_version": STATE_SCHEMA, "customer_id": "C1", "profile": {}}
    assert not {"version", "segments"} & set(json.loads(dump_state(reset)))
    assert len(dump_state(processed)) < len(json.dumps(plain(processed), ensure_ascii=False)) * 0.9
