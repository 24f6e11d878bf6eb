"""The bytes a stored state is kept in: plain JSON, or that JSON packed by zstd with a fixed dictionary.

    {…}                  plain JSON: every release reads it (earlier releases wrote only this)
    0x01 <zstd frame>    codec 1: zstd level 1 with dictionary 1 (``packing_dict_1.py``); the frame
                         holds its content size and a checksum, not the dictionary's id (the
                         header byte names the dictionary)

The first byte says which. JSON never starts with a byte below 0x09 (its whitespace starts
there), so 0x00–0x08 are codec numbers: a codec this release does not know was written by a
newer one (``UnknownCodec``; the reader refuses it and writes nothing over it). Packing is not
a change of the stored form: what is packed is the same JSON that ``migrations`` reads, so
``schema_version`` and its steps are untouched. A codec's dictionary never changes (its digest
is pinned in ``tests/core/test_packing.py``); a better one is the next codec, and the old ones
stay readable.

A fresh customer's state of ~1.5 kB packs into ~300 bytes in ~2.5 µs and unpacks in ~1.7 µs
(a mature one of ~40 kB: ~7 kB, ~62 and ~21 µs); ``make bench-state`` measures it.
"""

from __future__ import annotations

import threading

import zstandard

from orchestrator.core.packing_dict_1 import DICTIONARY as DICTIONARY_1

ZSTD_1 = 1
CODECS = range(0x00, 0x09)  # header bytes that name a codec (never the first byte of JSON)
LEVEL = 1  # a mature state (~40 kB) packs in ~60 µs at level 1, ~110 at 3, for ~2 % more bytes
MAX_UNPACKED = 8 * 1024 * 1024  # far above any state the per-customer caps allow (core/limits.py)
_HEADER_1 = bytes([ZSTD_1])


class PackingError(ValueError):
    """A packed value that cannot be unpacked."""


class UnknownCodec(PackingError):
    """Packed by a codec this release does not know (a newer release's)."""

    def __init__(self, codec: int) -> None:
        super().__init__(f"packed with codec {codec}; this release reads plain JSON and codec {ZSTD_1}")
        self.codec = codec


class _Tools(threading.local):
    """A compressor and a decompressor per thread (zstandard's objects are not thread-safe)."""

    def __init__(self) -> None:
        dictionary = zstandard.ZstdCompressionDict(DICTIONARY_1)
        self.compressor = zstandard.ZstdCompressor(
            level=LEVEL, dict_data=dictionary, write_checksum=True, write_content_size=True, write_dict_id=False
        )
        self.decompressor = zstandard.ZstdDecompressor(dict_data=dictionary)


_TOOLS = _Tools()


def pack(text: bytes) -> bytes:
    """``text`` (a stored state's JSON) packed with the current codec."""
    return _HEADER_1 + _TOOLS.compressor.compress(text)


def is_packed(raw: bytes) -> bool:
    return bool(raw) and raw[0] in CODECS


def unpack(raw: bytes) -> bytes:
    """The JSON of a stored value; plain JSON (or anything that is not packed) comes back as it is."""
    if not is_packed(raw):
        return raw
    if raw[0] != ZSTD_1:
        raise UnknownCodec(raw[0])
    frame = memoryview(raw)[1:]
    try:
        size = zstandard.frame_content_size(frame)
    except zstandard.ZstdError as exc:
        raise PackingError(f"codec {ZSTD_1}: not a zstd frame ({exc})") from exc
    if not 0 <= size <= MAX_UNPACKED:
        raise PackingError(f"codec {ZSTD_1}: content size {size} is not within 0–{MAX_UNPACKED} bytes")
    try:
        return _TOOLS.decompressor.decompress(frame)
    except zstandard.ZstdError as exc:
        raise PackingError(f"codec {ZSTD_1}: {exc}") from exc
