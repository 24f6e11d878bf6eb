"""What makes a journey silently wrong is caught by `validate`, in words an operator understands:
event types that never arrive, values outside a vocabulary, caps the engine cannot count,
misspelled keys, the column of a bad character, templates that fail for real customers."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from orchestrator.config.catalog import load_config
from tests.config.helpers import problems

HEAD = """\
id: j
name: 测试
version: 1
trigger: {scenario: consumption_cycle_ending}
steps:
"""
SEND = """\
  - id: remind
    send: {channel: wecom_private, template: t.j2}
"""


def _tree(tmp_path: Path, journey: str, template: str = "hi", **files: str) -> Path:
    (tmp_path / "journeys").mkdir(exist_ok=True)
    (tmp_path / "templates").mkdir(exist_ok=True)
    (tmp_path / "journeys" / "j.yaml").write_text(textwrap.dedent(journey), encoding="utf-8")
    for name, text in files.items():
        (tmp_path / "journeys" / f"{name}.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    (tmp_path / "templates" / "t.j2").write_text(template, encoding="utf-8")
    return tmp_path


DECLARE = "declare the types your systems send in journeys/events.yaml"
CASES = {
    "a goal on a misspelled event": (
        HEAD.replace("steps:\n", "goal: {event: order.payed, within: 7d}\nsteps:\n") + SEND,
        [
            "journeys/j.yaml:5:8: goal.event: unknown event type 'order.payed' (did you mean 'order.paid'?): "
            f"no such event ever arrives; {DECLARE}"
        ],
    ),
    "exit_on an undeclared event": (
        HEAD.replace("steps:\n", "exit_on: [order.refunded, car.sold]\nsteps:\n") + SEND,
        [f"journeys/j.yaml:5:27: exit_on[1]: unknown event type 'car.sold': no such event ever arrives; {DECLARE}"],
    ),
    "a wait for a misspelled receipt": (
        HEAD + SEND + "  - id: hold\n    wait_for: {event: message.replyed, timeout: 2d}\n",
        [
            "journeys/j.yaml:9:16: steps[1].wait_for.event: unknown event type 'message.replyed' "
            f"(did you mean 'message.replied'?): no such event ever arrives; {DECLARE}"
        ],
    ),
    "an event trigger on a scenario's name": (
        HEAD.replace("{scenario: consumption_cycle_ending}", "{event: lifecycle.changed}") + SEND,
        [
            "journeys/j.yaml:4:11: trigger.event: 'lifecycle.changed' is a scenario, not an event: "
            "a journey starts on it with `trigger: {scenario: lifecycle.changed}`"
        ],
    ),
    "a tier that does not exist": (
        HEAD + SEND + "    when: \"profile.value_tier == '钻石'\"\n",
        [
            "journeys/j.yaml:8:34: steps[0].when: '钻石' is not a value tier (did you mean '钻'?); "
            "value tiers: 钻, 金, 银, 普通 (column 23 of the condition: \"profile.value_tier == '钻石'\")"
        ],
    ),
    "a lifecycle stage in a list": (
        HEAD.replace("steps:\n", "entry: {when: \"profile.lifecycle in ['new', 'loyl']\"}\nsteps:\n") + SEND,
        [
            "journeys/j.yaml:5:45: entry.when: 'loyl' is not a lifecycle stage (did you mean 'loyal'?); "
            "lifecycle stages: registered, new, loyal, dormant, churned "
            "(column 30 of the condition: \"profile.lifecycle in ['new', 'loyl']\")"
        ],
    ),
    "consent for a channel that does not exist": (
        HEAD + SEND + "    when: \"profile.consent.get('wecom', true)\"\n",
        [
            "journeys/j.yaml:8:32: steps[0].when: 'wecom' is not a channel (did you mean 'wecom_group'?); "
            "channels: call, coupon, sms, webhook, wecom_group, wecom_private "
            "(column 21 of the condition: \"profile.consent.get('wecom', true)\")"
        ],
    ),
    "a variant the split does not have": (
        HEAD
        + "  - id: ab\n    split: {A: {weight: 50, next: remind}, B: {weight: 50, next: remind}}\n"
        + SEND
        + "    when: \"journey.variant == 'C'\"\n",
        [
            "journeys/j.yaml:10:31: steps[1].when: 'C' is not a variant of this journey; "
            "its variants: A, B (column 20 of the condition: \"journey.variant == 'C'\")"
        ],
    ),
    "a cap longer than the send log": (
        HEAD.replace("steps:\n", "send_cap: {max: 1, per: 90d}\nsteps:\n") + SEND,
        [
            "journeys/j.yaml:5:20: send_cap.per: Value error, a cap can look back at most 31d: the engine keeps 31 "
            "days of each customer's sends (the send log of the stored state), so a cap over 90d would not be "
            "enforced; for 'once a quarter' use entry.reentry: {cooldown: 90d}"
        ],
    ),
    "a misspelled key": (
        HEAD.replace("steps:\n", "exits_on: [order.refunded]\nsteps:\n") + SEND,
        [
            "journeys/j.yaml:5:1: exits_on: unknown key 'exits_on' (did you mean 'exit_on'?); allowed here: id, "
            "name, version, active_from, status, start_at, end_at, priority, trigger, entry, goal, exit_on, send_cap, "
            "migrate, sample, steps"
        ],
    ),
    "a misspelled step kind": (
        HEAD + "  - id: remind\n    sned: {channel: wecom_private, template: t.j2}\n",
        [
            "journeys/j.yaml:6:5: steps[0]: unknown key 'sned' (did you mean 'send'?): a step needs exactly one "
            "of: send, wait, wait_until, wait_for, branch, split, update, task, goto, exit"
        ],
    ),
    "= for ==": (
        HEAD + SEND + "    when: \"profile.lifecycle = 'new'\"\n",
        [
            "journeys/j.yaml:8:30: steps[0].when: `=` is not a comparison: write `==` to compare (and `!=` for "
            "'is not') (column 19 of the condition: \"profile.lifecycle = 'new'\")"
        ],
    ),
    "&& for and": (
        HEAD + SEND + '    when: "profile.orders > 1 && profile.spent > 100"\n',
        [
            "journeys/j.yaml:8:31: steps[0].when: unexpected character '&': write `and` "
            "(column 20 of the condition: 'profile.orders > 1 && profile.spent > 100')"
        ],
    ),
    "len(x)": (
        HEAD + SEND + '    when: "len(profile.tags) > 2"\n',
        [
            "journeys/j.yaml:8:12: steps[0].when: there is no function len() in conditions: write `x | length` "
            "(filters after `|`: length, lower, int, join, select, map, sum, …) "
            "(column 1 of the condition: 'len(profile.tags) > 2')"
        ],
    ),
    "a misspelled filter": (
        HEAD + SEND + '    when: "profile.tags | lenght > 2"\n',
        [
            "journeys/j.yaml:8:27: steps[0].when: no filter 'lenght' (did you mean 'length'?) "
            "(column 16 of the condition: 'profile.tags | lenght > 2')"
        ],
    ),
    "text without quotes": (
        HEAD + SEND + '    when: "profile.lifecycle == loyal"\n',
        [
            "journeys/j.yaml:8:33: steps[0].when: unknown name 'loyal': conditions see profile, event, trigger, "
            "scenario, journey, customer_id, now, recommend (text needs quotes: 'loyal') "
            "(column 22 of the condition: 'profile.lifecycle == loyal')"
        ],
    ),
    "a channel spelled with a dash": (
        HEAD + SEND.replace("wecom_private", "wecom-private"),
        [
            "journeys/j.yaml:7:12: steps[0].send.channel: unknown channel 'wecom-private' (did you mean "
            "'wecom_private'?); known: call, coupon, sms, webhook, wecom_group, wecom_private"
        ],
    ),
    "a step id with a dash": (
        HEAD + SEND.replace("id: remind", "id: two-weeks"),
        [
            "journeys/j.yaml:6:5: steps[0].id: 'two-weeks': a step id is lowercase letters, digits and _, "
            "starting with a letter (did you mean 'two_weeks'?)"
        ],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_silent_mistake_is_named(tmp_path: Path, case: str) -> None:
    journey, expected = CASES[case]
    assert problems(_tree(tmp_path, journey)) == expected


def test_declared_event_types_are_known_and_checked(tmp_path: Path) -> None:
    journey = HEAD.replace("steps:\n", "goal: {event: appointment.booked, within: 7d}\nsteps:\n") + SEND
    root = _tree(tmp_path, journey, events="events:\n  appointment.booked: 门店预约成功\n")
    assert load_config(root / "journeys", root / "templates").journeys
    root = _tree(tmp_path, journey, events="events:\n  appointment.booked: 门店预约成功\n  Bad Name: x\n")
    assert problems(root) == [
        "journeys/events.yaml:3:3: events.Bad Name.[key]: 'Bad Name': an event type is lowercase words joined by "
        "dots, e.g. order.paid (did you mean 'bad_name'?)",
        "journeys/j.yaml:5:8: goal.event: unknown event type 'appointment.booked': no such event ever arrives; "
        f"{DECLARE}",
    ]


def test_a_cap_in_the_policy_longer_than_the_send_log(tmp_path: Path) -> None:
    root = _tree(tmp_path, HEAD + SEND, policy="caps:\n  - {per: 60d, max: 5}\n")
    [problem] = problems(root)
    assert problem.startswith("journeys/policy.yaml:2:6: caps[0].per: Value error, a cap can look back at most 31d")


def test_the_tiers_are_those_of_scenarios_yaml(tmp_path: Path) -> None:
    scenarios = "value_tier:\n  tiers:\n    - {name: 黑金, min_score: 12}\n    - {name: 会员, min_score: 3}\n"
    journey = HEAD + SEND + "    when: \"profile.value_tier == '钻'\"\n"
    [problem] = problems(_tree(tmp_path, journey, scenarios=scenarios))
    assert problem.startswith("journeys/j.yaml:8:34: steps[0].when: '钻' is not a value tier; value tiers: 黑金, 会员")


LACKING = {
    "a name printed as None": (
        "{{ profile.name }}，您好",
        "journeys/j.yaml:7:36: steps[0].send.template: prints 'None' for a customer without profile.name: "
        "write e.g. {{ profile.name or '您好' }}",
    ),
    "a date sliced before the first order": (
        "上次下单 {{ profile.last_order_at[:10] }}",
        "journeys/j.yaml:7:36: steps[0].send.template: fails to render for a customer without "
        "profile.last_order_at: template t.j2:1: TypeError: 'NoneType' object is not subscriptable; guard it in "
        "the template ({% if profile.last_order_at %}…{% endif %}) or require it in entry.when",
    ),
    "a phone on a WeCom message": (
        "电话 {{ profile.identity.phone }}",
        "journeys/j.yaml:7:36: steps[0].send.template: fails to render for a customer without "
        "profile.identity.phone: template t.j2:1: UndefinedError: 'dict object' has no attribute 'phone'; guard it "
        "in the template ({% if profile.identity.phone %}…{% endif %}) or require it in entry.when",
    ),
}


@pytest.mark.parametrize("case", list(LACKING))
def test_a_template_must_render_for_customers_who_lack_a_field(tmp_path: Path, case: str) -> None:
    template, expected = LACKING[case]
    trigger = "{event: chat.message}"  # not an order: a customer may not have ordered yet
    journey = HEAD.replace("{scenario: consumption_cycle_ending}", trigger) + SEND
    assert problems(_tree(tmp_path, journey, template=template)) == [expected]


def test_an_attribute_the_sample_has_but_a_customer_may_not(tmp_path: Path) -> None:
    journey = HEAD + SEND + "sample:\n  profile: {attributes: {car_model: 途观L}}\n"
    [problem] = problems(_tree(tmp_path, journey, template="{{ profile.attributes.car_model }} 保养提醒"))
    assert problem.startswith(
        "journeys/j.yaml:7:36: steps[0].send.template: fails to render for a customer without "
        "profile.attributes.car_model: template t.j2:1: UndefinedError"
    )
    guarded = journey.replace("steps:\n", "entry: {when: \"profile.attributes.get('car_model')\"}\nsteps:\n")
    root = _tree(tmp_path, guarded, template="{{ profile.attributes.car_model }} 保养提醒")
    assert load_config(root / "journeys", root / "templates").journeys


def test_a_condition_that_fails_without_a_field(tmp_path: Path) -> None:
    journey = HEAD.replace("{scenario: consumption_cycle_ending}", "{event: chat.message}") + SEND
    journey += '    when: "profile.days_since_last_order >= 30"\n'
    assert problems(_tree(tmp_path, journey)) == [
        "journeys/j.yaml:8:5: steps[0].when: condition fails for a customer without profile.days_since_last_order "
        "(it then counts as false or fails the instance): condition 'profile.days_since_last_order >= 30': "
        "TypeError: '>=' not supported between instances of 'NoneType' and 'int'; test it first, e.g. "
        "`profile.days_since_last_order is not none and …`"
    ]


CATALOG = """\
products:
  PRO-900: {name: 蛋白粉, category: protein, days_per_unit: 30}
  VITC-60: {name: 维生素C, category: vitamin, pairs_with: [PRO-90]}
  PRO-1800: {name: 蛋白粉 大罐, category: protein, upgrade_of: PRO-1800}
