"""Every problem of a stored state that does not decode, each with its place (the cold path).

The state is a set of msgspec structs (``core.state``): their decoder is fast, but it stops at
the first problem and names a dict's entry only as ``[...]``. Saying why a customer is
quarantined, and repairing its state field by field (``service.quarantine``), needs every
problem and its exact place: ``CHECK`` is a pydantic model generated from the structs, field
for field (the same names, types, defaults and no unknown field), that lists them.
"""

from __future__ import annotations

import types
from datetime import datetime
from typing import Annotated, Any, Union, get_args, get_origin

import msgspec
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, create_model

from orchestrator.core.events import describe_validation_error
from orchestrator.core.state import CustomerState


def problems(doc: Any) -> str | None:
    """``doc``'s problems as a CustomerState (``place: problem; …``), or None when it has none."""
    try:
        CHECK.model_validate(doc)
    except ValidationError as exc:
        return describe_validation_error(exc)
    return None


def mirror(struct: type[msgspec.Struct]) -> type[BaseModel]:
    """The pydantic model that checks what ``struct`` decodes (one per struct)."""
    if struct not in _MIRRORS:
        _MIRRORS[struct] = _model(struct)
    return _MIRRORS[struct]


_MIRRORS: dict[type[msgspec.Struct], type[BaseModel]] = {}


def _model(struct: type[msgspec.Struct]) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for info in msgspec.structs.fields(struct):
        kind = _mirrored(info.type)
        if info.default_factory is not msgspec.NODEFAULT:
            made = info.default_factory
            factory = mirror(made) if isinstance(made, type) and issubclass(made, msgspec.Struct) else made
            fields[info.name] = (kind, Field(default_factory=factory))
        elif info.default is not msgspec.NODEFAULT:
            fields[info.name] = (kind, info.default)
        else:
            fields[info.name] = (kind, ...)
    config = ConfigDict(extra="forbid", frozen=True)
    return create_model(f"{struct.__name__}Check", __config__=config, **fields)


def _mirrored(kind: Any) -> Any:
    origin, args = get_origin(kind), get_args(kind)
    if origin is Annotated:
        return AwareDatetime if args[0] is datetime else _mirrored(args[0])
    if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
        return mirror(kind)
    if origin in (Union, types.UnionType):
        return Union[tuple(_mirrored(a) for a in args)]  # noqa: UP007 - built from a tuple at run time
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return tuple[_mirrored(args[0]), ...]  # type: ignore[misc]  # built at run time
    if origin is dict:
        return dict[_mirrored(args[0]), _mirrored(args[1])]  # type: ignore[misc]  # built at run time
    return kind


CHECK = mirror(CustomerState)
