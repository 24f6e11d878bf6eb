"""Scenario detection: the moment a customer is in, from O data (orders, visits) and X data (chat, surveys).

One module per detector; ``detect`` runs them for an input and ``process`` emits their
hits (each occurrence once, to ``xo.scenarios`` and the journeys that trigger on it):

* ``cycle``         consumption_cycle_ending: run-out from the catalog or the customer's rhythm; chat
* ``friends``       buying_for_friends: a friend asked, a gift order, a recipient who is not the buyer
* ``moving``        moving_house: big kitchen appliances in a window, install requests, chat
* ``standing``      lifecycle.changed and value_tier.changed (``lifecycle``, ``value_tier``)
* ``service_due``   service_due: time or projected mileage since the last service
* ``surveys``       survey_tagged, high_effort and nps_promoter / nps_passive / nps_detractor, from survey answers
* ``intents``       chat intents by phrase and keyword, word boundaries and negation

Settings come from ``journeys/scenarios.yaml`` (``core.scenario_spec``).
"""

from orchestrator.core.scenarios.names import CYCLE_ENDING, CYCLE_PREFIX, SAMPLE_EVIDENCE, SCENARIOS

__all__ = ["CYCLE_ENDING", "CYCLE_PREFIX", "SAMPLE_EVIDENCE", "SCENARIOS"]
