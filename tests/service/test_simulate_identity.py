"""OneID in simulate: an event that names only identifiers its customer owns skips the full
check, and the dry run writes the same bytes as when every event goes through it."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.bootstrap import load_world
from orchestrator.core import World
from orchestrator.service.simulate import Simulation, simulate
from orchestrator.service.simulate_identity import SimIdentity
from orchestrator.settings import Settings
from tests.oneid_bus import event

REPO = Path(__file__).resolve().parents[2]
PHONE = "13800000001"


@pytest.fixture(scope="module")
def world() -> World:
    settings = Settings(xo_journeys_dir=REPO / "journeys", xo_templates_dir=REPO / "templates", xo_contact_policy="off")
    return load_world(settings)[1]


def _order(id_: str, days_ago: float, **identity: str) -> bytes:
    data = {"order_id": f"O-{id_}", "amount": 199.0, "items": [{"sku": "PRO-900", "qty": 1}]}
    return event(id_, "order.paid", days_ago, data, **identity)


LINES = [
    event("w-hello", "chat.message", 9, {"text": "你好"}, wecom_external_id="wmX"),
    _order("m-1", 8, member_id="M2002", phone=PHONE),
    _order("m-2", 7, member_id="M2002", phone=PHONE),  # owned already: settled
    _order("m-3", 6.5, member_id="M2002"),  # owned already: settled
    _order("m-4", 6, member_id="M2002", phone="12"),  # a malformed phone beside the member id: refused
    _order("m-5", 5.5, member_id="M2002", phone="400-820-8820"),  # a blocked phone: refused
    _order("m-6", 5, member_id="M2002", phone="13900000002"),  # a second phone: a new link
    event("link", "identity.linked", 4, {}, member_id="M2002", wecom_external_id="wmX"),  # a merge
    event("w-again", "chat.message", 3, {"text": "蛋白粉快吃完了"}, wecom_external_id="wmX"),
    _order("other", 2, member_id="M3003", phone=PHONE),  # a family phone: refused
    _order("other-2", 1, member_id="M3003"),  # owned already: settled
]


def _outputs(sim: Simulation) -> tuple[list[bytes], list[bytes], list[bytes]]:
    return sim.records, sim.log, sim.dump_states()


def test_settled_events_skip_the_check_and_change_nothing(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    answers: list[bool] = []
    settled = SimIdentity.settled

    def counted(self: SimIdentity, *args: object) -> bool:
        answers.append(settled(self, *args))  # type: ignore[arg-type]
        return answers[-1]

    monkeypatch.setattr(SimIdentity, "settled", counted)
    fast = simulate(world, LINES)
    assert answers.count(True) >= 3  # the repeated orders of M2002 and M3003
    assert answers.count(False) >= 6  # first sight, malformed, blocked, new phone, linked, family phone
    monkeypatch.setattr(SimIdentity, "settled", lambda *_: False)
    full = simulate(world, LINES)
    assert _outputs(fast) == _outputs(full)
    assert any(b"link_refused" in r for r in full.records)
    assert any(b'"merged"' in r for r in full.records)
