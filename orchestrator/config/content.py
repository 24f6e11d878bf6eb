"""Conditions and templates, checked as they will run: for the sample customer, and for every
customer who lacks what the sample has (no name, no order yet, no phone, an attribute unset).

A template that renders for the sample and then fails — or prints ``None`` — for a real
customer passes a sample-only check; here each field a profile can lack is emptied in turn,
and the problem names that field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateNotFound, TemplateSyntaxError

from orchestrator.config.conditions import Finding, analyse
from orchestrator.config.problems import Problem, dotted, problem
from orchestrator.config.sample import sample_context
from orchestrator.config.vocabulary import Known, condition_vocabularies
from orchestrator.config.yaml_loader import LoadedYaml, Path_
from orchestrator.core.journey_spec import (
    BranchStep,
    DateTrigger,
    EventTrigger,
    JourneySpec,
    ScenarioTrigger,
    SegmentTrigger,
    SendStep,
    TaskStep,
    WaitForStep,
)
from orchestrator.core.steps import RECIPIENT_KEY
from orchestrator.errors import StepError
from orchestrator.templating import Templates

# Profile fields a real customer may lack, and what they hold then.
LACKABLE: dict[str, Any] = {
    "name": None,
    "value_tier": None,
    "last_order_at": None,
    "days_since_last_order": None,
    "tags": [],
    "purchases": [],
    "rfm": {},
    "services": [],
    "experience": {},
}
ORDER_FIELDS = frozenset({"last_order_at", "days_since_last_order", "purchases"})
# Triggers that only fire for a customer who has ordered.
ORDERED = frozenset({"consumption_cycle_ending", "moving_house", "value_tier.changed", "order.paid", "order.refunded"})


@dataclass(frozen=True)
class Site:
    """One condition or template of a journey: where it is written, and what guards it."""

    where: Path_
    text: str
    guards: str  # the conditions in force when it runs (trigger, entry, the step's `when`)
    channel: str | None = None
    on_event: bool = False


class ContentCheck:
    def __init__(self, journey: JourneySpec, loaded: LoadedYaml, templates: Templates, known: Known) -> None:
        self.journey, self.loaded, self.templates = journey, loaded, templates
        self.vocabularies = condition_vocabularies(journey, known)
        self.products = known.products
        self.problems: list[Problem] = []
        self.lines: list[str] | None = None

    def run(self) -> list[Problem]:
        for site in conditions(self.journey):
            self.condition(site)
        for site in templates_of(self.journey):
            self.template(site)
        return self.problems

    def report(self, where: Path_, message: str, position: tuple[int, int] | None = None) -> None:
        at = position or self.loaded.position_of(where)
        self.problems.append(problem(self.loaded.path, at, dotted(where), message))

    def condition(self, site: Site) -> None:
        findings = analyse(site.text, self.vocabularies)
        for finding in findings:
            self.report(site.where, _at_column(site.text, finding), self.column_position(site, finding))
        if findings:
            return
        try:
            self.templates.compile_condition(site.text)
        except TemplateSyntaxError as exc:
            self.report(site.where, f"condition does not compile: {exc.message}")
            return
        context = sample_context(self.journey, on_event=site.on_event, catalog=self.products)
        failed = self._first_failure(lambda ctx: self.templates.evaluate(site.text, ctx), context)
        if failed:
            self.report(site.where, f"condition fails on the sample profile and event: {failed}")
            return
        for field, error, _ in self._lacking(site, context, lambda ctx: self.templates.evaluate(site.text, ctx)):
            if error is None:
                continue
            self.report(
                site.where,
                f"condition fails for a customer without {field} (it then counts as false or fails the instance): "
                f"{error}; test it first, e.g. `{_guard(field)} and …`",
            )

    def template(self, site: Site) -> None:
        name = site.text
        try:
            self.templates.compile_template(name)
        except TemplateNotFound:
            self.report(site.where, f"template {name!r} not found under {self.templates.root}")
            return
        except TemplateSyntaxError as exc:
            self.report(site.where, f"{self.templates.root / name}:{exc.lineno}: {exc.message}")
            return
        context = sample_context(self.journey, catalog=self.products)

        def render(ctx: dict[str, Any]) -> str:
            return self.templates.render(name, ctx)

        try:
            sample_text = render(context)
        except StepError as exc:
            self.report(
                site.where, f"fails to render on the sample profile and event (add values under `sample:`): {exc}"
            )
            return
        for field, error, text in self._lacking(site, context, render):
            if error:
                self.report(
                    site.where,
                    f"fails to render for a customer without {field}: {error}; "
                    f"guard it in the template ({{% if {field} %}}…{{% endif %}}) or require it in entry.when",
                )
            elif "None" in text and "None" not in sample_text:
                self.report(
                    site.where,
                    f"prints 'None' for a customer without {field}: write e.g. {{{{ {field} or '您好' }}}}",
                )

    @staticmethod
    def _first_failure(run: Callable[[dict[str, Any]], object], context: dict[str, Any]) -> str | None:
        try:
            run(context)
        except StepError as exc:
            return str(exc)
        return None

    def _lacking(
        self, site: Site, context: dict[str, Any], run: Callable[[dict[str, Any]], object]
    ) -> Iterator[tuple[str, str | None, str]]:
        """(field, error or None, rendered text) for each field the customer may lack, in turn."""
        for field, path, empty in lackable(self.journey, context, site):
            trial = _with(context, path, empty)
            try:
                result = run(trial)
            except StepError as exc:
                yield field, str(exc), ""
                continue
            yield field, None, str(result) if isinstance(result, str) else ""

    def _lines(self) -> list[str]:
        """The journey file's lines, read once per check (the file as loaded a moment ago)."""
        if self.lines is None:
            self.lines = self.loaded.path.read_text(encoding="utf-8").splitlines()
        return self.lines

    def column_position(self, site: Site, finding: Finding) -> tuple[int, int] | None:
        """The file position of the finding's character, when the condition sits on its key's line."""
        if "\n" in site.text:
            return None
        line, column = self.loaded.position_of(site.where)
        try:
            text = self._lines()[line - 1]
        except IndexError:
            return None
        start = text.find(site.text, column - 1)
        return (line, start + finding.column) if start >= 0 else None


