"""Jinja2, sandboxed, for operator content: message templates and journey conditions.

Everything is compiled once at load (compiling costs 40-85x a render); undefined names
are errors, and every error names the template (or condition) and the line. Conditions are
compiled further, to Python closures over the same sandbox (``templating.expressions``):
a Jinja expression builds a render context per call, which cost more than the test itself.

Budgets, counted inside the sandbox (no signals, no threads, no clock): every attribute and
item lookup, call, intercepted operator, loop iteration and string concatenation (by its
length) costs operations, and a render or condition stops with a step failure past
``MAX_OPERATIONS``; ``range`` sizes, string and list multiplication, powers and padding widths
are capped before they run, any value a template builds is capped at ``MAX_VALUE_CHARS``, and
the output at ``MAX_OUTPUT_CHARS``. The budget is counted, not timed, so a render fails or
succeeds the same way on any machine under any load (``simulate`` stays byte-identical).

Any error at all (RecursionError and MemoryError included) becomes a StepError, which the
core turns into a step failure: a template can neither dead-letter the event it renders for
nor make a timer fire forever.

Rendered text loses control characters that could disguise or garble a message (ANSI
escape sequences, bidi overrides, NUL and other C0/C1 controls; newlines and tabs stay).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from pathlib import Path
from types import BuiltinMethodType, TracebackType
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, Template, TemplateSyntaxError, nodes
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from orchestrator.core.view import LazyDict
from orchestrator.errors import StepError
from orchestrator.templating.expressions import Condition, compile_condition

MAX_OPERATIONS = 100_000  # ~0.1 s of the cheapest operations; the shipped templates use < 200
MAX_OUTPUT_CHARS = 8_000
MAX_VALUE_CHARS = 100_000  # any string or list a template computes
MAX_REPEAT = 10_000  # length of a string or list made by multiplication, a padding width
MAX_POWER_BITS = 4_096
_LOOP = "_xo_budgeted"  # the filter every for-loop's iterable is wrapped in
_JOINED = "_xo_joined"  # the filter every ``~`` concatenation is wrapped in
_CHARS_PER_OPERATION = 1_000
_DICTS = (dict, LazyDict)  # LazyDict: a dict to operator content (core.view)
_DICT_NAMES = frozenset(dir(dict))  # what getattr finds on a plain dict (it has no instance attributes)
_DICT_READERS = frozenset({"get", "keys", "values", "items"})  # the sandbox allows these (not mutating)
_SIZED_FILTERS = ("center", "indent", "truncate", "wordwrap", "batch", "slice")
_CONTROLS = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # ANSI CSI sequences (colours, cursor moves)
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # ANSI OSC sequences (titles, hyperlinks)
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


class BudgetExceeded(Exception):
    """A render or condition went past one of its budgets."""


class _Budget:
    def __init__(self) -> None:
        self.ops = 0

    def charge(self, ops: int = 1) -> None:
        self.ops += ops
        if self.ops > MAX_OPERATIONS:
            raise BudgetExceeded(f"more than {MAX_OPERATIONS} operations")


_budget: ContextVar[_Budget | None] = ContextVar("template_budget", default=None)


def _charge(ops: int = 1) -> None:
    budget = _budget.get()
    if budget is not None:
        budget.charge(ops)


def _sized(value: Any) -> Any:
    if isinstance(value, str | list | tuple | dict) and len(value) > MAX_VALUE_CHARS:
        raise BudgetExceeded(f"a value of {len(value)} items or characters (at most {MAX_VALUE_CHARS})")
    return value


def _check_binop(operator: str, left: Any, right: Any) -> None:
    powers = operator == "**" and isinstance(left, int) and isinstance(right, int) and abs(left) > 1
    if powers and right > 0 and left.bit_length() * right > MAX_POWER_BITS:
        raise BudgetExceeded(f"a power of more than {MAX_POWER_BITS} bits")
    if operator == "*":
        count, sequence = (right, left) if isinstance(right, int) else (left, right)
        if isinstance(count, int) and isinstance(sequence, str | list | tuple) and len(sequence) * count > MAX_REPEAT:
            raise BudgetExceeded(f"a repetition of more than {MAX_REPEAT} items or characters")


def _budgeted(iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        _charge()
        yield item


def _joined(text: str) -> str:
    _charge(1 + len(text) // _CHARS_PER_OPERATION)
    return _sized(text)  # type: ignore[no-any-return]  # _sized returns what it is given


def _range(*args: int) -> range:
    numbers = range(*args)
    _charge(len(numbers))  # a loop over it costs its length, charged up front
    return numbers


def _size_checked(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def checked(*args: Any, **kwargs: Any) -> Any:
        if any(isinstance(a, int) and a > MAX_REPEAT for a in (*args[1:], *kwargs.values())):
            raise BudgetExceeded(f"filter {name}: a size above {MAX_REPEAT}")
        return function(*args, **kwargs)

    return checked


class _Metered(NodeTransformer):
    """Rewrites a parsed template so that loops and concatenations pay for what they do."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, _LOOP, [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Filter(node, _JOINED, [], [], None, None, lineno=node.lineno)


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+"})

    def __init__(self, root: Path) -> None:
        super().__init__(loader=FileSystemLoader(str(root)), undefined=StrictUndefined, autoescape=False)
        self.globals["range"] = _range
        self.filters[_LOOP] = _budgeted
        self.filters[_JOINED] = _joined
        for name in _SIZED_FILTERS:
            self.filters[name] = _size_checked(name, self.filters[name])

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree: nodes.Template = _Metered().visit(super()._parse(source, name, filename))
        return tree

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _charge()
        _check_binop(operator, left, right)
        return _sized(super().call_binop(context, operator, left, right))

    def getattr(self, obj: Any, attribute: str) -> Any:
        _charge()
        if type(obj) in _DICTS:  # the profile and event views: what the general path returns for a dict, sooner
            if attribute not in _DICT_NAMES:  # no such attribute on a plain dict: the general path reads the key
                try:
                    return _sized(obj[attribute])
                except (TypeError, LookupError):
                    return self.undefined(obj=obj, name=attribute)
            if attribute in _DICT_READERS:  # public, not internal, does not mutate: allowed as is
                return getattr(obj, attribute)
        return _sized(super().getattr(obj, attribute))

    def getitem(self, obj: Any, argument: str | Any) -> Any:
        _charge()
        return _sized(super().getitem(obj, argument))

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _charge()
        if type(__obj) is BuiltinMethodType and type(__obj.__self__) is dict:  # dict.get(…): as Context.call does it
            kwargs.pop("_block_vars", None)  # never marked unsafe, takes no context: called as is
            kwargs.pop("_loop_vars", None)
            try:
                return _sized(__obj(*args, **kwargs))
            except StopIteration:
                return __self.undefined("value was undefined because a callable raised a StopIteration exception")
        on_str = isinstance(getattr(__obj, "__self__", None), str)  # str.center(10**9), str.zfill …
        if on_str and any(isinstance(a, int) and a > MAX_REPEAT for a in (*args, *kwargs.values())):
            raise BudgetExceeded(f"a string method with a size above {MAX_REPEAT}")
        return _sized(super().call(__context, __obj, *args, **kwargs))


