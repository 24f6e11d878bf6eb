"""Templates and conditions run on a budget counted inside the sandbox, and any error they raise
is a StepError: nested loops, huge repetitions and powers, runaway recursion and output stop
quickly with a message naming the template and line; control characters never reach a message."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

import pytest

from orchestrator.bootstrap import load_world
from orchestrator.core import CustomerState, process
from orchestrator.errors import StepError
from orchestrator.service import codec
from orchestrator.settings import Settings
from orchestrator.templating import MAX_OUTPUT_CHARS, Templates, clean_text
from tests.builders import fire
from tests.integration.workers import JOURNEYS, TEMPLATES, customer_events

HOSTILE = {
    "nested ranges": (
        "{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}",
        "operations",
    ),
    "nested loops over a string": (
        '{% set s = "ab" * 4000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}',
        "operations",
    ),
    "string multiplication": ('{{ "x" * 100000000 }}', "repetition of more than"),
    "list multiplication": ("{{ ([1] * 100000000)|length }}", "repetition of more than"),
    "a huge power": ("{{ 10 ** 100000000 }}", "a power of more than"),
    "a padding method": ('{{ "x".center(1000000000) }}', "a string method with a size above"),
    "a padding filter": ('{{ "x"|center(1000000000) }}', "filter center: a size above"),
    "concatenating in a loop": (
        "{% set s = 'x' * 10000 %}{% for i in range(100000) %}{% set t = s ~ s ~ s %}{% endfor %}",
        "operations",
    ),
    "doubling a string": (
        "{% set ns = namespace(s='xx') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "a value of",
    ),
    "runaway recursion": (
        "{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}{{ r(0) }}",
        "RecursionError|operations",
    ),
    "too much output": ("{% for i in range(20000) %}xx{% endfor %}", f"output longer than {MAX_OUTPUT_CHARS}"),
    "a float overflow": ("{{ 10.0 ** 400 }}", "OverflowError"),
}


def _templates(tmp_path: Path, text: str) -> Templates:
    (tmp_path / "t.j2").write_text(text, encoding="utf-8")
    templates = Templates(tmp_path)
    templates.compile_template("t.j2")
    return templates


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_template_fails_its_step_with_a_reason(tmp_path: Path, case: str) -> None:
    text, reason = HOSTILE[case]
    templates = _templates(tmp_path, text)
    with pytest.raises(StepError, match=reason) as caught:
        templates.render("t.j2", {})
    assert str(caught.value).startswith("template t.j2")


def _memory_error() -> NoReturn:
    raise MemoryError


def test_even_a_memory_error_is_a_step_failure(tmp_path: Path) -> None:
    with pytest.raises(StepError, match=r"template t\.j2:2: MemoryError"):
        _templates(tmp_path, "hi\n{{ boom() }}").render("t.j2", {"boom": _memory_error})
    templates = Templates(tmp_path)
    templates.compile_condition("boom()")
    with pytest.raises(StepError, match="condition 'boom\\(\\)': MemoryError"):
        templates.evaluate("boom()", {"boom": _memory_error})


def test_a_condition_runs_on_a_budget_too(tmp_path: Path) -> None:
    templates = Templates(tmp_path)
    condition = "range(100000)|list|length + range(100000)|list|length > 0"
    templates.compile_condition(condition)
    with pytest.raises(StepError, match=r"operations"):
        templates.evaluate(condition, {})


def test_ordinary_loops_and_arithmetic_stay_within_the_budget(tmp_path: Path) -> None:
    text = "{% for p in items %}{{ p.name }}×{{ p.qty * 2 }}{{ '，' if not loop.last }}{% endfor %} {{ 2 ** 10 }}"
    items = [{"name": f"蛋白粉{n}", "qty": n} for n in range(100)]
    rendered = _templates(tmp_path, text).render("t.j2", {"items": items})
    assert rendered.startswith("蛋白粉0×0，蛋白粉1×2，")
    assert rendered.endswith("蛋白粉99×198 1024")


def test_control_characters_from_customer_data_are_stripped(tmp_path: Path) -> None:
    name = "王\x00女士\x1b[31m\u202egnp.exe\u202c\x07\x9b\ttab"
    rendered = _templates(tmp_path, "{{ name }}，您好\n再见").render("t.j2", {"name": name})
    assert rendered == "王女士gnp.exe\ttab，您好\n再见"
    assert clean_text("\x1b]8;;http://evil\x07link\x1b]8;;\x07") == "link"


def test_a_timer_whose_template_blows_its_budget_fails_the_step_once(tmp_path: Path) -> None:
    """The cycle timer fires, the send's template loops for ever: a step failure, the timer is gone."""
    shutil.copytree(TEMPLATES, tmp_path / "templates")
    hostile = "{% if customer_id == 'M1' %}" + HOSTILE["nested ranges"][0] + "{% endif %}hi"  # the sample passes
    (tmp_path / "templates" / "wait_and_send" / "first.j2").write_text(hostile, encoding="utf-8")
    _, world = load_world(Settings(xo_journeys_dir=JOURNEYS, xo_templates_dir=tmp_path / "templates"))
    now = datetime.now(tz=UTC)
    state = CustomerState.new("M1")
    for raw in customer_events("M1", now):
        state = process(state, codec.decode_input(raw)[1], now, world).state
    [timer_id] = [t for t in state.timers if t.startswith("cycle")]
    outcome = process(state, fire(state, timer_id), now + timedelta(seconds=1), world)
    [failure] = outcome.failures
    assert "template wait_and_send/first.j2:1: BudgetExceeded: " in failure.reason
    assert outcome.actions == ()
    assert timer_id not in outcome.state.timers
    again: Any = process(outcome.state, fire(state, timer_id), now + timedelta(seconds=2), world)
    assert again.duplicate