def _at_column(text: str, finding: Finding) -> str:
    return f"{finding.message} (column {finding.column} of the condition: {text!r})"


def _guard(field: str) -> str:
    *parent, key = field.split(".")
    if len(parent) > 1:  # a key of identity or attributes
        return f"'{key}' in {'.'.join(parent)}"
    return f"{field} is not none" if LACKABLE.get(key) is None else field


def _with(context: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A copy of ``context`` with the dict at ``path[:-1]`` holding ``value`` at ``path[-1]`` (or not)."""
    head, *rest = path
    if not rest:
        copy = dict(context)
        if value is _ABSENT:
            copy.pop(head, None)
        else:
            copy[head] = value
        return copy
    return {**context, head: _with(context[head], tuple(rest), value)}


_ABSENT = object()


def lackable(journey: JourneySpec, context: dict[str, Any], site: Site) -> Iterator[tuple[str, tuple[str, ...], Any]]:
    """The fields this customer may lack, as (name, path in the context, the empty value)."""
    trigger = journey.trigger
    started_by = getattr(trigger, "scenario", None) or getattr(trigger, "event", None)
    profile = context["profile"]
    for field, empty in LACKABLE.items():
        if field in ORDER_FIELDS and (started_by in ORDERED or _mentions_orders(site.guards)):
            continue
        if f"profile.{field}" not in site.guards and profile.get(field) not in (None, [], {}):
            yield f"profile.{field}", ("profile", field), empty
    recipient = RECIPIENT_KEY.get(site.channel or "")
    for key in sorted(profile.get("identity", {})):
        if key not in (recipient, "member_id") and f"'{key}'" not in site.guards:
            yield f"profile.identity.{key}", ("profile", "identity", key), _ABSENT
    dated = trigger.date.attribute if isinstance(trigger, DateTrigger) else None
    for key in sorted(journey.sample.profile.get("attributes", {})):
        if key != dated and key not in site.guards:
            yield f"profile.attributes.{key}", ("profile", "attributes", key), _ABSENT


def _mentions_orders(guards: str) -> bool:
    return any(f"profile.{word}" in guards for word in ("orders", "spent", "lifecycle", *ORDER_FIELDS))


def _case_guards(journey: JourneySpec) -> dict[str, str]:
    """Step id → the branch conditions that lead straight to it (they guard what it reads)."""
    found: dict[str, str] = {}
    for step in journey.steps:
        if isinstance(step, BranchStep):
            for case in step.branch.cases:
                found[case.next] = f"{found.get(case.next, '')} {case.when}"
    return found


def conditions(journey: JourneySpec) -> Iterator[Site]:
    trigger = journey.trigger
    entry = " ".join(filter(None, [getattr(trigger, "when", None), journey.entry.when]))
    cases = _case_guards(journey)
    if isinstance(trigger, ScenarioTrigger | EventTrigger) and trigger.when:
        yield Site(("trigger", "when"), trigger.when, "")
    if isinstance(trigger, SegmentTrigger):
        yield Site(("trigger", "segment"), trigger.segment, "")
    if journey.entry.when:
        yield Site(("entry", "when"), journey.entry.when, getattr(trigger, "when", None) or "")
    if journey.goal and journey.goal.when:
        # goal and wait_for conditions judge the incoming event, whatever started the journey
        yield Site(("goal", "when"), journey.goal.when, entry, on_event=True)
    for index, step in enumerate(journey.steps):
        if step.when:
            yield Site(("steps", index, "when"), step.when, entry)
        guards = f"{entry} {step.when or ''} {cases.get(step.id, '')}"
        if isinstance(step, BranchStep):
            for i, case in enumerate(step.branch.cases):
                yield Site(("steps", index, "branch", "cases", i, "when"), case.when, guards)
        if isinstance(step, WaitForStep) and step.wait_for.when:
            yield Site(("steps", index, "wait_for", "when"), step.wait_for.when, guards, on_event=True)


def templates_of(journey: JourneySpec) -> Iterator[Site]:
    trigger = journey.trigger
    entry = " ".join(filter(None, [getattr(trigger, "when", None), journey.entry.when]))
    cases = _case_guards(journey)
    for index, step in enumerate(journey.steps):
        guards = f"{entry} {step.when or ''} {cases.get(step.id, '')}"
        if isinstance(step, SendStep):
            yield Site(("steps", index, "send", "template"), step.send.template, guards, step.send.channel)
            if step.send.fallback:
                back = step.send.fallback
                yield Site(("steps", index, "send", "fallback", "template"), back.template, guards, back.channel)
        elif isinstance(step, TaskStep):
            yield Site(("steps", index, "task", "template"), step.task.template, guards, "task")
