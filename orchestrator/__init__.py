"""xo-journeys: event-driven journey orchestration for private-domain retail."""

__version__ = "0.1.0"
