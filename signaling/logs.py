"""Structured logging: one line per record, key=value (default) or JSON, to stderr.

Handlers log through `log_event(logger, name, **fields)` so both formats carry the same fields.
By policy nothing here ever receives SDP bodies, tokens or chat text.

Field values may come from clients (user ids, event names, library messages quoting a header), so
both formats escape every control, format (bidi, zero-width) and line-separator character: nothing
a client sends can start a new line, rewrite a terminal or reorder what an operator reads.
A record's traceback lines are prefixed with `  | `, so no line of one can pass for a record.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
import unicodedata
from typing import Any

_FIELDS = "sfu_fields"
# Control, format (bidi, zero-width), surrogate, private, unassigned, line/paragraph separators.
_UNSAFE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
TRACEBACK_PREFIX = "  | "


def _json_escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # JSON writes astral characters as a surrogate pair
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def escape_unsafe(text: str) -> str:
    """`text` with every unsafe character written as a JSON `\\uXXXX` escape (spaces stay)."""
    if text.isascii() and text.isprintable():
        return text
    return "".join(_json_escape(c) if unicodedata.category(c) in _UNSAFE else c for c in text)


class LogGate:
    """At most one log line per `interval` seconds per (source, kind): a client flooding bad input
    must not flood the log. Held-back lines are counted and reported with the next admitted one.

    Sources are connection ids; `forget` them at disconnect. The table is bounded all the same
    (oldest source dropped first), so forgotten `forget`s cannot grow it without limit.
    """

    def __init__(self, interval: float = 10.0, max_sources: int = 10_000) -> None:
        self.interval = interval
        self.max_sources = max_sources
        self._state: dict[str, dict[str, list[float]]] = {}

    def admit(self, source: str, kind: str, interval: float | None = None, now: float | None = None) -> int | None:
        """None: do not log this one. Otherwise log it; the value is how many were held back before it.

        `interval=math.inf` logs a kind once per source (per connection)."""
        now = time.monotonic() if now is None else now
        kinds = self._state.get(source)
        if kinds is None:
            if len(self._state) >= self.max_sources:
                self._state.pop(next(iter(self._state)))
            kinds = self._state[source] = {}
        entry = kinds.get(kind)
        gap = self.interval if interval is None else interval
        if entry is None:
            kinds[kind] = [now, 0]
            return 0
        if now - entry[0] >= gap and not math.isinf(gap):
            held = int(entry[1])
            entry[0], entry[1] = now, 0
            return held
        entry[1] += 1
        return None

    def forget(self, source: str) -> None:
        self._state.pop(source, None)


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log `event` with structured fields (rendered as key=value or JSON keys)."""
    if logger.isEnabledFor(level):
        logger.log(level, event, extra={_FIELDS: fields}, exc_info=fields.pop("exc_info", None))


def _timestamp(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


def _kv_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), default=str)
    if text == "" or not text.isprintable() or any(c in text for c in ' "=\\'):
        return escape_unsafe(json.dumps(text, ensure_ascii=False))
    return text


def _traceback_lines(text: str) -> str:
    return "".join(f"\n{TRACEBACK_PREFIX}{escape_unsafe(line)}" for line in text.splitlines())


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] | None = getattr(record, _FIELDS, None)
        head = f"ts={_timestamp(record)} level={record.levelname.lower()} logger={record.name}"
        if fields is None:  # a library's free text: may quote client input (a header, an event name)
            line = f"{head} {escape_unsafe(record.getMessage())}"
        else:
            rest = " ".join(f"{k}={_kv_value(v)}" for k, v in fields.items())
            line = f"{head} event={_kv_value(record.getMessage())}" + (f" {rest}" if rest else "")
        if record.exc_info:
            line += _traceback_lines(self.formatException(record.exc_info))
        if record.stack_info:
            line += _traceback_lines(self.formatStack(record.stack_info))
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
        # ensure_ascii escapes every non-ASCII character (bidi included) and C0 controls; DEL is left
        return json.dumps(doc, default=str, separators=(",", ":")).replace("\x7f", "\\u007f")


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
