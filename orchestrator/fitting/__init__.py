"""Offline fitting of the figures the predictive detectors read (``core.figures``): ``orchestrator fit``."""
