"""The identity graph in memory, for ``simulate`` and tests; passes the same contract suite as Redis.

It lives in the service layer (not ``adapters``) because ``simulate``, a service, runs on it."""

from __future__ import annotations

from collections.abc import Sequence


class MemoryIdentityGraph:
    def __init__(self) -> None:
        self.owners: dict[str, str] = {}

    async def resolve(self, keys: Sequence[str]) -> dict[str, str]:
        return {k: self.owners[k] for k in keys if k in self.owners}

    async def claim(self, claims: Sequence[tuple[str, str]]) -> dict[str, str]:
        return {key: self.owners.setdefault(key, cid) for key, cid in claims}

    async def repoint(self, moves: Sequence[tuple[str, str, str]]) -> None:
        for key, old, new in moves:
            if self.owners.get(key) == old:
                self.owners[key] = new

    async def drop(self, owned: Sequence[tuple[str, str]]) -> None:
        for key, owner in owned:
            if self.owners.get(key) == owner:
                del self.owners[key]
