"""The mature customers' history and the mature mix: in event-time order per customer, no repeated ids."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from bench.perf import mature

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def _events(records: list[tuple[str, bytes]]) -> list[tuple[str, dict[str, object]]]:
    return [(cid, orjson.loads(value)) for cid, value in records]


def test_history_keeps_each_customers_events_in_time_order_across_chunks() -> None:
    chunks = [_events(mature.history(5, chunk, 10, NOW, seed=1)) for chunk in range(3)]
    assert all(len(chunk) == 50 for chunk in chunks)
    first = chunks[0]
    for index in range(5):
        cid = mature.cid_of(index)
        mine = [e for chunk in chunks for c, e in chunk if c == cid]
        assert mine[0]["type"] == "customer.registered"
        assert [e["time"] for e in mine] == sorted(e["time"] for e in mine)
        assert all(e["identity"]["member_id"] == cid for e in mine)  # type: ignore[index]
    assert [c for c, _ in first] != sorted(c for c, _ in first)  # customers interleaved
    ids = [e["id"] for chunk in chunks for _, e in chunk]
    assert len(ids) == len(set(ids))


def test_the_mature_mix_is_after_the_history_and_has_new_ids() -> None:
    records = _events(mature.measured(5, 200, NOW, seed=1))
    assert len(records) == 200
    assert {c for c, _ in records} <= {mature.cid_of(i) for i in range(5)}
    assert all(str(e["id"]).split("-")[1].startswith("m") for _, e in records)
    assert len({e["id"] for _, e in records}) == 200
    history = _events(mature.history(5, 7, 10, NOW, seed=1))
    assert max(str(e["time"]) for _, e in history) < min(str(e["time"]) for _, e in records)


def test_sizes_pick_quantiles() -> None:
    sizes = mature.Sizes.of(list(range(1, 101)))
    assert (sizes.p10, sizes.median, sizes.p90, sizes.max) == (11, 50, 90, 100)
    assert mature.Sizes.of([]).max == 0
