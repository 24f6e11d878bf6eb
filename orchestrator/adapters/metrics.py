"""Every Prometheus metric of the engine, defined here and nowhere else (prefix ``xo_``).

No customer or instance labels: journey, version, step, variant, channel, type and reason
only, and none whose values upstream data can multiply: an event type the configuration
does not declare is counted as ``other``. The registry also carries the standard process,
platform (python_info) and garbage-collector collectors.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import (
    GC_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

from orchestrator.core import World
from orchestrator.core.journey_spec import EventTrigger, WaitForStep
from orchestrator.service.report import BatchReport

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
OTHER = "other"
# Event types the core itself reads (profile folds, detectors, receipts, task reports).
CORE_EVENT_TYPES = frozenset(
    {
        "chat.message",
        "consent.changed",
        "customer.registered",
        "lifecycle.changed",
        "order.paid",
        "order.refunded",
        "profile.updated",
        "service.completed",
        "survey.answered",
        "value_tier.changed",
        "message.delivered",
        "message.clicked",
        "message.replied",
        "task.completed",
        "task.skipped",
    }
)


def declared_event_types(world: World) -> frozenset[str]:
    """The event types the configuration names: triggers, goals, exits, awaited events, plus the core's own."""
    named: set[str] = set(CORE_EVENT_TYPES)
    for journey in world.journeys:
        if isinstance(journey.trigger, EventTrigger):
            named.add(journey.trigger.event)
        if journey.goal is not None:
            named.add(journey.goal.event)
        named.update(journey.exit_on)
        named.update(s.wait_for.event for s in journey.steps if isinstance(s, WaitForStep))
    return frozenset(named)


