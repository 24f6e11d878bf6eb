"""The profile as templates and conditions see it, built lazily.

A mature customer's profile holds hundreds of purchases and orders; dumping all of it to
JSON for every input that evaluates a condition cost more than the rest of the input. The
view is a ``dict`` whose small fields are dumped at once and whose long histories
(``LAZY``) are dumped on the first read of their key. Anything that reads the view as a
whole (iterating, ``len``, ``items``, comparing, JSON) completes it first, so what operator
content sees is the same dict as ``plain(profile)`` (every field, in JSON's types) plus the
derived figures. Its type reports itself as ``dict`` (name and module), so that the sandbox's
messages about it (``'dict object' has no attribute …``) read as they always did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, get_args

import msgspec

# The profile's long histories: dumped only when a template or condition reads them.
LAZY = frozenset({"purchases", "order_log", "services", "refunded_orders", "experience"})


def plain(value: Any) -> Any:
    """``value`` as JSON-ready data (``builtins``), every field of a state struct written: the
    stored form leaves out the fields at their default, and content reads ``purchase.refunded``
    whatever it holds."""
    if isinstance(value, msgspec.Struct):
        kind = type(value)
        if kind not in _FULL:
            fields = msgspec.structs.fields(kind)
            _FULL[kind] = {f.name: builtins(_default(f)) for f in fields}
            _LEAF[kind] = not any(_holds_struct(f.type) for f in fields)
        if _LEAF[kind]:  # no struct inside: converted whole, at C speed
            return {**_FULL[kind], **builtins(value)}
        written = {name: plain(item) for name, item in msgspec.structs.asdict(value).items()}
        return {**_FULL[kind], **written}
    if isinstance(value, tuple | list):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return builtins(value)


def builtins(value: Any) -> Any:
    """JSON's own types, as pydantic's ``model_dump(mode="json")`` gave them: times as ISO text,
    tuples as lists (``msgspec.to_builtins`` keeps tuples); a struct's defaults left out."""
    return _decode(_encode(value))


_encode, _decode = msgspec.json.Encoder().encode, msgspec.json.Decoder().decode
_FULL: dict[type, dict[str, Any]] = {}  # per struct type: every field at its default (None if required), in order


_LEAF: dict[type, bool] = {}


def _holds_struct(kind: Any) -> bool:
    if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
        return True
    return any(_holds_struct(arg) for arg in get_args(kind))


def _default(info: msgspec.structs.FieldInfo) -> Any:
    if info.default_factory is not msgspec.NODEFAULT:
        return info.default_factory()
    return None if info.default is msgspec.NODEFAULT else info.default


class LazyDict(dict[str, Any]):
    """A dict some of whose values are computed on first read (``pending``: key → how)."""

    __slots__ = ("_order", "_pending")

    def __init__(self, ready: dict[str, Any], pending: Mapping[str, Callable[[], Any]], order: tuple[str, ...]) -> None:
        super().__init__(ready)
        self._pending = dict(pending)
        self._order = order  # the keys' order once complete (a dump's order)

    def _load(self, key: str) -> Any:
        value = self._pending.pop(key)()
        dict.__setitem__(self, key, value)
        return value

    def _complete(self) -> None:
        if not self._pending and tuple(dict.keys(self)) == self._order:
            return
        for key in list(self._pending):
            self._load(key)
        ordered = {key: dict.__getitem__(self, key) for key in self._order if dict.__contains__(self, key)}
        ordered.update(dict.items(self))  # keys added after it was built, if any, last
        dict.clear(self)
        dict.update(self, ordered)
        self._order = tuple(ordered)

    def __getitem__(self, key: Any) -> Any:
        if key in self._pending:
            return self._load(key)
        return dict.__getitem__(self, key)

    def get(self, key: Any, default: Any = None) -> Any:
        if key in self._pending:
            return self._load(key)
        return dict.get(self, key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._pending or dict.__contains__(self, key)

    def __iter__(self) -> Iterator[str]:
        self._complete()
        return dict.__iter__(self)

    def __len__(self) -> int:
        return dict.__len__(self) + len(self._pending)

    def __eq__(self, other: object) -> bool:
        self._complete()
        if isinstance(other, LazyDict):
            other._complete()
        return dict.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None  # unhashable, as a dict

    def __repr__(self) -> str:
        self._complete()
        return dict.__repr__(self)

    def __reversed__(self) -> Iterator[str]:
        self._complete()
        return dict.__reversed__(self)

    def __or__(self, other: Any) -> Any:
        self._complete()
        return dict.__or__(self, other)

    def __ror__(self, other: Any) -> Any:
        self._complete()
        return dict.__ror__(self, other)

    def __reduce__(self) -> Any:
        self._complete()
        return (dict, (dict(self.items()),))

    def keys(self) -> Any:
        self._complete()
        return dict.keys(self)

    def values(self) -> Any:
        self._complete()
        return dict.values(self)

    def items(self) -> Any:
        self._complete()
        return dict.items(self)

    def copy(self) -> dict[str, Any]:
        self._complete()
        return dict(dict.items(self))

    # Changes (nothing in the engine makes any; the sandbox refuses them) apply to the complete dict.
    def __setitem__(self, key: str, value: Any) -> None:
        self._complete()
        dict.__setitem__(self, key, value)

    def __delitem__(self, key: str) -> None:
        self._complete()
        dict.__delitem__(self, key)

    def pop(self, key: str, *default: Any) -> Any:
        self._complete()
        return dict.pop(self, key, *default)

    def popitem(self) -> tuple[str, Any]:
        self._complete()
        return dict.popitem(self)

    def setdefault(self, key: str, default: Any = None) -> Any:
        self._complete()
        return dict.setdefault(self, key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._complete()
        dict.update(self, *args, **kwargs)

    def clear(self) -> None:
        self._pending.clear()
        dict.clear(self)

    def __ior__(self, other: Any) -> LazyDict:  # type: ignore[override]  # returns itself, as dict's
        self.update(other)
        return self


# Operator content sees a dict: the sandbox names an object's type in its messages.
LazyDict.__name__ = LazyDict.__qualname__ = "dict"
LazyDict.__module__ = "builtins"
