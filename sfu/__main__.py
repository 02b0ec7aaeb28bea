"""`sfu` / `python -m sfu`: start the server."""

from __future__ import annotations

import asyncio
import errno
import logging
import sys
from collections.abc import Sequence

from aiohttp import web

from sfu.app import create_app
from sfu.config import Settings, dev_mode_refusal, load_settings
from signaling.logs import configure_logging, log_event


def page_url(settings: Settings) -> str:
    """What a person opens: the public URL, else this host (a wildcard bind is reachable on 127.0.0.1)."""
    if settings.public_url:
        return settings.public_url.rstrip("/") + "/"
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "", "::") else settings.host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{settings.port}/"


def bind_error(settings: Settings, exc: OSError) -> str:
    """One line for an operator instead of a traceback."""
    where = f"{settings.host}:{settings.port}"
    if exc.errno == errno.EADDRINUSE:
        return (f"sfu: cannot listen on {where}: the port is already in use (is another server running?). "
                f"Stop it, or pick another port: --port N (make run ARGS=\"--port N\").")
    if exc.errno == errno.EACCES:
        return f"sfu: cannot listen on {where}: permission denied (ports below 1024 need privileges)."
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"sfu: cannot listen on {where}: this machine has no such address (--host)."
    return f"sfu: cannot listen on {where}: {exc.strerror or exc}"


def main(argv: Sequence[str] | None = None) -> None:
    settings = load_settings(argv)
    configure_logging(settings.log_format, settings.log_level)
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # pragma: no cover - uvloop is optional on platforms without it
        pass
    log = logging.getLogger("sfu")
    refusal = dev_mode_refusal(settings)
    if refusal:
        log_event(log, "dev_mode_refused", logging.ERROR, message=refusal)
        raise SystemExit(2)
    app = create_app(settings)

    def listening(_message: str) -> None:
        # aiohttp calls this once every site has started, i.e. once the port is really bound
        if not settings.jwt_secret:
            log.warning("event=dev_mode message=%s", "SFU_JWT_SECRET is not set: anyone may connect (development mode)")
        log_event(log, "listening", host=settings.host, port=settings.port,
                  forwarding=settings.forwarding if settings.media else "off", redis=bool(settings.redis_url),
                  url=page_url(settings))
        if settings.log_format != "json":  # JSON output is for machines: every line stays JSON (url= above)
            print(f"Call page: {page_url(settings)}  (Ctrl+C stops the server)", flush=True)

    try:
        web.run_app(app, host=settings.host, port=settings.port, print=listening, access_log=None)
    except OSError as exc:
        print(bind_error(settings, exc), file=sys.stderr, flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
