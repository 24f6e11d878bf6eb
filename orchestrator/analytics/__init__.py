"""The read side: what journeys did, from the journey log (core.journey_log).

``reader`` turns simulate output files and ``<prefix>.journey-log`` records into log
records and receipts; ``funnel`` counts them per journey and version; ``stats`` compares
the arms of a split (scipy); ``render`` and ``html`` present the result; ``explain`` tells
one customer's story. Nothing here runs on the engine's hot path.
"""