class Templates:
    """Implements the core's Renderer and ConditionEvaluator over one template folder."""

    def __init__(self, root: Path, compiled_conditions: bool = True) -> None:
        self.root = root
        self.compiled_conditions = compiled_conditions  # False: Jinja's own expressions (the reference)
        self.last_operations = 0  # what the last render or condition charged to its budget
        self._env = _Sandbox(root)
        self._templates: dict[str, Template] = {}
        self._conditions: dict[str, Condition] = {}

    def compile_template(self, name: str) -> None:
        """Load and compile; raises TemplateSyntaxError (with lineno) or TemplateNotFound."""
        if name not in self._templates:
            self._templates[name] = self._env.get_template(name)

    def compile_condition(self, expression: str) -> None:
        """Compile; raises TemplateSyntaxError when the expression does not parse."""
        if expression not in self._conditions:
            jinja = self._env.compile_expression(expression, undefined_to_none=False)  # reports syntax errors
            closure = compile_condition(self._env, expression) if self.compiled_conditions else None
            self._conditions[expression] = closure or (lambda scope: jinja(**scope))

    def render(self, template: str, context: Mapping[str, Any]) -> str:
        compiled = self._templates.get(template)
        if compiled is None:
            raise StepError(f"template {template}: not loaded")
        budget = _Budget()
        token = _budget.set(budget)
        try:
            return clean_text(_bounded_output(compiled, context)).strip()
        except Exception as exc:  # any failure of operator content is a step failure, never the worker's
            line = _template_line(exc.__traceback__, compiled.filename)
            where = f"{template}:{line}" if line else template
            raise StepError(f"template {where}: {type(exc).__name__}: {_short(exc)}") from exc
        finally:
            _budget.reset(token)
            self.last_operations = budget.ops

    def evaluate(self, expression: str, context: Mapping[str, Any]) -> bool:
        compiled = self._conditions.get(expression)
        if compiled is None:
            raise StepError(f"condition {expression!r}: not compiled")
        budget = _Budget()
        token = _budget.set(budget)
        try:
            return bool(compiled(context))
        except Exception as exc:  # any failure of operator content is a step failure, never the worker's
            raise StepError(f"condition {expression!r}: {type(exc).__name__}: {_short(exc)}") from exc
        finally:
            _budget.reset(token)
            self.last_operations = budget.ops


def clean_text(text: str) -> str:
    """The text without ANSI escapes, bidi overrides and control characters (newline and tab stay)."""
    return _CONTROLS.sub("", text)


def _bounded_output(compiled: Template, context: Mapping[str, Any]) -> str:
    parts: list[str] = []
    size = 0
    for chunk in compiled.generate(context):
        size += len(chunk)
        if size > MAX_OUTPUT_CHARS:
            raise BudgetExceeded(f"output longer than {MAX_OUTPUT_CHARS} characters")
        parts.append(chunk)
    return "".join(parts)


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 300 else f"{text[:300]}…"


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
