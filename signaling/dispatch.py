"""One wrapper for every client event: rate limit, validation, the handler, and the error contract.

Whatever a handler raises becomes `{ok: false, error}` (and an `error` event when the client asked
for no ack); nothing escapes to python-socketio, so no payload can crash or disconnect anyone.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import socketio
from redis.exceptions import RedisError

from sfu.api import MediaError
from signaling.errors import SignalingError, error_body
from signaling.hub import Hub, Session
from signaling.logs import LogGate, log_event
from signaling.metrics import SignalingMetrics
from signaling.validation import Limits, validate

log = logging.getLogger("signaling")

Handler = Callable[[Hub, Session, dict[str, Any]], Awaitable[dict[str, Any]]]

# Whether the event being handled carries an ack id; python-socketio does not tell handlers.
_ack_requested: contextvars.ContextVar[bool] = contextvars.ContextVar("ack_requested", default=True)


def track_ack_requests(sio: socketio.AsyncServer) -> None:
    """Wrap python-socketio's per-event entry point to record whether the client wants an ack.

    `_handle_event_internal(server, sid, eio_sid, data, namespace, id)` runs once per event in its
    own task, so a context variable set there is seen only by that event's handler.
    """
    original = sio._handle_event_internal

    async def wrapped(server: Any, sid: str, eio_sid: str, data: Any, namespace: str, id: int | None) -> None:
        _ack_requested.set(id is not None)
        await original(server, sid, eio_sid, data, namespace, id)

    sio._handle_event_internal = wrapped  # type: ignore[method-assign]


class Dispatcher:
    def __init__(self, hub: Hub, metrics: SignalingMetrics, gate: LogGate) -> None:
        self.hub = hub
        self.metrics = metrics
        self.gate = gate  # a client sending nothing but bad events gets one log line per interval
        self.limits = Limits(max_sdp_bytes=hub.settings.max_sdp_bytes)
        self.known: set[str] = set()

    async def handle(self, event: str, sid: str, args: tuple[Any, ...], handler: Handler | None) -> dict[str, Any]:
        """Run one client event through the checks in the contract's order and answer it."""
        session = self.hub.sessions.get(sid)
        try:
            if session is None or session.closed:
                raise SignalingError("unauthorized", "connection is not established")
            if not session.limiter.allow(event):
                raise SignalingError("rate_limited", "too many events; slow down")
            if handler is None:
                raise SignalingError("bad_request", "unknown event")
            payload = validate(event, args, self.limits)
            async with session.lock:
                if session.closed:
                    raise SignalingError("unauthorized", "connection is closing")
                result = await handler(self.hub, session, payload)
        except (SignalingError, MediaError) as exc:
            return await self._reject(event, sid, exc.code, exc.message, getattr(exc, "details", None))
        except (RedisError, OSError) as exc:
            self.hub.store.mark_unhealthy()
            log_event(log, "store_error", logging.WARNING, name=event, sid=sid, error=type(exc).__name__)
            return await self._reject(event, sid, "internal", "state store unavailable; try again")
        except Exception:
            log.exception("handler failed: %s", event)
            return await self._reject(event, sid, "internal", "internal error")
        self.metrics.handled.labels(event=event).inc()
        return {"ok": True, **result}

    async def _reject(
        self, event: str, sid: str, code: str, message: str, details: dict[str, str] | None = None
    ) -> dict[str, Any]:
        metric_event = event if event in self.known else "unknown"
        self.metrics.rejected.labels(event=metric_event, code=code).inc()
        held = self.gate.admit(sid, "rejected")
        if held is not None:
            log_event(log, "rejected", name=metric_event, code=code, sid=sid, **({"suppressed": held} if held else {}))
        if not _ack_requested.get():
            await self.hub.emit("error", {"event": event[:64], "code": code, "message": message, **(details or {})},
                                to=sid)
        return error_body(code, message, details)


def register(sio: socketio.AsyncServer, dispatcher: Dispatcher, handlers: dict[str, Handler]) -> None:
    """Attach every handler (and a catch-all that refuses unknown events) to the server."""
    dispatcher.known.update(handlers)
    for event, handler in handlers.items():
        def bind(event: str = event, handler: Handler = handler) -> Callable[..., Awaitable[dict[str, Any]]]:
            async def on_event(sid: str, *args: Any) -> dict[str, Any]:
                return await dispatcher.handle(event, sid, args, handler)
            return on_event
        sio.on(event, bind())

    async def on_unknown(event: str, sid: str, *args: Any) -> dict[str, Any]:
        return await dispatcher.handle(str(event), sid, args, None)

    sio.on("*", on_unknown)
