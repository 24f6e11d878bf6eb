"""Conditions compiled once to Python closures over the sandbox's own operations.

Jinja runs a compiled expression by building a new render context and a generator for
every call (~15 µs); a condition is evaluated for every event a journey looks at. Here the
expression's tree, parsed and constant-folded exactly as ``Environment.compile_expression``
does it, becomes nested closures that do what Jinja's generated code does, node for node:
names resolve in the scope, then the environment's globals, else to the environment's
``undefined`` (StrictUndefined); attribute and item lookups, calls and the intercepted
operators go through the sandboxed environment's ``getattr``, ``getitem``, ``call`` and
``call_binop`` (so the same names and operations are refused, and the same budget is
charged); filters and tests are the environment's, given the context, evaluation context or
environment they ask for; ``and``, ``or``, ``not``, comparisons (chained as in Python) and
the other operators are Python's, as in the generated code.

A tree with a node this module does not translate (a filter or test unknown at compile time,
``*args`` in a call, an inline ``if`` without ``else``, the names ``self`` or ``result``)
yields None: the caller keeps Jinja's compiled expression for that condition.
"""

from __future__ import annotations

import operator
import types
from collections.abc import Callable, Mapping
from copy import deepcopy
from typing import Any

from jinja2 import nodes
from jinja2.optimizer import optimize
from jinja2.parser import Parser
from jinja2.runtime import Context, Undefined, str_join
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import _PassArg

Scope = Mapping[str, Any]


class _Frame:
    """One evaluation: the scope, and a render context made only if a call or filter needs one."""

    __slots__ = ("_context", "env", "scope")

    def __init__(self, env: SandboxedEnvironment, scope: Scope) -> None:
        self.env = env
        self.scope = scope
        self._context: Context | None = None

    def context(self) -> Context:
        # What Template.new_context builds for compile_expression's template: the globals, then the scope.
        if self._context is None:
            self._context = Context(self.env, {**self.env.globals, **self.scope}, None, {})
        return self._context


Node = Callable[[_Frame], Any]
Condition = Callable[[Scope], Any]
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gteq": operator.ge,
    "lt": operator.lt,
    "lteq": operator.le,
    "in": lambda a, b: a in b,
    "notin": lambda a, b: a not in b,
}
_BINARY: dict[type[nodes.BinExpr], str] = {
    nodes.Add: "+",
    nodes.Sub: "-",
    nodes.Mul: "*",
    nodes.Div: "/",
    nodes.FloorDiv: "//",
    nodes.Mod: "%",
    nodes.Pow: "**",
}
_PYTHON: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
    "**": operator.pow,
}
_UNARY: dict[type[nodes.UnaryExpr], Callable[[Any], Any]] = {
    nodes.Not: operator.not_,
    nodes.Neg: operator.neg,
    nodes.Pos: operator.pos,
}
_SCALARS = frozenset({str, int, float, bool, type(None)})
_BUILTINS = (types.BuiltinMethodType,)  # the same type as BuiltinFunctionType
_RESERVED = frozenset({"self", "result"})  # special in the generated code: left to Jinja


class Unsupported(Exception):
    """A node this module does not translate; the caller keeps Jinja's compiled expression."""


def compile_condition(env: SandboxedEnvironment, expression: str) -> Condition | None:
    """A closure evaluating ``expression`` as ``env.compile_expression(expression)`` would, or None.

    Raises TemplateSyntaxError as Jinja does when the expression does not parse (callers
    compile it with Jinja first, which reports it with its position).
    """
    parser = Parser(env, expression, state="variable")
    tree = parser.parse_expression()
    if not parser.stream.eos:
        return None  # Jinja's compile_expression reports it
    tree.set_environment(env)
    try:
        node = _node(env, optimize(tree, env))
    except Unsupported:
        return None

    def condition(scope: Scope) -> Any:
        return node(_Frame(env, scope))

    return condition


