"""`sfu` / `python -m sfu`: start the server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from aiohttp import web

from sfu.app import create_app
from sfu.config import dev_mode_refusal, load_settings
from signaling.logs import configure_logging, log_event


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
    if not settings.jwt_secret:
        log.warning("event=dev_mode message=%s", "SFU_JWT_SECRET is not set: anyone may connect (development mode)")
    app = create_app(settings)
    log.info("event=listening host=%s port=%d forwarding=%s redis=%s", settings.host, settings.port,
             settings.forwarding if settings.media else "off", bool(settings.redis_url))
    web.run_app(app, host=settings.host, port=settings.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
