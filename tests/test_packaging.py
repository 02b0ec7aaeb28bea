"""The set-up promises (README, Makefile, CI, Dockerfile) checked against each other.

No Docker engine runs here, so the Dockerfile is checked statically: what it copies exists, what it
exposes matches the media port range it configures, and it runs as a non-root user with a health check.
"""

from __future__ import annotations

import os
import re

from support import ROOT

from sfu.config import dev_mode_refusal, load_settings, parse_port_range


def test_readme_commands_are_the_makefile_targets_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    ci = (ROOT / ".ci/run").read_text()
    assert "make run" in readme and "make test" in readme
    assert re.search(r"^run:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert re.search(r"^make test$", ci, re.M), "CI must run the README's test command"
    assert "redis-server" in ci and "chromium" in ci


def test_dockerfile_copies_what_exists_and_exposes_its_media_ports() -> None:
    text = (ROOT / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", text, re.M):
        for path in source.split():
            assert (ROOT / path).exists(), f"Dockerfile copies {path}, which is not in the repository"
    ports = re.search(r"SFU_UDP_PORTS=(\d+-\d+)", text)
    assert ports is not None
    first, last = parse_port_range(ports.group(1)) or (0, 0)
    assert f"EXPOSE {first}-{last}/udp" in text
    assert "EXPOSE 8080/tcp" in text and "SFU_PORT=8080" in text
    assert re.search(r"^USER (?!root)\w+", text, re.M)
    assert "HEALTHCHECK" in text and "/healthz" in text
    assert "npm run build" in text  # the web client is built in the Node stage


def test_setup_script_builds_what_the_dockerfile_builds() -> None:
    setup = (ROOT / "scripts/setup.sh").read_text()
    assert "pip install" in setup and "npm ci" in setup and "npm run build" in setup


def test_docker_image_refuses_development_mode(monkeypatch) -> None:
    """The image listens on 0.0.0.0: without a secret it must refuse to start unless told explicitly."""
    text = "\n".join(line for line in (ROOT / "Dockerfile").read_text().splitlines() if not line.startswith("#"))
    env = dict(re.findall(r"(SFU_[A-Z_]+)=(\S+)", text))
    assert env.get("SFU_HOST") == "0.0.0.0"
    assert "SFU_JWT_SECRET" not in env and "SFU_ALLOW_DEV_MODE" not in env
    for name in [k for k in os.environ if k.startswith("SFU_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert dev_mode_refusal(load_settings([])) is not None
    monkeypatch.setenv("SFU_ALLOW_DEV_MODE", "1")
    assert dev_mode_refusal(load_settings([])) is None
