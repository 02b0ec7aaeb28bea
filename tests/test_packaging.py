"""The set-up promises (README, Makefile, CI, Dockerfile) checked against each other.

No Docker engine runs here, so the Dockerfile is checked statically: what it copies exists, what it
exposes matches the media port range it configures, and it runs as a non-root user with a health check.
That the README's commands really work on a machine like a user's: tests/test_readme_commands.py.
"""

from __future__ import annotations

import os
import re
import subprocess

from support import ROOT

from sfu.config import dev_mode_refusal, load_settings, parse_port_range


def setup_section(readme: str) -> str:
    match = re.search(r"^## Set-up.*?```bash\n(.*?)```", readme, re.M | re.S)
    assert match, "README has a Set-up section with one bash block"
    return match.group(1)


def test_readme_set_up_is_the_two_makefile_targets_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    ci = (ROOT / ".ci/run").read_text()
    commands = [line.split("#")[0].strip() for line in setup_section(readme).splitlines() if line.strip()]
    assert commands == ["make run", "make test"]
    assert re.search(r"^run:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert re.search(r"^make test$", ci, re.M), "CI must run the README's test command"
    # CI starts Redis itself; what `make test` installs is in scripts/setup.sh
    assert "redis-server" in ci and "python3-venv" in ci


def test_readme_says_where_the_virtual_environment_lives_and_how_to_remove_it() -> None:
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert ".venv" in readme and "make clean" in readme
    assert re.search(r"^clean:\n\trm -rf \$\(VENV\)", makefile, re.M) and "VENV ?= .venv" in makefile
    assert ".venv/" in (ROOT / ".gitignore").read_text() and ".venv" in (ROOT / ".dockerignore").read_text()


def test_setup_script_installs_into_the_projects_venv_and_what_the_tests_need() -> None:
    setup = (ROOT / "scripts/setup.sh").read_text()
    assert '-m venv "$VENV"' in setup and '"$PY" -m pip install' in setup
    assert "python3-venv" in setup  # Debian/Ubuntu ship ensurepip separately
    for pkg in ("redis-server", "chromium", "firefox-esr", "nodejs npm"):
        assert pkg in setup, pkg
    assert "npm_ci web" in setup and "npm_ci tests/node" in setup


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
    assert "pip install" in text


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


def test_the_built_web_client_ships_with_the_package_and_the_image() -> None:
    tracked = subprocess.run(["git", "ls-files", "sfu/static/app"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    assert "sfu/static/app/index.html" in tracked and "sfu/static/app/build-info.json" in tracked
    assert any(name.startswith("sfu/static/app/assets/") and name.endswith(".js") for name in tracked)
    assert "sfu/static" not in (ROOT / ".dockerignore").read_text()
    assert 'sfu = ["static/**/*"]' in (ROOT / "pyproject.toml").read_text()
    # the build's own command is a Makefile target (rebuild after changing web/, then commit)
    assert re.search(r"^web:\n\tcd web && npm ci .*&& npm run build$", (ROOT / "Makefile").read_text(), re.M)
