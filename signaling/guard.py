"""Refuses, before python-socketio acts on them, the Socket.IO packets no client of this protocol sends.

- **Reserved event names.** python-socketio dispatches a client's `["connect", ...]` or
  `["disconnect"]` to the server's own lifecycle handlers like any event (re-authentication under
  another identity, sessions forgotten while their socket stays open, ghost members), and a client's
  `"*"` to the catch-all with its arguments shifted (another connection's id as `sid`). Events whose
  name is reserved, not a string or missing are answered `bad_request` and never reach a handler
  (python-socketio would fail on a missing name, or on a list as a dictionary key).
- **Binary attachments.** A BINARY_EVENT header announcing N attachments makes python-socketio keep
  every following binary frame until N arrived, without limit. The protocol has no binary data: the
  event is answered `bad_request` and its attachments are skipped as they arrive (never kept); an
  announcement of more than `MAX_SKIPPED_ATTACHMENTS`, or a binary frame nobody announced, closes
  that connection.
- **Acks from clients** (the server never asks for one) and packets python-socketio cannot decode are
  dropped; each would otherwise log a warning or a traceback per packet.

Each refusal is counted in `sfu_signaling_events_rejected_total{event="reserved"|"binary"|"malformed"}`
and logged at most once per connection (reserved names) or once per interval (the rest).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

import socketio
from engineio.async_socket import AsyncSocket
from engineio.exceptions import SocketIsClosedError
from socketio import packet

from signaling.errors import error_body
from signaling.hub import Hub
from signaling.logs import LogGate, log_event
from signaling.metrics import SignalingMetrics

log = logging.getLogger("signaling")

RESERVED_EVENTS = frozenset({"connect", "connect_error", "disconnect", "disconnecting", "newListener",
                             "removeListener", "*"})
MAX_SKIPPED_ATTACHMENTS = 16
_BINARY_TYPES = (str(packet.BINARY_EVENT), str(packet.BINARY_ACK))
_ACK_TYPE = str(packet.ACK)


def _stop_reading_closed_sockets() -> None:
    """python-engineio keeps reading a websocket it closed until the client closes it too (or the ping
    timeout passes), handing each frame on as a message. Refuse them, so a connection the guard closed
    stops at its next frame (the read loop ends on `SocketIsClosedError`)."""
    original = AsyncSocket.receive
    if getattr(original, "sfu_guarded", False):
        return

    async def receive(self: AsyncSocket, pkt: Any) -> None:
        if self.closed:
            raise SocketIsClosedError()
        await original(self, pkt)

    receive.sfu_guarded = True  # type: ignore[attr-defined]
    AsyncSocket.receive = receive  # type: ignore[method-assign]


class Guard:
    def __init__(self, sio: socketio.AsyncServer, hub: Hub, metrics: SignalingMetrics, gate: LogGate) -> None:
        self.sio = sio
        self.hub = hub
        self.metrics = metrics
        self.gate = gate
        self.skipping: dict[str, int] = {}  # eio sid -> announced binary frames still to drop

    def install(self) -> None:
        """Wrap python-socketio's Engine.IO message/disconnect handlers and its event entry point.

        python-socketio registered bound methods with its Engine.IO server at construction, so the
        handlers are replaced there; `_handle_event` is looked up on the instance for every event.
        """
        eio_handlers = self.sio.eio.handlers
        on_message: Callable[[str, Any], Awaitable[None]] = eio_handlers["message"]
        on_disconnect: Callable[..., Awaitable[None]] = eio_handlers["disconnect"]
        handle_event: Callable[[str, str | None, int | None, Any], Awaitable[None]] = self.sio._handle_event

        async def message(eio_sid: str, data: Any) -> None:
            if isinstance(data, bytes):
                await self._binary_frame(eio_sid)
            elif data[:1] in _BINARY_TYPES:
                await self._binary_header(eio_sid, data)
            elif data[:1] == _ACK_TYPE:
                self._refused(eio_sid, None, "malformed", "unexpected_ack")
            else:
                try:
                    await on_message(eio_sid, data)
                except Exception as exc:  # an undecodable packet: python-socketio raises ValueError
                    trace = None if isinstance(exc, ValueError) else exc  # anything else may be our bug
                    self._refused(eio_sid, None, "malformed", "malformed_packet", error=type(exc).__name__,
                                  exc_info=trace)

        async def disconnect(eio_sid: str, *args: Any) -> None:
            self.skipping.pop(eio_sid, None)
            self.gate.forget(eio_sid)
            await on_disconnect(eio_sid, *args)

        async def event(eio_sid: str, namespace: str | None, id: int | None, data: Any) -> None:
            sid = self._sid(eio_sid, namespace)
            if sid is None or not self.sio.manager.is_connected(sid, namespace or "/"):
                self._refused(eio_sid, namespace, "malformed", "not_connected")  # python-socketio warns each
                return
            name = data[0] if isinstance(data, list) and data else None
            if isinstance(name, str) and name not in RESERVED_EVENTS:
                await handle_event(eio_sid, namespace, id, data)
                return
            if isinstance(name, str):
                await self._answer(eio_sid, namespace, id, name, "reserved event name")
                self._refused(eio_sid, namespace, "reserved", "reserved_event", once=True)
            else:
                await self._answer(eio_sid, namespace, id, name, "the event name must be a string")
                self._refused(eio_sid, namespace, "malformed", "malformed_event")

        _stop_reading_closed_sockets()
        self.sio.eio.on("message", message)
        self.sio.eio.on("disconnect", disconnect)
        self.sio._handle_event = event  # type: ignore[method-assign]

    # binary ------------------------------------------------------------------------------------
    async def _binary_header(self, eio_sid: str, data: Any) -> None:
        try:
            pkt = self.sio.packet_class(encoded_packet=data)
            count = pkt.attachment_count
        except Exception:
            self._refused(eio_sid, None, "malformed", "malformed_packet")
            await self._close(eio_sid)
            return
        if pkt.packet_type == packet.BINARY_EVENT:
            name = pkt.data[0] if isinstance(pkt.data, list) and pkt.data else None
            await self._answer(eio_sid, pkt.namespace, pkt.id, name, "binary attachments are not supported")
        self._refused(eio_sid, pkt.namespace, "binary", "binary_refused", attachments=count)
        if count > MAX_SKIPPED_ATTACHMENTS:
            await self._close(eio_sid)
        elif count:
            self.skipping[eio_sid] = self.skipping.get(eio_sid, 0) + count

    async def _binary_frame(self, eio_sid: str) -> None:
        left = self.skipping.get(eio_sid, 0)
        if left > 1:
            self.skipping[eio_sid] = left - 1
        elif left == 1:
            del self.skipping[eio_sid]
        else:
            self._refused(eio_sid, None, "malformed", "unannounced_binary")
            await self._close(eio_sid)

    async def _close(self, eio_sid: str) -> None:
        self.skipping.pop(eio_sid, None)
        await self.sio.eio.disconnect(eio_sid)

    # answering and accounting --------------------------------------------------------------------
    def _sid(self, eio_sid: str, namespace: str | None) -> str | None:
        return self.sio.manager.sid_from_eio_sid(eio_sid, namespace or "/")

    async def _answer(self, eio_sid: str, namespace: str | None, id: int | None, name: Any, message: str) -> None:
        """The error contract: an error ack when the client asked for one, else an `error` event."""
        sid = self._sid(eio_sid, namespace)
        if sid is None or not self.sio.manager.is_connected(sid, namespace or "/"):
            return
        if id is not None:
            ack = self.sio.packet_class(packet.ACK, namespace=namespace, id=id, data=[error_body("bad_request", message)])
            await self.sio._send_packet(eio_sid, ack)
        else:
            event = name[:64] if isinstance(name, str) else ""
            await self.hub.emit("error", {"event": event, "code": "bad_request", "message": message}, to=sid)

    def _refused(self, eio_sid: str, namespace: str | None, label: str, what: str, once: bool = False,
                 **fields: Any) -> None:
        self.metrics.rejected.labels(event=label, code="bad_request").inc()
        source = self._sid(eio_sid, namespace) or eio_sid
        held = self.gate.admit(source, what, interval=math.inf if once else None)
        if held is not None:
            extra = {"suppressed": held} if held else {}
            log_event(log, what, logging.WARNING, sid=source, **fields, **extra)
