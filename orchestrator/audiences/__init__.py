"""Audiences: who a scheduled or segment journey may reach, kept on commit (pure, like the core).

A schedule journey asks its audience at every occurrence; today's customers outside it cost
nothing. After every commit ``membership`` says which audiences the customer is in (with
their time zone, since a schedule fires on each customer's wall clock), ``changes`` what the
index must add (before the state commit) and remove (after it). ``schedule`` places each
occurrence in a zone (DST-safe, through ``World.cron``) and holds the walk's cursor.

The index is a pre-filter, never the judge: the core still checks the entry rules when the
occurrence reaches the customer (``core.triggers.occurrence``), so a stale entry is harmless.
Adapters: ``adapters.redis_audiences`` (Redis, cluster-safe), ``service.simulate`` (memory).
"""

from orchestrator.audiences.membership import PROBE_DAYS, Entry, Membership, changes, membership, time_dependent
from orchestrator.audiences.schedule import Cursor, first_occurrence, following_occurrence, scheduled_journeys

__all__ = [
    "PROBE_DAYS",
    "Cursor",
    "Entry",
    "Membership",
    "changes",
    "first_occurrence",
    "following_occurrence",
    "membership",
    "scheduled_journeys",
    "time_dependent",
]
