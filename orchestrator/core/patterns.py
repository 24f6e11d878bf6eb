"""Word patterns for chat intents: who does what for whom, as slots of words in a clause.

A pattern is written as slots separated by spaces::

    给|帮|替 {people} ... 买|订|选      "给老人买的", "帮同事订的", "替朋友选了一台"
    {people} ... 问 ... 什么牌子|哪里买   "同事过来问这是什么牌子"
    吃完了? {meal}                       (as an ``unless`` pattern: "刚吃完了晚饭")

* ``a|b|c``  one of these words, starting and ending on word boundaries (a word may span
  several segmented words: 买给 matches 买 / 给);
* ``{name}`` one of the words of the class ``name`` (``chat.classes``);
* a trailing ``?`` makes the slot optional;
* ``...`` lets up to ``max_gap`` words come between its neighbours (otherwise they touch).

Matching is linear in the clause's length: one pass indexes the runs of words that start
at each boundary (at most ``LONGEST`` characters), a pattern is tried only where its first
word occurs, and from there the work is bounded by the pattern (its slots and the gap),
not by the text. ``Meter`` counts that work so that a test can prove it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

GAP = "..."
LONGEST = 30  # characters: no word or phrase is longer (scenario_spec.Word)


@dataclass
class Meter:
    """Counts slot attempts: the unit of matching work."""

    steps: int = 0


@dataclass(frozen=True)
class Slot:
    words: frozenset[str]
    lengths: tuple[int, ...]  # distinct word lengths, longest first
    optional: bool = False
    gap_before: bool = False


@dataclass(frozen=True)
class Pattern:
    text: str
    slots: tuple[Slot, ...]

    def words(self) -> frozenset[str]:
        return frozenset(w for slot in self.slots for w in slot.words)


def compile_pattern(text: str, classes: Mapping[str, tuple[str, ...]]) -> Pattern:
    """Parse a pattern; ValueError names what is wrong with it."""
    slots: list[Slot] = []
    gap = False
    for part in text.split():
        if part == GAP:
            if not slots or gap:
                raise ValueError(f"pattern {text!r}: '...' must stand between two slots")
            gap = True
            continue
        optional = part.endswith("?") and len(part) > 1
        words = _words(part.removesuffix("?") if optional else part, classes, text)
        lengths = tuple(sorted({len(w) for w in words}, reverse=True))
        slots.append(Slot(frozenset(words), lengths, optional, gap))
        gap = False
    if gap or not slots:
        raise ValueError(f"pattern {text!r}: needs a slot after '...'" if gap else "an empty pattern")
    if all(s.optional for s in slots):
        raise ValueError(f"pattern {text!r}: every slot is optional")
    return Pattern(text, tuple(slots))


def _words(part: str, classes: Mapping[str, tuple[str, ...]], text: str) -> list[str]:
    found: list[str] = []
    for alternative in part.split("|"):
        if alternative.startswith("{") and alternative.endswith("}"):
            name = alternative[1:-1]
            if name not in classes:
                raise ValueError(f"pattern {text!r}: unknown class {{{name}}} (chat.classes has {sorted(classes)})")
            found.extend(classes[name])
        elif alternative:
            found.append(alternative)
        else:
            raise ValueError(f"pattern {text!r}: an empty alternative in {part!r}")
    return found


@dataclass
class Clause:
    """A clause's text, its word boundaries, and where each word of ``vocabulary`` starts and
    ends on them: one pass over the text, after which a slot is a lookup."""

    text: str
    tokens: list[str]
    meter: Meter = field(default_factory=Meter)
    vocabulary: frozenset[str] | None = None  # None: every run of words (tools and tests)

    def __post_init__(self) -> None:
        if "".join(self.tokens) != self.text:  # a segmenter that drops or changes characters: use characters
            self.tokens = list(self.text)
        self.bounds = [0]
        for token in self.tokens:
            self.bounds.append(self.bounds[-1] + len(token))
        known = self.vocabulary
        longest = max((len(w) for w in known), default=0) if known is not None else LONGEST
        self.runs: list[list[tuple[str, int]]] = []  # per start boundary: (words, end boundary)
        self.starts: dict[str, list[int]] = {}  # words → start boundaries, in order
        for start in range(len(self.tokens)):
            here: list[tuple[str, int]] = []
            end = start + 1
            while end <= len(self.tokens) and self.bounds[end] - self.bounds[start] <= longest:
                self.meter.steps += 1
                words = self.text[self.bounds[start] : self.bounds[end]]
                if known is None or words in known:
                    here.append((words, end))
                    self.starts.setdefault(words, []).append(start)
                end += 1
            self.runs.append(here)

    def ends(self, slot: Slot, start: int) -> Iterator[int]:
        """Boundary ordinals where a word of ``slot`` starting at boundary ``start`` ends."""
        for words, end in self.runs[start] if start < len(self.runs) else ():
            self.meter.steps += 1
            if words in slot.words:
                yield end

    def spans(self, pattern: Pattern, gap: int) -> Iterator[tuple[int, int]]:
        """Each start boundary's first match of ``pattern``, as (start, end) boundary ordinals.

        Only boundaries where one of the leading slots' words starts are tried."""
        for start in self._anchors(pattern):
            end = self._match(pattern.slots, 0, start, gap, leading=True)
            if end is not None:
                yield start, end

    def _anchors(self, pattern: Pattern) -> list[int]:
        found: set[int] = set()
        starts = self.starts
        for slot in pattern.slots:
            # The same boundaries either way; walk the smaller side (a class may hold hundreds of
            # words, a clause's vocabulary a handful).
            if len(starts) < len(slot.words):
                for words, at in starts.items():
                    self.meter.steps += 1
                    if words in slot.words:
                        found.update(at)
            else:
                for word in slot.words:
                    self.meter.steps += 1
                    found.update(starts.get(word, ()))
            if not slot.optional:
                break
        return sorted(found)

    def _match(self, slots: tuple[Slot, ...], i: int, at: int, gap: int, *, leading: bool = False) -> int | None:
        if i == len(slots):
            return at
        self.meter.steps += 1
        slot = slots[i]
        reach = 0 if leading or not slot.gap_before else gap
        for start in range(at, min(at + reach, len(self.tokens)) + 1):
            for end in self.ends(slot, start):
                found = self._match(slots, i + 1, end, gap)
                if found is not None:
                    return found
        if slot.optional:
            return self._match(slots, i + 1, at, gap, leading=leading)
        return None
