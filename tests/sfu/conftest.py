"""SFU suites: one real server per module, aiortc clients that gather ICE on 127.0.0.1 only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support import ServerProcess, run_server

from sfu.config import Settings
from sfu.ice import install_ice_policy

install_ice_policy(Settings(ice_hosts=("127.0.0.1",)))  # the test clients' own ICE, like the server's


@pytest.fixture(scope="module")
def sfu_server() -> Iterator[ServerProcess]:
    # test_chromium's page is served from another port (browser.serve_test_page): a cross-origin page
    with run_server(["--log-level", "INFO", "--cors-origins", "*"]) as server:
        yield server
