"""The Prometheus exposition: one prefix, base units, counters ending in _total, no per-customer labels."""

from __future__ import annotations

from collections import Counter

from prometheus_client.parser import text_string_to_metric_families

from orchestrator.adapters.metrics import Metrics
from orchestrator.service.report import BatchReport

STANDARD = ("process_", "python_")  # prometheus_client's process, platform and GC collectors


def _report() -> BatchReport:
    report = BatchReport()
    report.events.update({"order.paid": 3, "chat.message": 1})
    report.rejected.update({"json": 2})
    report.hits.update({"consumption_cycle_ending": 1})
    report.journeys.update({("entered", "replenish", 1): 1})
    report.actions.extend([("wecom_private", 0.004), ("sms", 0.2)])
    report.suppressed.update({("quiet_hours", "sms", "deferred"): 1})
    report.duplicates = 5
    return report


def test_a_batch_report_becomes_prometheus_samples() -> None:
    metrics = Metrics()
    metrics.observe(_report(), "process")
    families = {f.name: f for f in text_string_to_metric_families(metrics.exposition().decode())}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    assert samples[("xo_events_total", (("type", "order.paid"),))] == 3
    assert samples[("xo_events_rejected_total", (("reason", "json"), ("stage", "process")))] == 2
    assert samples[("xo_actions_total", (("channel", "sms"),))] == 1
    assert samples[("xo_inputs_duplicate_total", ())] == 5
    key = ("xo_sends_suppressed_total", (("channel", "sms"), ("outcome", "deferred"), ("reason", "quiet_hours")))
    assert samples[key] == 1
    assert samples[("xo_event_to_action_seconds_count", ())] == 2
    assert samples[("xo_event_to_action_seconds_bucket", (("le", "0.005"),))] == 1


def test_names_and_labels_follow_the_conventions() -> None:
    metrics = Metrics()
    metrics.observe(_report(), "process")
    labels: Counter[str] = Counter()
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        if family.name.startswith(STANDARD):
            continue
        assert family.name.startswith("xo_")
        if family.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples)
        if family.type == "histogram":
            assert family.name.endswith("_seconds")
        for sample in family.samples:
            labels.update(sample.labels.keys())
    assert not {"customer_id", "customer", "instance_id", "member_id"} & set(labels)


def test_stream_health_unknown_types_and_the_standard_collectors() -> None:
    metrics = Metrics(event_types={"order.paid"})
    report = _report()
    report.events.update({"x.made-up-1": 2, "x.made-up-2": 3})
    report.steps.update({("replenish", 1, "test_offer", "A"): 2, ("replenish", 1, "remind", "none"): 1})
    report.log_records.update({"entered": 1, "step": 3})
    metrics.observe(report, "process")
    text = metrics.exposition().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    assert samples[("xo_events_total", (("type", "other"),))] == 6  # chat.message and the made-up types
    assert not any("made-up" in str(key) for key in samples)
    step = ("step", "test_offer"), ("variant", "A"), ("version", "1")
    assert samples[("xo_journey_steps_total", (("journey", "replenish"), *step))] == 2
    assert samples[("xo_journey_log_records_total", (("kind", "step"),))] == 3
    for standard in (
        "process_cpu_seconds",
        "process_resident_memory_bytes",
        "python_info",
        "python_gc_objects_collected",
    ):
        assert standard in families, standard
