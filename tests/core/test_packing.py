"""Packed states: zstd with a fixed dictionary behind a header byte; plain JSON still loads."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.core import CustomerState, packing
from orchestrator.core.migrations import StateTooNew, StateUnreadable, dump_state, load_state, pack_state
from orchestrator.core.packing_dict_1 import DICTIONARY
from orchestrator.core.state import STATE_SCHEMA

STATES = Path(__file__).resolve().parents[1] / "fixtures" / "states"
# A codec's dictionary never changes: states packed with it must stay readable. A new
# dictionary is a new codec (the next header byte), never an edit of this one.
DICTIONARY_1_SHA256 = "55dde2f1a113892adcebeb6252e351ff064e195300d9f70420643e96d21518f3"


def _lines(name: str) -> list[bytes]:
    return [line for line in (STATES / name).read_bytes().splitlines() if line.strip()]


def _states() -> list[CustomerState]:
    return [load_state(raw) for raw in _lines("form-4.jsonl")]


def test_dictionary_1_is_the_one_states_were_packed_with() -> None:
    assert hashlib.sha256(DICTIONARY).hexdigest() == DICTIONARY_1_SHA256
    assert len(DICTIONARY) == 4096


def test_states_round_trip_packed_and_come_out_smaller() -> None:
    states = _states()
    assert len(states) >= 50
    for state in states:
        raw = pack_state(state)
        assert raw[0] == packing.ZSTD_1
        assert load_state(raw) == state
        assert packing.unpack(raw) == dump_state(state).encode()  # the same stored form inside
    packed = sum(len(pack_state(s)) for s in states)
    plain = sum(len(dump_state(s).encode()) for s in states)
    assert packed * 3 < plain


def test_plain_json_states_still_load() -> None:
    """What releases before packing wrote (any form) loads as it did."""
    for raw in [*_lines("release-0.1.0.jsonl"), *_lines("form-4.jsonl")]:
        assert not packing.is_packed(raw)
        assert load_state(raw).schema_version == STATE_SCHEMA
    state = _states()[0]
    assert load_state(dump_state(state).encode()) == state


def test_an_older_form_packed_upgrades_as_plain_json_does() -> None:
    """Packing is below the stored form: a packed form-4 state takes the same steps."""
    raw = _lines("form-4.jsonl")[0]
    assert load_state(packing.pack(raw)) == load_state(raw)


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda raw: raw[:-3], ""),  # truncated
        (lambda raw: raw[:20] + bytes([raw[20] ^ 0xFF]) + raw[21:], ""),  # bits flipped
        (lambda raw: raw[:-1] + bytes([raw[-1] ^ 0x01]), ""),  # the checksum no longer fits
        (lambda raw: b"\x01", "not a zstd frame"),  # a header and nothing
        (lambda raw: b"\x01" + b"not a frame at all", "not a zstd frame"),
    ],
)
def test_corrupt_packed_bytes_are_unreadable_naming_the_customer(mangle: object, message: str) -> None:
    raw = pack_state(_states()[0])
    assert callable(mangle)
    with pytest.raises(StateUnreadable, match=rf"state of C9: packed bytes do not unpack \(codec 1: {message}"):
        load_state(mangle(raw), "C9")


def test_packed_bytes_that_are_not_a_state_say_so_and_whose() -> None:
    with pytest.raises(StateUnreadable, match=r"state of C9: not JSON"):
        load_state(packing.pack(b"not json"), "C9")
    with pytest.raises(StateUnreadable, match=r"state of C9: a JSON list"):
        load_state(packing.pack(b"[1, 2]"), "C9")


def test_a_codec_this_release_does_not_know_is_refused_as_too_new() -> None:
    """A newer release's codec: retried until one of those owns the customer, never overwritten."""
    frame = pack_state(_states()[0])[1:]
    for codec in (0, 2, 8):
        with pytest.raises(StateTooNew, match=f"state of C9: packed with codec {codec}; this release reads"):
            load_state(bytes([codec]) + frame, "C9")


def test_an_oversized_content_size_is_refused_before_unpacking(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = pack_state(_states()[0])
    monkeypatch.setattr(packing, "MAX_UNPACKED", 100)
    with pytest.raises(StateUnreadable, match=r"content size \d+ is not within 0–100 bytes"):
        load_state(raw, "C9")


def test_json_never_starts_with_a_codec_byte() -> None:
    for start in b' \t\r\n{["0-tfn':
        assert start not in packing.CODECS
    assert json.dumps({"a": 1}).encode()[0] not in packing.CODECS


def test_every_thread_packs_with_its_own_tools() -> None:
    state = _states()[1]
    results: list[bytes] = []
    threads = [threading.Thread(target=lambda: results.append(pack_state(state))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [pack_state(state)] * 4
    assert all(load_state(raw) == state for raw in results)


@given(st.binary(max_size=4096))
def test_any_bytes_round_trip(text: bytes) -> None:
    assert packing.unpack(packing.pack(text)) == text
