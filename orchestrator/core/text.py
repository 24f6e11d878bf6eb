"""Chinese text as the core sees it: a segmentation port and a pure fallback.

The worker segments with jieba (``orchestrator.segmentation``, outside the core); the
core only needs ``cut``. ``DictionaryTokenizer`` is the deterministic stand-in when no
segmenter is wired (tests, tools): forward maximum matching over the configured words,
other Chinese characters one by one, Latin letters and digits as runs.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Protocol

_CLAUSE = re.compile(r"[,.!?;:~、。，！？；：～…\s\n]+")
_LATIN = re.compile(r"[a-z0-9]+")


class Tokenizer(Protocol):
    def cut(self, text: str) -> list[str]:
        """Split ``text`` into words that concatenate back to ``text``; called per chat clause.

        Must be deterministic for a given dictionary; it is never asked about anything but
        text, so a failure is a bug, not bad input.
        """
        ...


def normalize(text: str) -> str:
    """Full-width forms to half-width (NFKC) and lower case, so that ＯＫ，and OK, match alike."""
    return unicodedata.normalize("NFKC", text).lower()


def clauses(text: str) -> list[str]:
    """A line split at punctuation and spaces: a negation never reaches across a comma."""
    return [c for c in _CLAUSE.split(normalize(text)) if c]


def asked(text: str) -> list[bool]:
    """For each of ``clauses(text)``: whether a question mark ends it (要搬家？ asks; 要搬家了 tells)."""
    line = normalize(text)
    found: list[bool] = []
    at = 0
    for mark in _CLAUSE.finditer(line):
        if mark.start() > at:
            found.append("?" in mark.group())
        at = mark.end()
    if at < len(line):
        found.append(False)
    return found


class DictionaryTokenizer:
    """Forward maximum matching over ``words``; the core's fallback when no segmenter is wired."""

    def __init__(self, words: Iterable[str]) -> None:
        self._words = frozenset(normalize(w) for w in words if w)
        self._longest = max((len(w) for w in self._words), default=1)

    def cut(self, text: str) -> list[str]:
        tokens: list[str] = []
        index = 0
        while index < len(text):
            token = self._word_at(text, index)
            tokens.append(token)
            index += len(token)
        return tokens

    def _word_at(self, text: str, index: int) -> str:
        for size in range(min(self._longest, len(text) - index), 1, -1):
            if text[index : index + size] in self._words:
                return text[index : index + size]
        latin = _LATIN.match(text, index)
        return latin.group(0) if latin else text[index]