TIMER_LATENESS_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 3600.0)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None, event_types: Iterable[str] | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.event_types = frozenset(event_types) if event_types is not None else CORE_EVENT_TYPES
        if registry is None:  # a registry of its own gets the standard collectors (the default one has them)
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
            if GC_COLLECTOR is not None:
                GCCollector(registry=r)
        self._stream_health(r)
        self._journey_sets(r)
        self.events = Counter("xo_events", "Events processed, by type.", ["type"], registry=r)
        self.rejected = Counter(
            "xo_events_rejected", "Records sent to the DLQ, by reason and stage.", ["reason", "stage"], registry=r
        )
        self.duplicates = Counter("xo_inputs_duplicate", "Inputs seen before (redeliveries), ignored.", registry=r)
        self.timers_fired = Counter("xo_timers_fired", "Timers that came due and were processed.", registry=r)
        self.hits = Counter("xo_scenario_hits", "Scenario hits, by scenario.", ["scenario"], registry=r)
        self.journeys = Counter(
            "xo_journey_transitions",
            "Journey instances entered, completed, exited, reached goal or failed.",
            ["journey", "version", "transition"],
            registry=r,
        )
        self.actions = Counter("xo_actions", "Actions produced and acknowledged, by channel.", ["channel"], registry=r)
        self.step_errors = Counter(
            "xo_step_errors", "Journey steps that failed, by journey and step.", ["journey", "step"], registry=r
        )
        self.conversions = Counter(
            "xo_journey_conversions",
            "Goals reached, by variant (holdouts and ended instances too).",
            ["journey", "version", "variant"],
            registry=r,
        )
        self.suppressed = Counter(
            "xo_sends_suppressed",
            "Sends the contact policy deferred or dropped.",
            ["reason", "channel", "outcome"],
            registry=r,
        )
        self.limited = Counter(
            "xo_state_limited", "Inputs a per-customer limit refused part of, by limit.", ["limit"], registry=r
        )
        self.quarantined = Counter(
            "xo_customers_quarantined", "Batches that met a customer whose stored state cannot be loaded.", registry=r
        )
        self.republished = Counter("xo_outbox_republished", "Outbox records produced again after a crash.", registry=r)
        # OneID: identifiers linked, merges, refused links (type and reason), inputs forwarded by a redirect.
        self.identity = Counter(
            "xo_identity", "OneID: links, merges, retired ids, merge requests, forwarded inputs.", ["what"], registry=r
        )
        self.identity_refused = Counter(
            "xo_identity_refused",
            "Links refused (never applied), by identifier type and reason.",
            ["type", "reason"],
            registry=r,
        )
        self.latency = Histogram(
            "xo_event_to_action_seconds",
            "From the input record's arrival in the worker to the action's produce ack.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.timer_lateness = Histogram(
            "xo_timer_lateness_seconds",
            "From a timer's due time to the pump handing it to the stream (restarts and backlogs show here).",
            buckets=TIMER_LATENESS_BUCKETS,
            registry=r,
        )
        # The single pass: xo.events records processed where they landed, or re-keyed to their customer.
        self.routed = Counter(
            "xo_records_routed", "xo.events records by path: here (key canonical) or rekeyed.", ["path"], registry=r
        )

    def _stream_health(self, r: CollectorRegistry) -> None:
        self.steps = Counter(
            "xo_journey_steps",
            "Journey steps reached, by journey, version, step and variant (none before a split).",
            ["journey", "version", "step", "variant"],
            registry=r,
        )
        self.log_records = Counter(
            "xo_journey_log_records", "Journey-log records written, by kind.", ["kind"], registry=r
        )
        self.consumer_lag = Gauge(
            "xo_consumer_lag",
            "Records not yet read, per input topic partition this worker owns (high water - position).",
            ["topic", "partition"],
            registry=r,
        )
        self.timers_due = Gauge(
            "xo_timer_pump_due",
            "Due timers the last pump handed to the stream (at the batch limit: a backlog).",
            registry=r,
        )

    def _journey_sets(self, r: CollectorRegistry) -> None:
        self.journey_set = Gauge(
            "xo_journey_set_info",
            "The journey set this worker runs (1), named by a digest of its files.",
            ["digest"],
            registry=r,
        )
        self.journey_reloads = Counter(
            "xo_journey_reloads", "Changed journey sets applied or refused without a restart.", ["outcome"], registry=r
        )

    def observe(self, report: BatchReport, stage: str) -> None:
        for kind, count in report.events.items():
            self.events.labels(kind if kind in self.event_types else OTHER).inc(count)
        self._observe_journeys(report)
        for reason, count in report.rejected.items():
            self.rejected.labels(reason, stage).inc(count)
        self.duplicates.inc(report.duplicates)
        self.timers_fired.inc(report.timers_fired)
        for scenario, count in report.hits.items():
            self.hits.labels(scenario).inc(count)
        for (transition, journey, version), count in report.journeys.items():
            self.journeys.labels(journey, str(version), transition).inc(count)
        for channel, seconds in report.actions:
            self.actions.labels(channel).inc()
            self.latency.observe(seconds)
        for failure in report.failures:
            self.step_errors.labels(failure.journey_id, failure.step).inc()
        for (journey, version, variant), count in report.conversions.items():
            self.conversions.labels(journey, str(version), variant).inc(count)
        for (reason, channel, outcome), count in report.suppressed.items():
            self.suppressed.labels(reason, channel, outcome).inc(count)
        self.republished.inc(report.republished)
        for limit, count in report.limited.items():
            self.limited.labels(limit).inc(count)
        self.quarantined.inc(report.quarantined)
        self._observe_identity(report)

    def _observe_identity(self, report: BatchReport) -> None:
        for what, count in report.identity.items():
            self.identity.labels(what).inc(count)
        for (kind, reason), count in report.identity_refused.items():
            self.identity_refused.labels(kind, reason).inc(count)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def _observe_journeys(self, report: BatchReport) -> None:
        for (journey, version, step, variant), count in report.steps.items():
            self.steps.labels(journey, str(version), step, variant).inc(count)
        for kind, count in report.log_records.items():
            self.log_records.labels(kind).inc(count)


SEND_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ChannelMetrics:
    """A channel worker's metrics (``xo_channel_``), on its own /metrics; labels: channel, reason."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.sent = Counter("xo_channel_sent", "Actions the provider accepted.", ["channel"], registry=r)
        self.deduplicated = Counter(
            "xo_channel_deduplicated", "Copies of actions already handled (not sent again).", ["channel"], registry=r
        )
        self.expired = Counter("xo_channel_expired", "Actions not sent: not_after had passed.", ["channel"], registry=r)
        self.failed = Counter(
            "xo_channel_failed", "Actions that failed for good, by reason.", ["channel", "reason"], registry=r
        )
        self.retries = Counter(
            "xo_channel_retries", "Send attempts retried after a transient failure.", ["channel"], registry=r
        )
        self.receipts = Counter(
            "xo_channel_receipts", "Receipts produced to the events topic, by type.", ["channel", "type"], registry=r
        )
        self.held = Counter(
            "xo_channel_held",
            "Staff sends outside working hours: held, released when the hours began, or expired before them.",
            ["channel", "outcome"],
            registry=r,
        )
        self.latency = Histogram(
            "xo_channel_send_seconds", "One provider call, accepted.", ["channel"], buckets=SEND_BUCKETS, registry=r
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
