"""Per-customer limits: what accumulates across events is bounded, whatever upstream sends.

Single events are bounded at the door (``events``, ``event_data``: identifier, id and text
lengths, numbers, items per order, attributes per event). What builds up over many events
is bounded here, after every input, on the state ``process`` returns: the first entries
are kept and new ones beyond a limit are refused, and the outcome names each limit that
refused something (the worker counts them in ``xo_state_limited_total{limit}``).

| what (per customer)              | limit |
| -------------------------------- | ----- |
| profile attributes               | 64    |
| tags                             | 64    |
| consent channels                 | 16    |
| survey touchpoints               | 20    |
| categories kept per order        | 10    |
| refunded order ids remembered    | 100 (the newest) |
| orders, purchases, services kept | 100, 100, 20 (the newest; ``state``) |
| remembered events                | 256 (the newest; ``state.SEEN_WINDOW``), 24 characters each (``dedupe``) |
| merge steps remembered           | 256 (``state.seen``, ``SEEN_WINDOW``) |
| scenario occurrences remembered  | 100 (``scenarios.names.FIRED_WINDOW``) |
| ended instances still attributed | 20 (``machine.ATTRIBUTION_WINDOW``) |
| sends remembered                 | 31 days (``journey_spec.SEND_LOG_WINDOW``, for frequency caps) |

A mature customer's state is dominated by its purchase and order histories (about 220 and 130
bytes an entry as JSON: ~35 kB at the caps), then the 256 remembered events (~7 kB).
"""

from __future__ import annotations

from typing import Any

from orchestrator.core.state import CustomerState, Profile

MAX_ATTRIBUTES = 64
MAX_TAGS = 64
MAX_CONSENT_CHANNELS = 16
MAX_TOUCHPOINTS = 20
MAX_ORDER_CATEGORIES = 10


def _first(mapping: dict[str, Any], limit: int) -> dict[str, Any]:
    return dict(list(mapping.items())[:limit])


def _consent(consent: dict[str, bool]) -> dict[str, bool]:
    """Revocations are kept before grants (an absent channel counts as granted, so dropping a
    revocation would resume sends): the newest revocations, then the oldest grants."""
    revoked = [k for k, granted in consent.items() if not granted][-MAX_CONSENT_CHANNELS:]
    granted = [k for k, granted in consent.items() if granted][: MAX_CONSENT_CHANNELS - len(revoked)]
    kept = {*revoked, *granted}
    return {k: v for k, v in consent.items() if k in kept}


def bound_profile(profile: Profile) -> tuple[Profile, tuple[str, ...]]:
    """The profile within the limits, and the names of the limits that refused something."""
    update: dict[str, Any] = {}
    if len(profile.attributes) > MAX_ATTRIBUTES:
        update["attributes"] = _first(profile.attributes, MAX_ATTRIBUTES)
    if len(profile.tags) > MAX_TAGS:
        update["tags"] = profile.tags[:MAX_TAGS]
    if len(profile.consent) > MAX_CONSENT_CHANNELS:
        update["consent"] = _consent(profile.consent)
    kept = update.get("consent", profile.consent)
    if any(channel not in kept for channel in profile.consent_at):  # decision times of kept channels only
        update["consent"] = kept
        update["consent_at"] = {k: v for k, v in profile.consent_at.items() if k in kept}
    if len(profile.experience) > MAX_TOUCHPOINTS:
        update["experience"] = _first(profile.experience, MAX_TOUCHPOINTS)
    if not update:
        return profile, ()
    return profile.model_copy(update=update), tuple(update)


def bound_state(state: CustomerState) -> tuple[CustomerState, tuple[str, ...]]:
    profile, limited = bound_profile(state.profile)
    if not limited:
        return state, ()
    return state.model_copy(update={"profile": profile}), limited
