"""The CDNOW purchase history, read from the ``lifetimes`` wheel without importing ``lifetimes``.

CDNOW_master.txt: 69,659 purchases by the 23,570 customers who first bought at CDNOW in
the first quarter of 1997, until the end of June 1998: customer id, date (YYYYMMDD),
number of CDs, dollars. Installed with ``pip install --no-deps lifetimes==0.11.3``
(importing the package would pull pandas; only the data file is read).
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

from orchestrator.core import Event, parse_event

DATA_FILE = "lifetimes/datasets/CDNOW_master.txt"
CATEGORY = "cd"


@dataclass(frozen=True)
class Purchase:
    customer: str
    day: date
    cds: int
    dollars: float

    @property
    def at(self) -> datetime:
        return datetime.combine(self.day, time(12), UTC)  # the file has dates only: noon


def data_path() -> Path:
    try:
        distribution = importlib.metadata.distribution("lifetimes")
    except importlib.metadata.PackageNotFoundError as exc:
        hint = "CDNOW ships in the lifetimes wheel: .venv/bin/pip install --no-deps lifetimes==0.11.3"
        raise SystemExit(hint) from exc
    return Path(str(distribution.locate_file(DATA_FILE)))


def read_purchases(path: Path | None = None) -> list[Purchase]:
    purchases = []
    with (path or data_path()).open(encoding="utf-8") as lines:
        for line in lines:
            fields = line.split()
            if len(fields) != 4 or not fields[0].isdigit():
                continue  # the header
            customer, day, cds, dollars = fields
            purchases.append(Purchase(customer, datetime.strptime(day, "%Y%m%d").date(), int(cds), float(dollars)))  # noqa: DTZ007 - a date, no time of day
    return purchases


def as_events(purchases: list[Purchase]) -> list[Event]:
    """One order.paid per line, in file order; the customer's n-th line is order n."""
    seen: dict[str, int] = {}
    events = []
    for purchase in purchases:
        n = seen[purchase.customer] = seen.get(purchase.customer, 0) + 1
        order_id = f"{purchase.customer}-{n}"
        events.append(
            parse_event(
                {
                    "id": order_id,
                    "type": "order.paid",
                    "time": purchase.at.isoformat(),
                    "identity": {"member_id": purchase.customer},
                    "data": {
                        "order_id": order_id,
                        "amount": purchase.dollars,
                        "items": [{"sku": "CD", "category": CATEGORY, "qty": max(purchase.cds, 1), "name": "CD"}],
                    },
                }
            )
        )
    return events