def _node(env: SandboxedEnvironment, node: nodes.Node) -> Node:  # noqa: C901, PLR0911 - one dispatch over node kinds, each a line
    if isinstance(node, nodes.Const):
        return _const(node.value)
    if isinstance(node, nodes.Name):
        return _name(env, node)
    if isinstance(node, nodes.Getattr):
        return _getattr(env, node)
    if isinstance(node, nodes.Getitem):
        return _getitem(env, node)
    if isinstance(node, nodes.Compare):
        return _compare(env, node)
    if isinstance(node, nodes.And | nodes.Or):
        return _logic(env, node)
    if isinstance(node, nodes.BinExpr):
        return _binary(env, node)
    if isinstance(node, nodes.UnaryExpr) and type(node) in _UNARY:
        return _unary(env, node)
    if isinstance(node, nodes.Call):
        return _call(env, node)
    if isinstance(node, nodes.Filter | nodes.Test):
        return _filter(env, node)
    if isinstance(node, nodes.List | nodes.Tuple | nodes.Dict | nodes.Concat):
        return _collection(env, node)
    if isinstance(node, nodes.CondExpr) and node.expr2 is not None:
        return _choice(env, node)
    raise Unsupported(type(node).__name__)


def _const(value: Any) -> Node:
    if isinstance(value, list) and all(type(v) in _SCALARS for v in value):  # ['new', 'loyal']
        return lambda _: list(value)  # a fresh list, as the generated code builds one each time
    if isinstance(value, list | dict | set):
        return lambda _: deepcopy(value)
    return lambda _: value


def _name(env: SandboxedEnvironment, node: nodes.Name) -> Node:
    name = node.name
    if name in _RESERVED or node.ctx != "load":
        raise Unsupported(name)
    missing = object()
    undefined, globals_ = env.undefined, env.globals

    def load(frame: _Frame) -> Any:
        value = frame.scope.get(name, missing)
        if value is missing:
            value = globals_.get(name, missing)
        return undefined(name=name) if value is missing else value

    return load


def _getattr(env: SandboxedEnvironment, node: nodes.Getattr) -> Node:
    target, attr, lookup = _node(env, node.node), node.attr, env.getattr
    return lambda frame: lookup(target(frame), attr)


def _getitem(env: SandboxedEnvironment, node: nodes.Getitem) -> Node:
    target = _node(env, node.node)
    if isinstance(node.arg, nodes.Slice):  # slices bypass the environment, as in the generated code
        parts = [None if p is None else _node(env, p) for p in (node.arg.start, node.arg.stop, node.arg.step)]

        def sliced(frame: _Frame) -> Any:
            obj = target(frame)
            bounds = [None if p is None else p(frame) for p in parts]
            return obj[slice(*bounds)]

        return sliced
    key, lookup = _node(env, node.arg), env.getitem
    return lambda frame: lookup(target(frame), key(frame))


def _compare(env: SandboxedEnvironment, node: nodes.Compare) -> Node:
    first = _node(env, node.expr)
    ops = [(_COMPARE[op.op], _node(env, op.expr)) for op in node.ops]

    def compare(frame: _Frame) -> Any:  # a < b < c: each operand once, stops at the first false
        left = first(frame)
        result: Any = True
        for test, operand in ops:
            right = operand(frame)
            result = test(left, right)
            if not result:
                return result
            left = right
        return result

    return compare


def _logic(env: SandboxedEnvironment, node: nodes.And | nodes.Or) -> Node:
    left, right = _node(env, node.left), _node(env, node.right)
    if isinstance(node, nodes.And):
        return lambda frame: left(frame) and right(frame)
    return lambda frame: left(frame) or right(frame)


def _binary(env: SandboxedEnvironment, node: nodes.BinExpr) -> Node:
    left, right, symbol = _node(env, node.left), _node(env, node.right), _BINARY[type(node)]
    if symbol in env.intercepted_binops:
        call_binop = env.call_binop
        return lambda frame: call_binop(frame.context(), symbol, left(frame), right(frame))
    python = _PYTHON[symbol]
    return lambda frame: python(left(frame), right(frame))


def _unary(env: SandboxedEnvironment, node: nodes.UnaryExpr) -> Node:
    symbol = {nodes.Not: "not", nodes.Neg: "-", nodes.Pos: "+"}[type(node)]
    if symbol in env.intercepted_unops:
        raise Unsupported(symbol)
    operand, python = _node(env, node.node), _UNARY[type(node)]
    return lambda frame: python(operand(frame))


