"""Structured logging: one line per record, key=value (default) or JSON, to stderr.

Handlers log through `log_event(logger, name, **fields)` so both formats carry the same fields.
By policy nothing here ever receives SDP bodies, tokens or chat text.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

_FIELDS = "sfu_fields"


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log `event` with structured fields (rendered as key=value or JSON keys)."""
    if logger.isEnabledFor(level):
        logger.log(level, event, extra={_FIELDS: fields}, exc_info=fields.pop("exc_info", None))


def _timestamp(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


def _kv_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    if text == "" or any(c in text for c in ' "=\n\t'):
        return json.dumps(text)
    return text


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] | None = getattr(record, _FIELDS, None)
        head = f"ts={_timestamp(record)} level={record.levelname.lower()} logger={record.name}"
        if fields is None:
            line = f"{head} {record.getMessage()}"
        else:
            rest = " ".join(f"{k}={_kv_value(v)}" for k, v in fields.items())
            line = f"{head} event={_kv_value(record.getMessage())}" + (f" {rest}" if rest else "")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {"ts": _timestamp(record), "level": record.levelname.lower(), "logger": record.name}
        fields: dict[str, Any] | None = getattr(record, _FIELDS, None)
        if fields is None:
            doc["msg"] = record.getMessage()
        else:
            doc["event"] = record.getMessage()
            doc.update(fields)
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str, separators=(",", ":"))


def configure_logging(log_format: str, log_level: str) -> None:
    """Send every logger to stderr in the chosen format ("kv" or "json")."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else KeyValueFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(log_level.upper())
    # Library chatter (per-packet lines, aiohttp access) stays out of INFO.
    for noisy in ("engineio", "socketio", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
