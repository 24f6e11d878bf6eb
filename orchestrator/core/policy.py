"""Contact policy, decided in one place before any send: consent and per-journey caps."""

from __future__ import annotations

from datetime import datetime

from orchestrator.core.journey_spec import JourneySpec
from orchestrator.core.state import CustomerState

SEND_HISTORY = 50  # sends remembered per journey, for caps


def refusal(state: CustomerState, journey: JourneySpec, channel: str, now: datetime) -> str | None:
    """Why a send on ``channel`` may not go out now, or None when it may."""
    if state.profile.consent.get(channel) is False:
        return "consent"
    cap = journey.send_cap
    if cap is not None:
        recent = [t for t in state.sends.get(journey.id, ()) if now - t < cap.per]
        if len(recent) >= cap.max:
            return "journey_send_cap"
    return None


def record_send(state: CustomerState, journey: JourneySpec, now: datetime) -> CustomerState:
    history = (*state.sends.get(journey.id, ()), now)[-SEND_HISTORY:]
    return state.model_copy(update={"sends": {**state.sends, journey.id: history}})
