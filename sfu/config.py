"""Server settings: one dataclass, filled from CLI flags with environment variables as defaults.

Every setting has a flag and an `SFU_*` variable so the same image runs in a container (env) and by
hand (flags). The README's configuration table lists them; keep both in step.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

SCREEN_SLOTS = 2  # screen shares forwarded to each member at once, besides the last-N cameras


@dataclass(frozen=True)
class RateLimit:
    """Token bucket: `burst` tokens, refilled at `per_second`."""

    burst: float
    per_second: float


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    redis_url: str | None = None
    redis_prefix: str = "sfu:"  # namespaces every Redis key and the Socket.IO pub/sub channel
    jwt_secret: str | None = None
    allow_dev_mode: bool = False  # development mode (no secret) on a non-loopback address needs this
    # Origins (scheme://host[:port]) allowed to open Socket.IO connections besides the server's own;
    # "*" allows any. In Redis mode the public URLs of the deployment's live processes are added.
    cors_origins: tuple[str, ...] = ()
    # Origins, besides the page's own host, the web page may follow a `redirect` to (GET /client-config)
    redirect_origins: tuple[str, ...] = ()
    log_format: str = "kv"  # "kv" (key=value) or "json"
    log_level: str = "INFO"
    instance_id: str = ""  # filled at start when empty: identifies this process in Redis
    public_url: str | None = None  # how clients reach this process; default http://HOST:PORT
    # limits
    max_participants_sfu: int = 50
    max_participants_mesh: int = 8
    max_connections: int = 2000
    max_sdp_bytes: int = 262144  # a 50-member SFU room has ~100 m-lines: 64 KiB is too small
    max_http_buffer_bytes: int = 1_100_000  # payloads up to 1 MB must get an error ack, not a disconnect
    chat_history_size: int = 100
    reject_log_interval: float = 10.0  # at most one log line per connection and kind of bad input
    # rate limits (per connection)
    rate_chat: RateLimit = field(default_factory=lambda: RateLimit(5, 1.0))
    rate_join: RateLimit = field(default_factory=lambda: RateLimit(3, 0.5))
    rate_ice: RateLimit = field(default_factory=lambda: RateLimit(200, 50.0))
    rate_default: RateLimit = field(default_factory=lambda: RateLimit(20, 10.0))
    # engine.io liveness: a silent drop is noticed within ping_interval + ping_timeout
    ping_interval: float = 10.0
    ping_timeout: float = 5.0
    # Redis registry heartbeat: a dead process's participants expire after heartbeat_ttl
    heartbeat_interval: float = 5.0
    heartbeat_ttl: float = 20.0
    # media
    media: bool = True  # False: no SFU at all (signaling only)
    forwarding: str = "forward"  # "forward" (RTP forwarding) or "transcode" (aiortc MediaRelay)
    ice_hosts: tuple[str, ...] = ()  # addresses to gather on; empty = every non-loopback interface
    announce_ip: str | None = None
    udp_ports: tuple[int, int] | None = None
    stun_urls: tuple[str, ...] = ()
    turn_urls: tuple[str, ...] = ()
    turn_secret: str | None = None
    turn_ttl: int = 86400
    max_tracks_per_participant: int = 3
    # large rooms: video of at most last_n others, audio of the audio_last_n loudest (0 = everyone)
    last_n: int = 9
    audio_last_n: int = 3
    # hostile-client bounds
    max_mlines: int = 128  # media sections per connection (a 50-person room in per-track mode needs ~100)
    max_ice_candidates: int = 32  # remote candidates per connection, SDP and trickle together
    media_timeout: float = 20.0  # seconds from offer to connected ICE + DTLS, else the media is dropped
    transport_cc: bool = False  # negotiate transport-wide congestion control feedback with publishers
    # number what we send subscribers and estimate their downlinks from their transport-wide feedback
    downlink_transport_cc: bool = True
    remb_max_bps: int = 4_000_000
    web_root: str | None = None  # folder with the built web client; default: sfu/static/app

    def media_limits(self) -> dict[str, int]:
        """What an SFU room forwards to each member, and the receive slots a client should offer for it
        (told in `video:room-state`; a client offering more slots than this is refused)."""
        video_slots = (self.last_n or self.max_participants_sfu - 1) + SCREEN_SLOTS
        audio_slots = self.audio_last_n or self.max_participants_sfu - 1
        return {"lastN": self.last_n, "audioLastN": self.audio_last_n, "videoSlots": video_slots,
                "audioSlots": audio_slots}


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of an http(s) URL as browsers send it (lower case, no path); else None."""
    scheme, sep, rest = url.strip().partition("://")
    host = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if not sep or scheme.lower() not in ("http", "https") or not host or "@" in host:
        return None
    return f"{scheme.lower()}://{host.lower()}"


