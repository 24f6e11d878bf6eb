"""`orchestrator replay` after a detector rule change: a diff first, then the same figures as a fresh fold."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from redis.asyncio import Redis

from orchestrator.cli import main
from orchestrator.core.migrations import load_state

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
EVENTS = REPO / "tests" / "fixtures" / "events"
FILES = [str(EVENTS / n) for n in ("replenish.jsonl", "car-service.jsonl", "winback-dormant.jsonl", "fruit-day.jsonl")]


async def _cli(*args: str) -> int:
    return await asyncio.to_thread(main, list(args))


async def _states(redis_client: Redis, prefix: str) -> dict[str, object]:
    keys = await redis_client.keys(f"{prefix}:{{*}}:state")
    return {k.decode(): load_state(await redis_client.hget(k, "s")) for k in keys}


@pytest.fixture
def journeys(tmp_path: Path, redis_url: str, prefix: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the shipped journeys to change rules in, and the environment of the commands."""
    journeys = tmp_path / "journeys"
    shutil.copytree(REPO / "journeys", journeys)
    for name, value in {
        "REDIS_URL": redis_url,
        "XO_TOPIC_PREFIX": prefix,
        "XO_PARTITIONS": "2",
        "XO_JOURNEYS_DIR": str(journeys),
        "XO_TEMPLATES_DIR": str(REPO / "templates"),
    }.items():
        monkeypatch.setenv(name, value)
    return journeys


async def test_a_rule_change_is_diffed_then_applied(
    journeys: Path,
    redis_client: Redis,
    prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert await _cli("backfill", *FILES) == 0  # up to now: replay judges as of now
    assert await _cli("replay") == 0
    assert "would change 0" in capsys.readouterr().out  # rules unchanged: nothing to recompute

    scenarios = journeys / "scenarios.yaml"  # the fix: loyal from 3 orders, dormant after 20 days
    text = scenarios.read_text().replace("loyal_min_orders: 2", "loyal_min_orders: 3")
    scenarios.write_text(text.replace("dormant: {factor: 2.0, min_days: 45}", "dormant: {factor: 1.0, min_days: 20}"))
    before = await _states(redis_client, prefix)
    assert await _cli("replay") == 0
    diff = capsys.readouterr().out
    assert "lifecycle " in diff
    assert "dry run: nothing written" in diff
    assert await _states(redis_client, prefix) == before

    assert await _cli("replay", "--apply") == 0
    applied = capsys.readouterr().out
    changed = int(applied.split("now changed ")[1].split()[0])
    assert changed > 0
    assert f"wrote {changed}; 0 changed meanwhile" in applied
    assert await _cli("replay") == 0
    assert "would change 0" in capsys.readouterr().out  # converged

    refolded_prefix = f"{prefix}x"  # the same history folded from scratch under the new rules
    monkeypatch.setenv("XO_TOPIC_PREFIX", refolded_prefix)
    assert await _cli("backfill", *FILES) == 0  # up to now: replay judges as of now
    replayed = {k.split(":", 1)[1]: s.profile.lifecycle for k, s in (await _states(redis_client, prefix)).items()}  # type: ignore[attr-defined]
    fresh = {k.split(":", 1)[1]: s.profile.lifecycle for k, s in (await _states(redis_client, refolded_prefix)).items()}  # type: ignore[attr-defined]
    assert replayed == fresh
