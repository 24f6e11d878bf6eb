"""Log output: faust's plain text (the default), or one JSON object per line (XO_LOG_FORMAT=json).

JSON mode renders every record of the process — ours, faust's, aiokafka's — through structlog's
``ProcessorFormatter`` on stderr: ``{"timestamp", "level", "logger", "event", ...extra fields}``,
with exceptions as an ``exception`` string. Records that carry fields (``extra=``) keep them as
keys, e.g. a step failure's ``customer_id``, ``journey``, ``step`` and ``reason``. faust's ASCII
tables (partition assignments, topic lists) are cut out of the message: one record, one line,
no box drawing; faust's console banner and spinner are off (the worker runs quiet).
"""

from __future__ import annotations

import logging
import logging.config
import re
from collections.abc import MutableMapping
from typing import Any

import structlog

# A line of one of faust's tables: box drawing (┌│├└) or ASCII (+---+, | a | b |).
_TABLE_LINE = re.compile(r"^\s*[┌│├└┐┘┤┬┴┼─═╒╞╘|+]")


def _drop_tables(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    message = event_dict.get("event")
    if isinstance(message, str) and "\n" in message:
        lines = [line for line in message.splitlines() if line.strip() and not _TABLE_LINE.match(line)]
        event_dict["event"] = " ".join(line.strip() for line in lines)
    return event_dict


def json_config(level: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` mapping: the root logger writes JSON lines to stderr."""
    pre_chain = [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        structlog.stdlib.ExtraAdder(),
        _drop_tables,
    ]
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": structlog.stdlib.ProcessorFormatter,
                "foreign_pre_chain": pre_chain,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    structlog.processors.JSONRenderer(ensure_ascii=False),
                ],
            }
        },
        "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "root": {"level": level.upper(), "handlers": ["default"]},
    }


def configure(log_format: str, level: str) -> dict[str, Any] | None:
    """Set up logging for a command; returns the config faust's worker must keep (JSON mode),
    or None to let faust set up its own text logging."""
    if log_format != "json":
        return None
    config = json_config(level)
    logging.config.dictConfig(config)
    return config
