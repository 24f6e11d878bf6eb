"""Helpers shared by the configuration tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.config.catalog import load_config
from orchestrator.errors import ConfigError


def problems(root: Path) -> list[str]:
    """Every problem load_config reports for the tree at ``root``, with paths relative to it."""
    with pytest.raises(ConfigError) as caught:
        load_config(root / "journeys", root / "templates")
    return [str(p).replace(str(root) + "/", "") for p in caught.value.problems]
