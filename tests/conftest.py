"""Fixtures live in tests/fixtures; this file only lists them."""

pytest_plugins = ["tests.fixtures.servers"]
