"""Units behind the hostile-client defences: log escaping and the log gate, name normalisation, the
CORS origin policy and the development-mode refusal. The server tests cover each end to end."""

from __future__ import annotations

import json
import logging
import math
import os
import unicodedata

import pytest

from sfu.config import Settings, dev_mode_refusal, load_settings, origin_of
from sfu.origins import OriginPolicy
from signaling.logs import JsonFormatter, KeyValueFormatter, LogGate, escape_unsafe, log_event
from signaling.validation import Invalid, clean_name, normalise_name

HOSTILE = "a\rb\nc\x1b[2Kd\u202ee\u2066f\x85g\u2028h\x7fi\U000e0041j"


def record(fields: dict[str, object] | None, message: str = "join", exc: bool = False) -> logging.LogRecord:
    logger = logging.getLogger("unit.hostile")
    captured: list[logging.LogRecord] = []

    class Capture(logging.Handler):
        def emit(self, rec: logging.LogRecord) -> None:
            captured.append(rec)

    handler = Capture()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        if exc:
            try:
                raise ValueError(HOSTILE)
            except ValueError:
                logger.exception("failed %s", HOSTILE)
        elif fields is None:
            logger.info("library says %s", message)
        else:
            log_event(logger, message, **fields)
    finally:
        logger.removeHandler(handler)
    return captured[0]


def unsafe(text: str) -> list[str]:
    return [c for c in text if c != "\n" and unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")]


@pytest.mark.parametrize("formatter", [KeyValueFormatter(), JsonFormatter()], ids=["kv", "json"])
def test_no_unsafe_character_reaches_a_line(formatter: logging.Formatter) -> None:
    for rec in (record({"user": HOSTILE, "n": 3}), record(None, HOSTILE), record(None, exc=True)):
        text = formatter.format(rec)
        assert unsafe(text) == [], text
        lines = text.split("\n")
        assert all(line.startswith("  | ") for line in lines[1:]), lines
        if isinstance(formatter, JsonFormatter):
            doc = json.loads(text)
            assert HOSTILE in doc.get("user", "") + doc.get("msg", "") + doc.get("exc", ""), "escaped, not lost"


def test_kv_values_keep_their_text_escaped() -> None:
    line = KeyValueFormatter().format(record({"user": "x\u202ey", "plain": "abc", "space": "a b"}))
    assert 'user="x\\u202ey" plain=abc space="a b"' in line
    assert escape_unsafe("caf\u00e9 ok") == "caf\u00e9 ok"
    assert escape_unsafe("\U000e0041") == "\\udb40\\udc41"


def test_log_gate() -> None:
    gate = LogGate(interval=10)
    assert gate.admit("s1", "rejected", now=0) == 0
    assert [gate.admit("s1", "rejected", now=t) for t in (1, 2, 3)] == [None, None, None]
    assert gate.admit("s2", "rejected", now=3) == 0, "sources are independent"
    assert gate.admit("s1", "binary", now=3) == 0, "kinds are independent"
    assert gate.admit("s1", "rejected", now=10) == 3, "the next line says how many were held back"
    assert gate.admit("s1", "reserved", interval=math.inf, now=0) == 0
    assert gate.admit("s1", "reserved", interval=math.inf, now=10**9) is None, "once per connection"
    gate.forget("s1")
    assert gate.admit("s1", "reserved", interval=math.inf, now=10**9) == 0
    small = LogGate(interval=10, max_sources=3)
    for i in range(10):
        small.admit(f"s{i}", "k", now=0)
    assert len(small._state) == 3


@pytest.mark.parametrize(("raw", "name"), [
    ("\u202eevil\u202c", "evil"),
    ("A\u200bd\u200cm\u200di\u2060n\ufeff", "Admin"),
    ("e\u200b\u0301", "\u00e9"),  # the mark composes once the zero-width space is gone
    ("Ann\u00a0\u00a0 Lee\t", "Ann Lee"),
    ("\U000e0041\U000e0042ok", "ok"),  # tag characters
    ("Zo\u00eb", "Zo\u00eb"),
])
def test_normalise_name(raw: str, name: str) -> None:
    assert normalise_name(raw) == name
    assert normalise_name(name) == name, "idempotent"


def test_clean_name_limits() -> None:
    assert clean_name("x" * 64, "name") == "x" * 64
    for bad in ("\u200b" * 3, "x" * 65, "x" * 1000 + "\u200b", 5, None):
        with pytest.raises(Invalid):
            clean_name(bad, "name")


def test_origin_policy() -> None:
    environ = {"wsgi.url_scheme": "http", "HTTP_HOST": "127.0.0.1:8080"}
    refreshed: list[int] = []
    policy = OriginPolicy(Settings(cors_origins=("https://app.example",)), peers=lambda: {"http://127.0.0.1:9090"},
                          refresh_peers=lambda: refreshed.append(1))
    assert policy(None, environ) and policy("http://127.0.0.1:8080", environ)
    assert policy("https://app.example", environ) and policy("HTTPS://APP.EXAMPLE", environ)
    assert policy("http://127.0.0.1:9090", environ), "a live process of the deployment"
    assert refreshed == []
    assert not policy("http://evil.example", environ) and refreshed == [1], "a miss re-reads the peers"
    proxied = {**environ, "HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_HOST": "sfu.example.com"}
    assert policy("https://sfu.example.com", proxied)
    assert OriginPolicy(Settings(cors_origins=("*",)))("http://anything", environ)


def test_origins_in_settings() -> None:
    assert origin_of("HTTPS://Sfu.Example.com:8443/path?q") == "https://sfu.example.com:8443"
    assert origin_of("ftp://x") is None and origin_of("https://u@x") is None and origin_of("x") is None
    settings = load_settings(["--cors-origins", "https://A.example/,*", "--redirect-origins", "https://b.example"])
    assert settings.cors_origins == ("https://a.example", "*")
    assert settings.redirect_origins == ("https://b.example",)
    with pytest.raises(SystemExit):
        load_settings(["--redirect-origins", "b.example"])


def test_dev_mode_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [k for k in os.environ if k.startswith("SFU_")]:
        monkeypatch.delenv(name)
    assert dev_mode_refusal(load_settings([])) is None, "127.0.0.1 by default"
    assert dev_mode_refusal(load_settings(["--host", "::1"])) is None
    assert dev_mode_refusal(load_settings(["--host", "localhost"])) is None
    refusal = dev_mode_refusal(load_settings(["--host", "0.0.0.0"]))
    assert refusal is not None and "SFU_ALLOW_DEV_MODE=1" in refusal
    assert dev_mode_refusal(load_settings(["--host", "0.0.0.0", "--jwt-secret", "s" * 32])) is None
    assert dev_mode_refusal(load_settings(["--host", "0.0.0.0", "--allow-dev-mode"])) is None
    monkeypatch.setenv("SFU_ALLOW_DEV_MODE", "1")
    assert dev_mode_refusal(load_settings(["--host", "10.0.0.5"])) is None

