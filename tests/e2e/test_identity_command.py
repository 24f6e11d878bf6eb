"""``orchestrator identity``: any identifier → the canonical customer and its identifiers."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.cli import main
from tests.oneid_bus import event

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XO_JOURNEYS_DIR", str(REPO / "journeys"))
    monkeypatch.setenv("XO_TEMPLATES_DIR", str(REPO / "templates"))
    monkeypatch.delenv("REDIS_URL", raising=False)
    path = tmp_path / "events.jsonl"
    path.write_bytes(
        b"\n".join(
            [
                event("w", "chat.message", 3, {"text": "你好"}, wecom_external_id="wmQ"),
                event("m", "customer.registered", 2, {}, member_id="M5", phone="138 0000 0005"),
                event("l", "identity.linked", 1, {}, phone="13800000005", wecom_external_id="wmQ"),
            ]
        )
    )
    return path


def test_a_phone_leads_to_the_member_and_its_merged_wecom_id(events: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["identity", "phone:138-0000-0005", "--events", str(events)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "phone:+8613800000005 → M5",
        "canonical id: M5",
        "  member_id:M5",
        "  phone:+8613800000005",
        "  wecom_external_id:wmQ",
    ]


def test_an_unknown_id_says_which_customer_it_would_make(events: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["identity", "M404", "--events", str(events)]) == 0
    assert (
        capsys.readouterr().out.strip()
        == "member_id:M404: not in the graph (an event carrying it would make customer M404)"
    )


def test_a_malformed_identifier_is_refused_with_the_reason(events: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["identity", "phone:12", "--events", str(events)]) == 2
    assert "identity.phone: '12' is not a phone number" in capsys.readouterr().err
