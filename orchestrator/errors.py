"""Every error the engine raises, classified by what the shell does with it.

    OrchestratorError
    ├── InputError        a record that does not decode or validate → dead-letter topic, then acked
    ├── ConfigError       operator files are invalid (file:line: field) → refuse to start
    ├── StepError         a journey step failed (e.g. template render) → the instance ends in error
    ├── PermanentError    the outside world refused for good (a record too large) → never retried
    └── TransientError    the outside world hiccuped → retry with backoff
        └── StateConflict another writer committed a customer's state first → reload and retry

Whether an error is worth retrying is data (``OrchestratorError.transient``, read by
``is_transient``), not a guess from the class name: the retry loop retries exactly the
errors that say so, and a permanent one goes up at once. Anything else is a bug and
crashes the worker loudly. Every message names *where*.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar


class OrchestratorError(Exception):
    """Root of the engine's errors. ``transient``: the same call may succeed if tried again."""

    transient: ClassVar[bool] = False


class InputError(OrchestratorError):
    """An input record is not a valid event; ``reason`` is what the DLQ record carries.

    ``code`` is a short class of the reason (``json``, ``schema``, ``data``, ``routing``)
    for the rejects metric, whose labels must stay few.
    """

    def __init__(self, reason: str, code: str = "schema") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class ConfigError(OrchestratorError):
    """Operator configuration is invalid; ``problems`` print as ``file:line:column: field: message``."""

    def __init__(self, problems: Sequence[object]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = list(problems)


class StepError(OrchestratorError):
    """A journey step could not run (a template failed to render, a recipient is missing)."""


class PermanentError(OrchestratorError):
    """A dependency refused an operation in a way retrying cannot change (e.g. a record over
    the broker's size limit): it is never retried."""


class TransientError(OrchestratorError):
    """A dependency is unavailable for now; the operation is safe to retry."""

    transient: ClassVar[bool] = True


class StateConflict(TransientError):
    """A customer's state changed under us (version mismatch); reload and retry."""


def is_transient(exc: BaseException) -> bool:
    """Whether retrying may help: only errors that declare themselves transient."""
    return isinstance(exc, OrchestratorError) and exc.transient
