"""The imperative shell around the core, framework-free: it sees ports, never faust or redis."""
