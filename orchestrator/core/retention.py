"""Retention, pure: what is kept of a customer who has been inactive for long.

A customer is inactive when nothing happened to them for ``inactive_after`` (event time),
no journey instance is running and no goal window is open. What is kept then is the minimum
that keeps promises to them if they come back: consent refusals (never message someone who
said no), entry history (a ``reentry: never`` journey stays done), fired occurrences, the
dedupe window, and the identity-graph keys it owns (the graph still routes them here, and an
erasure must find them). Profile facts, histories, scores and the timers of detectors and schedules go:
a returning customer starts a new profile.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from orchestrator.core.state import CustomerState, Profile


def is_inactive(state: CustomerState, now: datetime, inactive_after: timedelta) -> bool:
    last = state.profile.last_event_at
    if last is None or state.instances or state.forgotten_at is not None:
        return False
    return last < now - inactive_after and all(a.until < now for a in state.attribution)


def minimal(state: CustomerState) -> CustomerState:
    """The state reduced to what retention keeps; its version moves on so a racing commit loses."""
    profile = state.profile
    refusals = {channel: False for channel, granted in profile.consent.items() if granted is False}
    decided = {channel: at for channel, at in profile.consent_at.items() if channel in refusals}
    return CustomerState.new(state.customer_id).model_copy(
        update={
            "version": state.version + 1,
            "profile": Profile(consent=refusals, consent_at=decided, tz=profile.tz),
            "identifiers": state.identifiers,
            "last_entered": state.last_entered,
            "seen": state.seen,
            "seen_digests": state.seen_digests,
            "fired": state.fired,
        }
    )
