"""A OneID merge, pure: the survivor absorbs the retired customer's state.

The survivor holds both histories afterwards:

* profile facts combined in event-time order: orders, purchases and services (each once, by
  order id / time), survey scores (counts and means combined, the later answer last), tags,
  points (summed), identifiers and attributes (the survivor's win, the retired one's fill gaps),
  consent (the later decision per channel wins, by ``consent_at``; without a time, the
  survivor's);
* both customers' journey instances continue; where both run the same journey, the earlier
  entry stays and the other ends with reason ``merged``;
* timers (re-homed: set again on the survivor, so the shell indexes them on its partition),
  dedupe ids, fired occurrences, entry history, segments, the send log (caps are not reset)
  and open goal windows.

Stages, tiers and risk are derived: the detectors re-evaluate them on the survivor's next
input. The merge id (retired id and version) is remembered in ``seen``, so a redelivered
merge changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Protocol, TypeVar

from orchestrator.core import machine
from orchestrator.core.runtime import WAIT_PREFIX, Ctx, Effects
from orchestrator.core.scenarios.names import FIRED_WINDOW
from orchestrator.core.state import (
    ORDER_WINDOW,
    PURCHASE_WINDOW,
    SEEN_WINDOW,
    SERVICE_WINDOW,
    CustomerState,
    Instance,
    Profile,
    ScoreStat,
)


def merge_id(retired: CustomerState) -> str:
    return f"merge:{retired.customer_id}@{retired.version}"


def absorb(state: CustomerState, retired: CustomerState, ctx: Ctx, fx: Effects) -> CustomerState:
    """``state`` (the survivor) with everything ``retired`` held; journeys in both: the earlier stays."""
    key = merge_id(retired)
    if key in state.seen:
        return state
    merged = state.model_copy(
        update={
            "profile": merge_profiles(state.profile, retired.profile),
            "last_entered": _latest(state.last_entered, retired.last_entered),
            "seen": _window((*retired.seen, *state.seen, key), SEEN_WINDOW),
            "seen_digests": _window((*retired.seen_digests, *state.seen_digests), SEEN_WINDOW),
            "fired": _window((*retired.fired, *state.fired), FIRED_WINDOW),
            "segments": {**retired.segments, **state.segments},
            "send_log": tuple(sorted({*state.send_log, *retired.send_log}, key=lambda s: (s.at, s.channel))),
            "attribution": tuple(dict.fromkeys((*state.attribution, *retired.attribution))),
        }
    )
    kept_from_retired: set[str] = set()  # ids in both whose earlier entry was the retired one's
    for instance in sorted(retired.instances.values(), key=lambda i: (i.entered_at, i.id)):
        mine = merged.instances.get(instance.id)
        if mine is not None:  # one id on both sides: the earlier entry stays under it
            fx.journey_events.append(("merged", instance.journey_id, instance.version))
            if (mine.entered_at, 0) <= (instance.entered_at, 1):
                continue
            kept_from_retired.add(instance.id)
        merged = merged.model_copy(update={"instances": {**merged.instances, instance.id: instance}})
    for timer in retired.timers.values():
        mine_timer = merged.timers.get(timer.id)
        wait_of = timer.id.removeprefix(WAIT_PREFIX) if timer.id.startswith(WAIT_PREFIX) else None
        if wait_of is not None and wait_of in state.instances and wait_of not in kept_from_retired:
            continue  # the survivor's instance stayed: its wait stays
        if mine_timer is None or wait_of is not None or timer.due_at < mine_timer.due_at:
            merged = fx.set_timer(merged, timer)
    for loser in _second_entries(merged.instances.values()):
        merged = machine.end(merged, loser, "merged", ctx, fx)
    return merged


def merge_profiles(mine: Profile, theirs: Profile) -> Profile:
    known_orders = {o.order_id for o in mine.order_log}
    extra_orders = [o for o in theirs.order_log if o.order_id not in known_orders]
    paid_extra = [o for o in extra_orders if not o.refunded]
    return mine.model_copy(
        update={
            "name": mine.name or theirs.name,
            "identity": {**theirs.identity, **mine.identity},
            "attributes": {**theirs.attributes, **mine.attributes},
            "tags": tuple(dict.fromkeys((*mine.tags, *theirs.tags))),
            **_consent(mine, theirs),
            "points": mine.points + theirs.points,
            "orders": mine.orders + len(paid_extra),
            "spent": mine.spent + sum(o.amount for o in paid_extra),
            "first_seen_at": _earliest_of(mine.first_seen_at, theirs.first_seen_at),
            "last_event_at": _latest_of(mine.last_event_at, theirs.last_event_at),
            "last_order_at": _latest_of(mine.last_order_at, theirs.last_order_at),
            "purchases": _union(mine.purchases, theirs.purchases, lambda p: (p.order_id, p.sku), PURCHASE_WINDOW),
            "refunded_orders": tuple(dict.fromkeys((*mine.refunded_orders, *theirs.refunded_orders))),
            "order_log": _union(mine.order_log, theirs.order_log, lambda o: o.order_id, ORDER_WINDOW),
            "services": _union(mine.services, theirs.services, lambda s: s.time, SERVICE_WINDOW),
            "experience": _experience(mine.experience, theirs.experience),
            "last_hits": _latest(mine.last_hits, theirs.last_hits),
        }
    )


def _consent(mine: Profile, theirs: Profile) -> dict[str, object]:
    """Per channel, the later decision wins (one without a time counts as the earliest; a tie: mine)."""
    consent, consent_at = dict(mine.consent), dict(mine.consent_at)
    for channel, granted in theirs.consent.items():
        their_at, my_at = theirs.consent_at.get(channel), mine.consent_at.get(channel)
        if channel not in mine.consent or (their_at is not None and (my_at is None or their_at > my_at)):
            consent[channel] = granted
            if their_at is not None:
                consent_at[channel] = their_at
    return {"consent": consent, "consent_at": consent_at}


class _Dated(Protocol):
    @property
    def time(self) -> datetime: ...


D = TypeVar("D", bound=_Dated)


def _union(mine: tuple[D, ...], theirs: tuple[D, ...], key: Callable[[D], object], window: int) -> tuple[D, ...]:
    """Both histories once each (mine first on a tie), in event-time order, the newest ``window`` kept."""
    seen: dict[object, D] = {}
    for item in (*mine, *theirs):
        seen.setdefault(key(item), item)
    return tuple(sorted(seen.values(), key=lambda item: item.time)[-window:])


def _experience(
    mine: dict[str, dict[str, ScoreStat]], theirs: dict[str, dict[str, ScoreStat]]
) -> dict[str, dict[str, ScoreStat]]:
    merged = {touchpoint: dict(metrics) for touchpoint, metrics in mine.items()}
    for touchpoint, metrics in theirs.items():
        into = merged.setdefault(touchpoint, {})
        for metric, stat in metrics.items():
            own = into.get(metric)
            into[metric] = stat if own is None else _combine(own, stat)
    return merged


def _combine(a: ScoreStat, b: ScoreStat) -> ScoreStat:
    later = a if a.at >= b.at else b
    count = a.count + b.count
    return ScoreStat(last=later.last, mean=(a.mean * a.count + b.mean * b.count) / count, count=count, at=later.at)


def _second_entries(instances: Iterable[Instance]) -> list[Instance]:
    """Instances of a journey that another instance of the same journey entered before."""
    first: dict[str, Instance] = {}
    losers = []
    for instance in sorted(instances, key=lambda i: (i.entered_at, i.id)):
        if instance.journey_id in first:
            losers.append(instance)
        else:
            first[instance.journey_id] = instance
    return losers


def _latest(a: dict[str, datetime], b: dict[str, datetime]) -> dict[str, datetime]:
    return {k: max(v for v in (a.get(k), b.get(k)) if v is not None) for k in {*a, *b}}


def _latest_of(a: datetime | None, b: datetime | None) -> datetime | None:
    return max((v for v in (a, b) if v is not None), default=None)


def _earliest_of(a: datetime | None, b: datetime | None) -> datetime | None:
    return min((v for v in (a, b) if v is not None), default=None)


def _window(items: tuple[str, ...], size: int) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))[-size:]