def _arguments(env: SandboxedEnvironment, node: nodes.Call | nodes.Filter | nodes.Test) -> Callable[[_Frame], Any]:
    if node.dyn_args is not None or node.dyn_kwargs is not None:
        raise Unsupported("*args / **kwargs")
    args = [_node(env, a) for a in node.args]
    kwargs = [(str(k.key), _node(env, k.value)) for k in node.kwargs]

    def evaluate(frame: _Frame) -> tuple[list[Any], dict[str, Any]]:
        return [a(frame) for a in args], {key: value(frame) for key, value in kwargs}

    return evaluate


def _call(env: SandboxedEnvironment, node: nodes.Call) -> Node:
    target, arguments, call = _node(env, node.node), _arguments(env, node), env.call
    shared = Context(env, {}, None, {})  # Context.call reads only its environment for a callable given no context

    def called(frame: _Frame) -> Any:
        obj = target(frame)
        args, kwargs = arguments(frame)
        return call(frame.context() if _takes_context(obj) else shared, obj, *args, **kwargs)

    return called


def _takes_context(obj: Any) -> bool:
    """Whether Context.call passes ``obj`` the context, its evaluation context or the environment."""
    if type(obj) in _BUILTINS:  # dict.get, str.upper …: no attributes can be set on them, so no pass_arg
        return False
    if isinstance(obj, Undefined) or _PassArg.from_obj(obj) is not None:  # undefined: fails as Jinja fails
        return True
    # Context.call's own test (a callable object whose __call__ asks for one), kept as Jinja writes it.
    return hasattr(obj, "__call__") and _PassArg.from_obj(obj.__call__) is not None  # noqa: B004


def _filter(env: SandboxedEnvironment, node: nodes.Filter | nodes.Test) -> Node:
    table = env.filters if isinstance(node, nodes.Filter) else env.tests
    function: Callable[..., Any] | None = table.get(node.name)  # type: ignore[assignment]  # jinja types it as a bare function
    if function is None or node.node is None:
        raise Unsupported(node.name)  # Jinja fails or defers it; keep its behaviour
    value, arguments = _node(env, node.node), _arguments(env, node)
    passed = _passed(env, _PassArg.from_obj(function))

    def filtered(frame: _Frame) -> Any:
        first = passed(frame)
        target = value(frame)
        args, kwargs = arguments(frame)
        return function(*first, target, *args, **kwargs)

    return filtered


def _passed(env: SandboxedEnvironment, kind: _PassArg | None) -> Callable[[_Frame], tuple[Any, ...]]:
    """What goes before the value: the context, its evaluation context, the environment, or nothing."""
    if kind is _PassArg.context:
        return lambda frame: (frame.context(),)
    if kind is _PassArg.eval_context:
        return lambda frame: (frame.context().eval_ctx,)
    if kind is _PassArg.environment:
        return lambda frame: (env,)
    return lambda frame: ()


def _collection(env: SandboxedEnvironment, node: nodes.List | nodes.Tuple | nodes.Dict | nodes.Concat) -> Node:
    if isinstance(node, nodes.Dict):
        pairs = [(_node(env, p.key), _node(env, p.value)) for p in node.items]
        return lambda frame: {key(frame): value(frame) for key, value in pairs}
    items = [_node(env, i) for i in (node.nodes if isinstance(node, nodes.Concat) else node.items)]
    if isinstance(node, nodes.Concat):
        return lambda frame: str_join([i(frame) for i in items])
    if isinstance(node, nodes.Tuple):
        return lambda frame: tuple(i(frame) for i in items)
    return lambda frame: [i(frame) for i in items]


def _choice(env: SandboxedEnvironment, node: nodes.CondExpr) -> Node:
    assert node.expr2 is not None  # noqa: S101 - checked by the dispatch
    test, then, otherwise = _node(env, node.test), _node(env, node.expr1), _node(env, node.expr2)
    return lambda frame: then(frame) if test(frame) else otherwise(frame)
