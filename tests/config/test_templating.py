"""Templates: sandboxed, strict about undefined names, errors name the template and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import StepError
from orchestrator.templating import Templates

REPO = Path(__file__).resolve().parents[2]


def _templates(tmp_path: Path, **files: str) -> Templates:
    for name, text in files.items():
        (tmp_path / f"{name}.j2").write_text(text, encoding="utf-8")
    templates = Templates(tmp_path)
    for name in files:
        templates.compile_template(f"{name}.j2")
    return templates


def test_the_replenish_template_renders_personal_chinese_text() -> None:
    templates = Templates(REPO / "templates")
    templates.compile_template("replenish/remind.j2")
    context = {"profile": {"name": "王女士"}, "scenario": {"product": "乳清蛋白粉 900g", "days_left": 3}}
    assert templates.render("replenish/remind.j2", context) == (
        "王女士，您上次买的乳清蛋白粉 900g，大约还能用 3 天，需要的话我帮您留一份，老客户今天下单包邮~"
    )
    context = {"profile": {"name": None}, "scenario": {"product": "鱼油", "days_left": 0}}
    assert templates.render("replenish/remind.j2", context).startswith("您好，您上次买的鱼油，应该已经用完了")
    context = {"profile": {"name": "赵女士"}, "scenario": {"product": "维生素C", "days_left": 0, "source": "chat"}}
    assert templates.render("replenish/remind.j2", context).startswith("赵女士，听您说维生素C快用完了，需要的话")


def test_an_undefined_name_fails_with_template_and_line(tmp_path: Path) -> None:
    templates = _templates(tmp_path, t="第一行\n{{ profile.nickname }}")
    with pytest.raises(StepError, match=r"template t\.j2:2: UndefinedError: .*nickname"):
        templates.render("t.j2", {"profile": {"name": "王"}})


def test_the_sandbox_blocks_reaching_into_python(tmp_path: Path) -> None:
    templates = _templates(tmp_path, t="{{ profile.name.__class__.__mro__ }}")
    with pytest.raises(StepError, match=r"t\.j2"):
        templates.render("t.j2", {"profile": {"name": "王"}})


def test_injected_template_syntax_in_data_is_just_text(tmp_path: Path) -> None:
    templates = _templates(tmp_path, t="你好 {{ profile.name }}")
    assert templates.render("t.j2", {"profile": {"name": "{{ ''.__class__ }}"}}) == "你好 {{ ''.__class__ }}"


def test_conditions_evaluate_in_the_sandbox(tmp_path: Path) -> None:
    templates = Templates(tmp_path)
    templates.compile_condition("profile.lifecycle in ['new', 'loyal'] and 'vip' not in profile.tags")
    assert templates.evaluate(
        "profile.lifecycle in ['new', 'loyal'] and 'vip' not in profile.tags",
        {"profile": {"lifecycle": "new", "tags": []}},
    )
    templates.compile_condition("profile.missing > 1")
    with pytest.raises(StepError, match=r"profile\.missing"):
        templates.evaluate("profile.missing > 1", {"profile": {}})
