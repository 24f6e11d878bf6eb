"""The worker settles its heap before it starts: jieba's dictionary loaded, the start-up objects
frozen out of the cyclic collector's walks (a full collection walked them all, ~17 ms)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from orchestrator.bootstrap import build
from orchestrator.faust_app import settle_heap
from orchestrator.segmentation import JiebaTokenizer
from orchestrator.settings import Settings


@pytest.fixture
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()  # the rest of the test session collects as usual


@pytest.mark.usefixtures("unfrozen")
def test_the_start_up_heap_is_frozen_with_jieba_loaded() -> None:
    wired = build(Settings())
    tokenizer = wired.world.tokenizer
    assert isinstance(tokenizer, JiebaTokenizer)
    assert tokenizer._jieba is None  # noqa: SLF001 - loaded on the first cut
    before = gc.get_freeze_count()
    settle_heap(wired)
    assert tokenizer._jieba is not None  # noqa: SLF001 - loaded before the freeze, so frozen with the rest
    assert gc.get_freeze_count() > before + 100_000  # the journeys, jieba, the libraries
    # What a full collection walks now: what was made since, a small part of it.
    assert len(gc.get_objects()) < gc.get_freeze_count() / 10