def _origin(value: str) -> str:
    origin = "*" if value == "*" else origin_of(value)
    if origin is None:
        raise SystemExit(f"sfu: bad origin {value!r}: expected scheme://host[:port], e.g. https://sfu.example.com")
    return origin


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def dev_mode_refusal(settings: Settings) -> str | None:
    """Why the server must not start, or None: development mode lets anyone connect under any name,
    so it only runs on a loopback address unless the operator says so explicitly."""
    if settings.jwt_secret or settings.allow_dev_mode or is_loopback(settings.host):
        return None
    return (f"no SFU_JWT_SECRET (development mode: anyone may connect) while listening on {settings.host}; "
            "set SFU_JWT_SECRET, listen on 127.0.0.1, or set SFU_ALLOW_DEV_MODE=1 (--allow-dev-mode) to run it anyway")


def parse_port_range(value: str | None) -> tuple[int, int] | None:
    if not value:
        return None
    low, sep, high = value.partition("-")
    try:
        first, last = int(low), int(high if sep else low)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"bad port range {value!r}: expected LOW-HIGH") from exc
    if not (1024 <= first <= last <= 65535):
        raise argparse.ArgumentTypeError(f"bad port range {value!r}: need 1024 <= LOW <= HIGH <= 65535")
    return first, last


def _rate(value: str) -> RateLimit:
    burst, _, per_second = value.partition("/")
    return RateLimit(float(burst), float(per_second or burst))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sfu", description="Selective forwarding unit for group video calls.")
    d = Settings()
    p.add_argument("--host", default=_env("SFU_HOST", d.host), help="HTTP/Socket.IO bind address")
    p.add_argument("--port", type=int, default=int(_env("SFU_PORT", str(d.port)) or d.port))
    p.add_argument("--redis-url", default=_env("SFU_REDIS_URL"), help="enable multi-process mode (redis://...)")
    p.add_argument("--redis-prefix", default=_env("SFU_REDIS_PREFIX", d.redis_prefix),
                   help="prefix of every Redis key and of the pub/sub channel (one per deployment)")
    p.add_argument("--jwt-secret", default=_env("SFU_JWT_SECRET"), help="HS256 secret; unset = development mode")
    p.add_argument("--allow-dev-mode", action="store_true", default=_env("SFU_ALLOW_DEV_MODE") == "1",
                   help="allow development mode (no secret: anyone may connect) on a non-loopback --host")
    p.add_argument("--cors-origins", default=_env("SFU_CORS_ORIGINS", ""),
                   help='comma-separated origins allowed to connect besides this server\'s own ("*": any)')
    p.add_argument("--redirect-origins", default=_env("SFU_REDIRECT_ORIGINS", ""),
                   help="comma-separated origins the web page may follow a redirect to (besides its own host)")
    p.add_argument("--log-format", choices=["kv", "json"], default=_env("SFU_LOG_FORMAT", d.log_format))
    p.add_argument("--log-level", default=_env("SFU_LOG_LEVEL", d.log_level))
    p.add_argument("--instance-id", default=_env("SFU_INSTANCE_ID", ""))
    p.add_argument("--public-url", default=_env("SFU_PUBLIC_URL"),
                   help="URL clients use to reach this process (Redis mode: joins of its SFU rooms elsewhere "
                        "are redirected here); default http://HOST:PORT")
    p.add_argument("--max-participants-sfu", type=int, default=int(_env("SFU_MAX_PARTICIPANTS_SFU", "50") or 50))
    p.add_argument("--max-participants-mesh", type=int, default=int(_env("SFU_MAX_PARTICIPANTS_MESH", "8") or 8))
    p.add_argument("--max-connections", type=int, default=int(_env("SFU_MAX_CONNECTIONS", "2000") or 2000))
    p.add_argument("--max-sdp-bytes", type=int, default=int(_env("SFU_MAX_SDP_BYTES", "262144") or 262144))
    p.add_argument("--rate-chat", type=_rate, default=_rate(_env("SFU_RATE_CHAT", "5/1") or "5/1"),
                   help="BURST/PER_SECOND")
    p.add_argument("--rate-join", type=_rate, default=_rate(_env("SFU_RATE_JOIN", "3/0.5") or "3/0.5"))
    p.add_argument("--rate-ice", type=_rate, default=_rate(_env("SFU_RATE_ICE", "200/50") or "200/50"))
    p.add_argument("--rate-default", type=_rate, default=_rate(_env("SFU_RATE_DEFAULT", "20/10") or "20/10"))
    p.add_argument("--reject-log-interval", type=float,
                   default=float(_env("SFU_REJECT_LOG_INTERVAL", "10") or 10),
                   help="seconds between log lines about one connection's rejected or malformed input")
    p.add_argument("--ping-interval", type=float, default=float(_env("SFU_PING_INTERVAL", "10") or 10))
    p.add_argument("--ping-timeout", type=float, default=float(_env("SFU_PING_TIMEOUT", "5") or 5))
    p.add_argument("--heartbeat-ttl", type=float, default=float(_env("SFU_HEARTBEAT_TTL", "20") or 20))
    p.add_argument("--no-media", action="store_true", default=_env("SFU_NO_MEDIA") == "1",
                   help="signaling only (mesh rooms); SFU rooms refuse offers")
    p.add_argument("--forwarding", choices=["forward", "transcode"], default=_env("SFU_FORWARDING", d.forwarding))
    p.add_argument("--ice-host", default=_env("SFU_ICE_HOST", ""),
                   help="comma-separated addresses to gather ICE candidates on (e.g. 127.0.0.1)")
    p.add_argument("--announce-ip", default=_env("SFU_ANNOUNCE_IP"), help="public address to announce (NAT)")
    p.add_argument("--udp-ports", type=parse_port_range, default=parse_port_range(_env("SFU_UDP_PORTS")),
                   help="UDP port range for media, e.g. 40000-40999")
    p.add_argument("--stun", default=_env("SFU_STUN", ""), help="comma-separated stun: URLs for clients")
    p.add_argument("--turn-url", default=_env("SFU_TURN_URL", ""), help="comma-separated turn: URLs for clients")
    p.add_argument("--turn-secret", default=_env("SFU_TURN_SECRET"), help="coturn static-auth-secret")
    p.add_argument("--last-n", type=int, default=int(_env("SFU_LAST_N", str(d.last_n)) or d.last_n),
                   help="camera videos each subscriber receives at most (0 = no limit)")
    p.add_argument("--audio-last-n", type=int, default=int(_env("SFU_AUDIO_LAST_N", str(d.audio_last_n)) or 0),
                   help="loudest speakers each subscriber hears (0 = everyone)")
    p.add_argument("--max-mlines", type=int, default=int(_env("SFU_MAX_MLINES", str(d.max_mlines)) or d.max_mlines),
                   help="media sections per connection")
    p.add_argument("--max-ice-candidates", type=int,
                   default=int(_env("SFU_MAX_ICE_CANDIDATES", str(d.max_ice_candidates)) or d.max_ice_candidates),
                   help="remote ICE candidates per connection (SDP and trickle)")
    p.add_argument("--media-timeout", type=float,
                   default=float(_env("SFU_MEDIA_TIMEOUT", str(d.media_timeout)) or d.media_timeout),
                   help="seconds for ICE and DTLS to connect before a participant's media is dropped")
    p.add_argument("--transport-cc", action=argparse.BooleanOptionalAction,
                   default=_env("SFU_TRANSPORT_CC", "0") == "1",
                   help="send transport-wide congestion control feedback to publishers (browser-side estimation)")
    p.add_argument("--downlink-transport-cc", action=argparse.BooleanOptionalAction,
                   default=_env("SFU_DOWNLINK_TRANSPORT_CC", "1") == "1",
                   help="estimate each subscriber's downlink from its transport-wide feedback (REMB otherwise)")
    p.add_argument("--remb-max-bps", type=int, default=int(_env("SFU_REMB_MAX_BPS", "4000000") or 4000000))
    p.add_argument("--web-root", default=_env("SFU_WEB_ROOT"), help="folder with the built web client")
    return p


