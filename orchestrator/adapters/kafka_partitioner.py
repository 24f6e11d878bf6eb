"""Which partition a key lands on: the Java client's murmur2, as aiokafka and faust produce."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from aiokafka.partitioner import DefaultPartitioner, murmur2

REMEMBERED_KEYS = 1 << 16


def partition_for(key: str, partitions: int) -> int:
    hashed: int = murmur2(key.encode())
    return (hashed & 0x7FFFFFFF) % partitions


def _positive_murmur2(key: bytes) -> int:
    hashed: int = murmur2(key)
    return hashed & 0x7FFFFFFF


class CachedPartitioner:
    """aiokafka's DefaultPartitioner, the same partition for every key, with the hashes of recent
    keys remembered: murmur2 is pure Python (a few µs), and a worker produces many records
    under one customer's id (actions, hits, the journey log) batch after batch."""

    def __init__(self, remembered: int = REMEMBERED_KEYS) -> None:
        self._hash = functools.lru_cache(maxsize=remembered)(_positive_murmur2)

    def __call__(self, key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]) -> int:
        if key is None:  # no key: a random available partition, as the default does
            partition: int = DefaultPartitioner()(key, all_partitions, available)
            return partition
        return all_partitions[self._hash(key) % len(all_partitions)]
