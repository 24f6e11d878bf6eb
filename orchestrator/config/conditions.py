"""Conditions read as an operator wrote them: the column of a mistake, and a hint that is right.

Jinja reports a bad condition by line only and in its own terms ("chunk after expression",
"'len' is undefined"). Here the condition is parsed with every token's *offset* standing in
for its line number, so each syntax error and each node of the tree carries the column it
starts at; the tree is then read for what would fail or silently never hold: a Python
function Jinja does not have, an unknown filter, a name conditions do not see, a value
compared against a vocabulary it is not part of (``profile.value_tier == '钻石'``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateSyntaxError, nodes
from jinja2.lexer import TokenStream
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment

from orchestrator.config.events import did_you_mean

_ENV = ImmutableSandboxedEnvironment()
NAMES = ("profile", "event", "trigger", "scenario", "journey", "customer_id", "now", "recommend")
FUNCTIONS = ("recommend",)  # called like a function, besides Jinja's own globals
# Python spellings operators reach for, and what Jinja calls them.
PYTHON_FUNCTIONS = {
    "len": "x | length",
    "str": "x | string",
    "int": "x | int",
    "float": "x | float",
    "sum": "x | sum",
    "min": "x | min",
    "max": "x | max",
    "sorted": "x | sort",
    "abs": "x | abs",
    "round": "x | round",
    "list": "x | list",
    "any": "x | select | list",
    "isinstance": "x is string / x is number / x is mapping",
}
_UNEXPECTED_CHAR = re.compile(r"unexpected char '(.)' at (\d+)")
_OPERATORS = {"&": "and", "|": "or", "!": "not"}


@dataclass(frozen=True)
class Vocabulary:
    """The values a path takes (``profile.value_tier``), or the keys it has (``profile.consent.*``)."""

    label: str
    words: tuple[str, ...]
    plural: str = ""  # default: the label and an s


@dataclass(frozen=True)
class Finding:
    """A problem at ``column`` (1-based, counted in the condition's text)."""

    column: int
    message: str


def analyse(expression: str, vocabularies: Mapping[str, Vocabulary]) -> list[Finding]:
    """What is wrong with a condition: a syntax error, or what its tree shows (empty: nothing)."""
    tree = parse(expression)
    if isinstance(tree, Finding):
        return [tree]
    return [*_calls_and_names(tree), *_filters(tree), *_vocabulary(tree, vocabularies)]


def parse(expression: str) -> nodes.Expr | Finding:
    parser = Parser(_ENV, expression, state="variable")
    parser.stream = TokenStream(_ENV.lexer.wrap(_offset_tokens(expression)), None, None)
    try:
        tree = parser.parse_expression()
    except TemplateSyntaxError as exc:
        return _syntax(expression, exc)
    current = parser.stream.current
    if current.type == "eof":
        return tree
    column = current.lineno
    if current.type == "assign":
        return Finding(column, "`=` is not a comparison: write `==` to compare (and `!=` for 'is not')")
    return Finding(
        column,
        f"unexpected {current.value!r}: a condition is one expression; join parts with `and` / `or`",
    )


def _offset_tokens(expression: str) -> Iterator[tuple[int, str, str]]:
    # The lexer yields every piece of the text in order; the offset replaces the line number.
    offset = 0
    for _, kind, value in _ENV.lexer.tokeniter(expression, None, None, "variable"):
        yield offset + 1, kind, value
        offset += len(value)


def _syntax(expression: str, exc: TemplateSyntaxError) -> Finding:
    char = _UNEXPECTED_CHAR.search(exc.message or "")
    if char:
        column = int(char.group(2)) + 1
        hint = f": write `{_OPERATORS[char.group(1)]}`" if char.group(1) in _OPERATORS else ""
        return Finding(column, f"unexpected character {char.group(1)!r}{hint}")
    message = exc.message or "does not parse"
    if "end of template" in message:
        return Finding(len(expression.rstrip()) + 1, "the condition ends too early (something is missing at the end)")
    return Finding(exc.lineno, message)


def _calls_and_names(tree: nodes.Expr) -> Iterator[Finding]:
    called: set[int] = set()
    for call in _every(tree, nodes.Call):
        if isinstance(call.node, nodes.Name) and call.node.name not in (*_ENV.globals, *FUNCTIONS):
            called.add(id(call.node))
            name = call.node.name
            instead = PYTHON_FUNCTIONS.get(name)
            hint = f"write `{instead}`" if instead else f"functions: {', '.join(sorted((*_ENV.globals, *FUNCTIONS)))}"
            yield Finding(
                call.node.lineno,
                f"there is no function {name}() in conditions: {hint} (filters after `|`: length, lower, "
                "int, join, select, map, sum, …)",
            )
    for used in _every(tree, nodes.Name):
        if id(used) not in called and used.ctx == "load" and used.name not in (*NAMES, *_ENV.globals):
            yield Finding(
                used.lineno,
                f"unknown name {used.name!r}{did_you_mean(used.name, NAMES)}: conditions see {', '.join(NAMES)} "
                "(text needs quotes: 'loyal')",
            )


def _filters(tree: nodes.Expr) -> Iterator[Finding]:
    for node in _every(tree, nodes.Filter):
        if node.name not in _ENV.filters:
            yield Finding(node.lineno, f"no filter {node.name!r}{did_you_mean(node.name, _ENV.filters)}")
    for test in _every(tree, nodes.Test):
        if test.name not in _ENV.tests:
            yield Finding(test.lineno, f"no test {test.name!r}{did_you_mean(test.name, _ENV.tests)}")


def _every(tree: nodes.Node, kinds: Any) -> Iterator[Any]:
    """The nodes of these kinds in the tree, the root included (``find_all`` skips the root)."""
    if isinstance(tree, kinds):
        yield tree
    yield from tree.find_all(kinds)


def dotted_name(node: nodes.Node) -> str | None:
    """``profile.consent.sms`` for Getattr/Getitem chains on a name with constant keys."""
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        base = dotted_name(node.node)
        return f"{base}.{node.attr}" if base else None
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
        base = dotted_name(node.node)
        return f"{base}.{node.arg.value}" if base else None
    return None


def _constants(node: nodes.Node) -> list[nodes.Const]:
    if isinstance(node, nodes.Const) and isinstance(node.value, str):
        return [node]
    if isinstance(node, nodes.List | nodes.Tuple):
        return [item for item in node.items if isinstance(item, nodes.Const) and isinstance(item.value, str)]
    return []


def _vocabulary(tree: nodes.Expr, vocabularies: Mapping[str, Vocabulary]) -> Iterator[Finding]:
    for path, literal in _compared(tree, vocabularies):
        vocabulary = vocabularies[path]
        if literal.value not in vocabulary.words:
            yield Finding(
                literal.lineno,
                f"{literal.value!r} is not a {vocabulary.label}{did_you_mean(literal.value, vocabulary.words)}; "
                f"{vocabulary.plural or vocabulary.label + 's'}: {', '.join(vocabulary.words) or 'none'}",
            )


def _compared(tree: nodes.Expr, vocabularies: Mapping[str, Vocabulary]) -> Iterator[tuple[str, nodes.Const]]:
    """(path, literal) for each literal compared with, or used as a key of, a path that has a vocabulary."""
    for compare in _every(tree, nodes.Compare):
        sides = [compare.expr, *(op.expr for op in compare.ops)]
        for path in [p for p in map(dotted_name, sides) if p is not None and p in vocabularies]:
            for side in sides:
                for literal in _constants(side):
                    yield path, literal
    yield from _keys(tree, vocabularies)


def _keys(tree: nodes.Expr, vocabularies: Mapping[str, Vocabulary]) -> Iterator[tuple[str, nodes.Const]]:
    """Keys of a path whose keys have a vocabulary: ``profile.consent.sms``, ``['sms']``, ``.get('sms')``."""
    for node in _every(tree, (nodes.Getattr, nodes.Getitem, nodes.Call)):
        if isinstance(node, nodes.Call):
            getter = node.node
            if not (isinstance(getter, nodes.Getattr) and getter.attr == "get" and node.args):
                continue
            base, literals = dotted_name(getter.node), _constants(node.args[0])
        elif isinstance(node, nodes.Getattr):
            base = dotted_name(node.node)
            literals = [] if node.attr == "get" else [nodes.Const(node.attr, lineno=node.lineno + 1)]
        elif isinstance(node, nodes.Getitem):
            base, literals = dotted_name(node.node), _constants(node.arg)
        else:
            continue
        if base and f"{base}.*" in vocabularies:
            yield from ((f"{base}.*", literal) for literal in literals)
