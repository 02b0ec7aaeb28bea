"""ICE for the server's connections: which addresses to gather on, which ports, what to announce, restarts.

aioice gathers on every non-loopback interface with ephemeral ports and offers no hook for either,
so the server replaces its host-candidate gathering process-wide (one SFU per process, one policy).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import socket

import aioice.ice
from aioice.candidate import Candidate, candidate_foundation, candidate_priority
from aioice.utils import random_string
from aiortc.rtcicetransport import RTCIceTransport

from sfu.config import Settings

log = logging.getLogger("sfu.ice")


class PortAllocator:
    """Round-robin over the configured UDP range, skipping ports that are busy."""

    def __init__(self, first: int, last: int) -> None:
        self._ports = itertools.cycle(range(first, last + 1))
        self._size = last - first + 1

    def candidates(self) -> list[int]:
        return [next(self._ports) for _ in range(self._size)]


def install_ice_policy(settings: Settings) -> None:
    """Make every aioice connection in this process gather only where the operator said."""
    hosts = list(settings.ice_hosts)
    allocator = PortAllocator(*settings.udp_ports) if settings.udp_ports else None
    original_get_host_addresses = aioice.ice.get_host_addresses

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return list(hosts) if hosts else original_get_host_addresses(use_ipv4, use_ipv6)

    aioice.ice.get_host_addresses = get_host_addresses
    if allocator is None:
        return

    async def get_component_candidates(
        self: aioice.ice.Connection, component: int, addresses: list[str], timeout: int = 5
    ) -> list[Candidate]:
        loop = asyncio.get_running_loop()
        candidates: list[Candidate] = []
        for address in addresses:
            for port in allocator.candidates():
                try:
                    _transport, protocol = await loop.create_datagram_endpoint(
                        lambda: aioice.ice.StunProtocol(self), local_addr=(address, port)
                    )
                    break
                except OSError:
                    continue
            else:
                log.warning("event=ice_no_free_port address=%s", address)
                continue
            sock = protocol.transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            host, bound_port = protocol.transport.get_extra_info("sockname")[:2]
            protocol.local_candidate = Candidate(
                foundation=candidate_foundation("host", "udp", host),
                component=component,
                transport="udp",
                priority=candidate_priority(component, "host"),
                host=host,
                port=bound_port,
                type="host",
            )
            self._protocols.append(protocol)
            candidates.append(protocol.local_candidate)
        return candidates

    aioice.ice.Connection.get_component_candidates = get_component_candidates  # type: ignore[method-assign]


_CANDIDATE_LINE = re.compile(r"^(a=candidate:\S+ \d+ \S+ \d+ )(\S+)( \d+ typ host.*)$", re.MULTILINE)


def announce_addresses(sdp: str, announce_ip: str | None) -> str:
    """Replace host-candidate addresses with the public one (NAT, containers)."""
    if not announce_ip:
        return sdp
    return _CANDIDATE_LINE.sub(lambda m: m.group(1) + announce_ip + m.group(3), sdp)


def restart_ice(transport: RTCIceTransport, remote_username: str, remote_password: str) -> bool:
    """An ICE restart asked by the client's offer (RFC 8445 section 9): new credentials on both sides,
    fresh remote candidates and checks, the same local sockets.

    aiortc runs ICE once per transport and ignores new credentials, so a client whose network changed
    could only start over with a new connection. Here the DTLS session (and its SRTP keys) survives,
    as it does in browsers, and media keeps flowing on the old pair until the client nominates a new
    one (the send path follows the nominated pair). False when the transport is already closed.
    """
    connection = transport._connection
    if connection._closed or connection._closing:
        return False
    for pair in connection._check_list:
        if pair.task is not None:
            pair.task.cancel()
    connection._check_list = []
    connection._nominating = set()
    connection._remote_candidates = []
    connection._remote_candidates_end = False
    transport.iceGatherer._remote_candidates_end = False
    connection._local_username = random_string(4)
    connection._local_password = random_string(22)
    connection.remote_username = remote_username
    connection.remote_password = remote_password
    return True
