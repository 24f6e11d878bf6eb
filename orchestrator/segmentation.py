"""Chinese word segmentation with jieba: the core's ``Tokenizer`` port, outside the core.

Each ``JiebaTokenizer`` owns a private ``jieba.Tokenizer`` (the module-level one is
global state) with the project's words added (``jieba.add_word``), so that 快吃完 or
什么牌子 stay whole instead of falling apart into characters. jieba loads its dictionary
(about a second; cached under the temp folder afterwards) on the first line it cuts, not
when the worker starts or ``validate`` runs. Its log is kept at WARNING. HMM discovery of
unknown words is off: the same dictionary always gives the same cut.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Iterable

with warnings.catch_warnings():
    # jieba 0.42 imports pkg_resources when setuptools is around, which warns on import.
    warnings.simplefilter("ignore")
    import jieba  # type: ignore[import-untyped]

from orchestrator.core.text import normalize

logging.getLogger("jieba").setLevel(logging.WARNING)
jieba.setLogLevel(logging.WARNING)


class JiebaTokenizer:
    """Implements ``orchestrator.core.text.Tokenizer``."""

    def __init__(self, words: Iterable[str]) -> None:
        self.words = tuple(dict.fromkeys(normalize(w) for w in words if w))
        self._jieba: jieba.Tokenizer | None = None
        self._lock = threading.Lock()

    def cut(self, text: str) -> list[str]:
        return list(self._ready().cut(text, HMM=False))

    def _ready(self) -> jieba.Tokenizer:
        with self._lock:
            if self._jieba is None:
                tokenizer = jieba.Tokenizer()
                for word in self.words:
                    tokenizer.add_word(word)
                self._jieba = tokenizer
            return self._jieba