def load_settings(argv: Sequence[str] | None = None) -> Settings:
    args = build_parser().parse_args(argv)
    return Settings(
        host=args.host,
        port=args.port,
        redis_url=args.redis_url or None,
        redis_prefix=args.redis_prefix,
        jwt_secret=args.jwt_secret or None,
        allow_dev_mode=args.allow_dev_mode,
        cors_origins=tuple(_origin(o) for o in _csv(args.cors_origins)),
        redirect_origins=tuple(_origin(o) for o in _csv(args.redirect_origins)),
        log_format=args.log_format,
        log_level=args.log_level.upper(),
        instance_id=args.instance_id,
        public_url=args.public_url or None,
        max_participants_sfu=args.max_participants_sfu,
        max_participants_mesh=args.max_participants_mesh,
        max_connections=args.max_connections,
        max_sdp_bytes=args.max_sdp_bytes,
        reject_log_interval=args.reject_log_interval,
        rate_chat=args.rate_chat,
        rate_join=args.rate_join,
        rate_ice=args.rate_ice,
        rate_default=args.rate_default,
        ping_interval=args.ping_interval,
        ping_timeout=args.ping_timeout,
        heartbeat_ttl=args.heartbeat_ttl,
        media=not args.no_media,
        forwarding=args.forwarding,
        ice_hosts=_csv(args.ice_host),
        announce_ip=args.announce_ip or None,
        udp_ports=args.udp_ports,
        stun_urls=_csv(args.stun),
        turn_urls=_csv(args.turn_url),
        turn_secret=args.turn_secret or None,
        remb_max_bps=args.remb_max_bps,
        last_n=max(0, args.last_n),
        audio_last_n=max(0, args.audio_last_n),
        max_mlines=max(4, args.max_mlines),
        max_ice_candidates=max(1, args.max_ice_candidates),
        media_timeout=max(1.0, args.media_timeout),
        transport_cc=args.transport_cc,
        downlink_transport_cc=args.downlink_transport_cc,
        web_root=args.web_root or None,
    )
