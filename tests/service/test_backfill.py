"""Backfill folds history into profiles and detectors, enters no journey, sends nothing, and resumes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pytest

from orchestrator.adapters.memory_store import MemoryStore
from orchestrator.bootstrap import load_world
from orchestrator.cli import main
from orchestrator.core import World, parse_event, process
from orchestrator.service import codec
from orchestrator.service.backfill import fold_history, write_states
from orchestrator.service.simulate import simulate
from orchestrator.settings import Settings

REPO = Path(__file__).resolve().parents[2]
EVENTS = REPO / "tests" / "fixtures" / "events"
UNTIL = datetime.fromisoformat("2026-12-30T10:00:00+08:00")  # daytime: no quiet hours


@pytest.fixture(scope="module")
def world() -> World:
    return load_world(Settings(xo_journeys_dir=REPO / "journeys", xo_templates_dir=REPO / "templates"))[1]


def _lines(*names: str) -> list[bytes]:
    return [line for n in names for line in (EVENTS / f"{n}.jsonl").read_bytes().splitlines() if line.strip()]


def test_history_builds_profiles_and_detectors_but_enters_no_journey(world: World) -> None:
    lines = _lines("replenish", "moving-house")
    history = fold_history(world, lines, UNTIL)
    live = simulate(world, lines, UNTIL)
    assert set(history.states) == set(live.states)
    assert sum(history.would_send.values()) == len(live.actions) > 0
    for cid, state in history.states.items():
        assert state.instances == {}
        assert state.send_log == ()
        assert all(not t.id.startswith("wait:") for t in state.timers.values())
        assert state.profile.orders == live.states[cid].profile.orders
        assert state.profile.purchases == live.states[cid].profile.purchases
        assert state.fired == live.states[cid].fired  # scenario occurrences are remembered: none fires again
        assert state.seen_digests == live.states[cid].seen_digests  # the events, by hash (form 5)


def test_live_traffic_continues_from_backfilled_profiles(world: World) -> None:
    lines = _lines("replenish")
    history = fold_history(world, lines, UNTIL)
    state = history.states["R3001"]
    for line in lines:  # the same history redelivered live: every event is a duplicate
        if b'"R3001"' in line:
            _, event = codec.decode_event(line)
            outcome = process(state, event, UNTIL, world)
            assert outcome.actions == ()
            state = outcome.state
    chat = parse_event(
        {
            "id": "after",
            "type": "chat.message",
            "time": UNTIL.isoformat(),
            "identity": {"member_id": "R3001"},
            "data": {"text": "蛋白粉快吃完了"},
        }
    )
    [action] = process(state, chat, UNTIL, world).actions  # a new moment: the journey acts on the history
    assert action.journey.id == "replenish"
    assert "蛋白粉" in action.content["text"]


async def test_writing_is_resumable_and_never_overwrites(world: World) -> None:
    history = fold_history(world, _lines("replenish", "car-service"), UNTIL)
    store = MemoryStore()
    first = dict(list(history.states.items())[:3])
    done = await write_states(store, first, lambda cid: 0)
    assert done.written == 3
    assert done.present == []
    again = await write_states(store, history.states, lambda cid: 1)
    assert again.written == len(history.states) - 3
    assert sorted(again.present) == sorted(first)
    assert store.states == history.states
    indexed = {(cid, tid) for part in store.timers.values() for cid, tid in part}
    expected = {(cid, t) for cid, s in history.states.items() for t in s.timers}
    assert indexed == expected


def test_the_command_reports_what_would_have_been_sent(capsys: pytest.CaptureFixture[str]) -> None:
    env_files: Sequence[str] = [str(EVENTS / "replenish.jsonl"), str(EVENTS / "fruit-day.jsonl")]
    assert main(["backfill", *env_files, "--dry-run", "--until", UNTIL.isoformat()]) == 0
    out = capsys.readouterr().out
    assert "journeys would have sent" in out
    assert "replenish" in out
    assert "none was sent" in out
    assert "dry run: nothing written" in out


def test_the_command_names_a_bad_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backfill", str(EVENTS / "replenish.jsonl"), "--dry-run", "--until", "yesterday"]) == 2
    assert "--until 'yesterday' is not an ISO time" in capsys.readouterr().err
    assert main(["backfill", "/nonexistent.jsonl", "--dry-run"]) == 2
    assert "/nonexistent.jsonl: No such file" in capsys.readouterr().err
