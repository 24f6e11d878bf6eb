"""The state-bytes benchmark's parts: every row round-trips a real state, the table prints both
states with the packed / json ratios; a candidate dictionary module holds the trained bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from bench import state_bytes, state_dictionary
from orchestrator.core.migrations import load_state
from orchestrator.core.packing_dict_1 import DICTIONARY

FORM_4 = Path(__file__).resolve().parents[1] / "fixtures" / "states" / "form-4.jsonl"


def test_the_table_has_every_row_for_both_states(capsys: pytest.CaptureFixture[str]) -> None:
    states = [load_state(raw) for raw in FORM_4.read_bytes().splitlines()[:2]]
    figures = state_bytes.measure({"fresh": states[0], "mature": states[1]}, rounds=1)
    for by_name in figures.values():
        assert set(by_name) == {
            "json",
            "packed",
            "packing alone (zstd-1)",
            "zlib-6 + same dictionary",
            "pydantic model (before msgspec)",
        }
        assert by_name["packed"]["bytes"] < by_name["json"]["bytes"]
        assert all(f["write_us"] > 0 and f["read_us"] > 0 for f in by_name.values())
    state_bytes.print_table(figures, {"loadavg_start": (1.0,), "loadavg_end": (1.0,), "others_cores": 0.5})
    out = capsys.readouterr().out
    assert out.count("packed / json") == 2
    assert "0.50 cores busy" in out


def test_a_candidate_dictionary_module_holds_the_bytes_and_their_digest() -> None:
    text = state_dictionary.module_text(DICTIONARY, 1, 4096, 886)
    namespace: dict[str, object] = {}
    exec(compile(text, "candidate.py", "exec"), namespace)  # noqa: S102 - the generated module's own code
    assert namespace["DICTIONARY"] == DICTIONARY
    assert hashlib.sha256(DICTIONARY).hexdigest() in text
    assert text == (Path(__file__).resolve().parents[2] / "orchestrator" / "core" / "packing_dict_1.py").read_text(
        encoding="utf-8"
    )
