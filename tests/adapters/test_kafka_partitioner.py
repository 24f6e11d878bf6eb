"""The worker's producer partitioner picks the partition aiokafka's default would."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.adapters.kafka_partitioner import CachedPartitioner, partition_for


@given(st.binary(max_size=64), st.integers(min_value=1, max_value=64))
def test_a_key_lands_where_the_default_partitioner_puts_it(key: bytes, count: int) -> None:
    partitions = list(range(count))
    cached = CachedPartitioner(remembered=4)
    expected = DefaultPartitioner()(key, partitions, partitions)
    assert cached(key, partitions, partitions) == expected
    assert cached(key, partitions, partitions) == expected  # remembered: the same answer


def test_a_remembered_key_follows_the_partition_count() -> None:
    cached = CachedPartitioner()
    assert cached(b"M1001", list(range(8)), []) == partition_for("M1001", 8)
    assert cached(b"M1001", list(range(3)), []) == partition_for("M1001", 3)


def test_no_key_gets_an_available_partition() -> None:
    assert CachedPartitioner()(None, [0, 1, 2, 3], [2]) == 2
