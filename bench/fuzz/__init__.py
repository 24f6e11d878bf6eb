"""A standing fuzz campaign against a live worker: ``make fuzz`` (``python -m bench.fuzz``)."""
