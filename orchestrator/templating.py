"""Jinja2, sandboxed, for operator content: message templates and journey conditions.

Everything is compiled once at load (compiling costs 40-85x a render); undefined names
are errors, and every error names the template (or condition) and the line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, Template, TemplateError, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from orchestrator.errors import StepError


class Templates:
    """Implements the core's Renderer and ConditionEvaluator over one template folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._env = ImmutableSandboxedEnvironment(
            loader=FileSystemLoader(str(root)),
            undefined=StrictUndefined,
            autoescape=False,
        )
        self._templates: dict[str, Template] = {}
        self._conditions: dict[str, Callable[..., Any]] = {}

    def compile_template(self, name: str) -> None:
        """Load and compile; raises TemplateSyntaxError (with lineno) or TemplateNotFound."""
        if name not in self._templates:
            self._templates[name] = self._env.get_template(name)

    def compile_condition(self, expression: str) -> None:
        """Compile; raises TemplateSyntaxError when the expression does not parse."""
        if expression not in self._conditions:
            self._conditions[expression] = self._env.compile_expression(expression, undefined_to_none=False)

    def render(self, template: str, context: Mapping[str, Any]) -> str:
        compiled = self._templates.get(template)
        if compiled is None:
            raise StepError(f"template {template}: not loaded")
        try:
            return compiled.render(context).strip()
        except (TemplateError, ArithmeticError, TypeError, ValueError, LookupError) as exc:
            line = _template_line(exc.__traceback__, compiled.filename)
            where = f"{template}:{line}" if line else template
            raise StepError(f"template {where}: {type(exc).__name__}: {exc}") from exc

    def evaluate(self, expression: str, context: Mapping[str, Any]) -> bool:
        compiled = self._conditions.get(expression)
        if compiled is None:
            raise StepError(f"condition {expression!r}: not compiled")
        try:
            return bool(compiled(**context))
        except (TemplateError, ArithmeticError, TypeError, ValueError, LookupError) as exc:
            raise StepError(f"condition {expression!r}: {type(exc).__name__}: {exc}") from exc


def _template_line(tb: TracebackType | None, filename: str | None) -> int | None:
    # Jinja rewrites tracebacks so that frames of template code carry template line numbers.
    line = None
    while tb is not None:
        if filename and tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def syntax_location(exc: TemplateSyntaxError) -> str:
    return f"{exc.filename or exc.name}:{exc.lineno}"
