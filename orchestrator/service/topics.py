"""Topic names, all under one prefix."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topics:
    prefix: str = "xo"

    @property
    def events(self) -> str:
        return f"{self.prefix}.events"

    @property
    def by_customer(self) -> str:
        return f"{self.prefix}.events.by-customer"

    @property
    def scenarios(self) -> str:
        return f"{self.prefix}.scenarios"

    @property
    def dlq(self) -> str:
        return f"{self.prefix}.events.dlq"

    @property
    def journey_log(self) -> str:
        return f"{self.prefix}.journey-log"

    def actions(self, channel: str) -> str:
        return f"{self.prefix}.actions.{channel}"

    @property
    def identity(self) -> str:
        """OneID: refused links and merges, with their reasons."""
        return f"{self.prefix}.identity"
