"""Every error the engine raises, classified by what the shell does with it.

    OrchestratorError
    ├── InputError        a record that does not decode or validate → dead-letter topic, then acked
    ├── ConfigError       operator files are invalid (file:line: field) → refuse to start
    ├── StepError         a journey step failed (e.g. template render) → the instance ends in error
    └── TransientError    the outside world hiccuped → retry with backoff
        └── StateConflict another writer committed a customer's state first → reload and retry

Anything else is a bug and crashes the worker loudly. Every message names *where*.
"""

from __future__ import annotations

from collections.abc import Sequence


class OrchestratorError(Exception):
    """Root of the engine's errors."""


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


class TransientError(OrchestratorError):
    """A dependency is unavailable for now; the operation is safe to retry."""


class StateConflict(TransientError):
    """A customer's state changed under us (version mismatch); reload and retry."""
