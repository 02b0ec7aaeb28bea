"""The one exception handlers raise to refuse an event; the dispatcher turns it into an error ack."""

from __future__ import annotations

from sfu.api import ErrorCode


class SignalingError(Exception):
    """A refusal with a protocol error code (see docs/protocol.md)."""

    def __init__(self, code: ErrorCode, message: str, **details: str) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.message = message
        self.details = details  # extra fields of the error object, e.g. `redirect`


def error_body(code: str, message: str, details: dict[str, str] | None = None) -> dict[str, object]:
    return {"ok": False, "error": {"code": code, "message": message, **(details or {})}}