"""


def test_catalog_relations_name_products_it_has(tmp_path: Path) -> None:
    assert problems(_tree(tmp_path, HEAD + SEND, catalog=CATALOG)) == [
        "journeys/catalog.yaml:3:57: products.VITC-60.pairs_with[0]: no product 'PRO-90' in the catalog "
        "(did you mean 'PRO-900'?)",
        "journeys/catalog.yaml:4:47: products.PRO-1800.upgrade_of: PRO-1800 cannot be related to itself",
    ]


def test_templates_and_conditions_may_call_recommend(tmp_path: Path) -> None:
    template = "{% for p in recommend('pairs_with', 2) %}{{ p.name }}{% else %}欢迎回来{% endfor %}"
    journey = HEAD + SEND + "    when: \"recommend('pairs_with') | length > 0\"\n"
    catalog = CATALOG.replace("PRO-90]", "PRO-900]").replace("upgrade_of: PRO-1800", "upgrade_of: PRO-900")
    root = _tree(tmp_path, journey, template=template, catalog=catalog)
    assert load_config(root / "journeys", root / "templates").journeys
    unguarded = _tree(tmp_path, journey, template="{{ recommend()[0].name }}", catalog=catalog)
    [problem] = problems(unguarded)
    assert problem.startswith(
        "journeys/j.yaml:7:36: steps[0].send.template: fails to render on the sample profile and event"
    )


def test_a_cycle_category_the_engine_does_not_track(tmp_path: Path) -> None:
    catalog = "products:\n  COLL-30: {name: 胶原蛋白肽, category: collagen, days_per_unit: 30}\n"
    when = "scenario.category in ['protein', 'colagen']"
    journey = HEAD.replace(
        "{scenario: consumption_cycle_ending}", f'{{scenario: consumption_cycle_ending, when: "{when}"}}'
    )
    root = _tree(
        tmp_path,
        journey + SEND,
        catalog=catalog,
        scenarios="consumption_cycle_ending:\n  rhythm_categories: [protein]\n",
    )
    assert problems(root) == [
        "journeys/j.yaml:4:87: trigger.when: 'colagen' is not a tracked category (did you mean 'collagen'?); "
        "tracked categories: collagen, protein (column 34 of the condition: \"scenario.category in ['protein', "
        "'colagen']\")"
    ]


def test_a_tag_that_nothing_ever_sets(tmp_path: Path) -> None:
    journey = HEAD + SEND + "    when: \"not ('complained_30d' in profile.tags)\"\n"
    assert problems(_tree(tmp_path, journey)) == [
        "journeys/j.yaml:8:17: steps[0].when: 'complained_30d' is not a tag any update step or survey rule sets; "
        "such tags: none (column 6 of the condition: \"not ('complained_30d' in profile.tags)\")"
    ]
    other = HEAD.replace("id: j", "id: k") + "  - id: mark\n    update: {add_tags: [complained_30d]}\n"
    (tmp_path / "journeys" / "k.yaml").write_text(other, encoding="utf-8")
    assert load_config(tmp_path / "journeys", tmp_path / "templates").journeys  # another journey sets it
    (tmp_path / "journeys" / "k.yaml").unlink()
    scenarios = "surveys:\n  tags:\n    - {answer: 投诉, match: contains, tag: complained_30d}\n"
    assert load_config(_tree(tmp_path, journey, scenarios=scenarios) / "journeys", tmp_path / "templates").journeys


def test_a_branch_case_guards_the_step_it_leads_to(tmp_path: Path) -> None:
    trigger = HEAD.replace("{scenario: consumption_cycle_ending}", "{event: chat.message}")
    branch = (
        "  - id: ordered\n    branch:\n      cases:\n"
        '        - {when: "profile.last_order_at is not none", next: remind}\n      otherwise: hello\n'
    )
    hello = "  - id: hello\n    send: {channel: wecom_private, template: h.j2}\n"
    (tmp_path / "templates").mkdir(exist_ok=True)
    (tmp_path / "templates" / "h.j2").write_text("您好", encoding="utf-8")
    root = _tree(
        tmp_path, trigger + branch + SEND + "    next: hello\n" + hello, template="{{ profile.last_order_at[:10] }}"
    )
    assert load_config(root / "journeys", root / "templates").journeys
