"""Which browser origins may open Socket.IO connections (python-engineio's `cors_allowed_origins`).

Same-origin by default: a page served by this server (the request's own `scheme://Host`, or the one a
reverse proxy names in X-Forwarded-Proto/-Host, as python-engineio does), plus `--cors-origins`, plus
in Redis mode the public URLs of the deployment's live processes (a page served by one process is
sent to another by a `redirect`). `*` in `--cors-origins` allows any origin. Requests without an
Origin header (Node, Python, curl) are not cross-site browser requests and are not checked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sfu.config import Settings


class OriginPolicy:
    def __init__(self, settings: Settings, peers: Callable[[], Iterable[str]] = lambda: (),
                 refresh_peers: Callable[[], None] = lambda: None) -> None:
        self.any = "*" in settings.cors_origins
        self.listed = frozenset(settings.cors_origins)
        self.peers = peers
        self.refresh_peers = refresh_peers  # a refused origin may be a process started since the last read

    def __call__(self, origin: str | None, environ: dict[str, Any]) -> bool:
        if origin is None or self.any or origin.lower() in self.listed:
            return True
        scheme, host = environ.get("wsgi.url_scheme", "http"), environ.get("HTTP_HOST", "")
        own = {f"{scheme}://{host}".lower()}
        if "HTTP_X_FORWARDED_PROTO" in environ or "HTTP_X_FORWARDED_HOST" in environ:
            fwd_scheme = environ.get("HTTP_X_FORWARDED_PROTO", scheme).split(",")[0].strip()
            fwd_host = environ.get("HTTP_X_FORWARDED_HOST", host).split(",")[0].strip()
            own.add(f"{fwd_scheme}://{fwd_host}".lower())
        if origin.lower() in own or origin.lower() in set(self.peers()):
            return True
        self.refresh_peers()
        return False
