from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.servers import running_server, write_config

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture(autouse=True, scope="session")
def no_network_beyond_loopback() -> Iterator[None]:
    """Any connection from the test process to a non-loopback address fails the test that made it."""
    original = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]  # type: ignore[index]
            try:
                loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = False
            if not loopback:
                raise AssertionError(f"test tried to reach the network: {address}")
        return original(self, address)

    socket.socket.connect = guarded  # type: ignore[method-assign]
    yield
    socket.socket.connect = original  # type: ignore[method-assign]


@pytest.fixture(autouse=True, scope="session")
def private_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Settings without a data_dir write to $XDG_DATA_HOME/enclave, and the audit signing key goes to
    $XDG_CONFIG_HOME/enclave: temporary ones, never the user's."""
    import os

    previous = {name: os.environ.get(name) for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME")}
    os.environ["XDG_DATA_HOME"] = str(tmp_path_factory.mktemp("xdg-data"))
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("xdg-config"))
    yield
    for name, value in previous.items():
        if value is None:
            del os.environ[name]
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real server on the default model, shared by the tests that only talk HTTP to it."""
    directory = tmp_path_factory.mktemp("server")
    config = write_config(directory, context=1024, parallel=8, queue=16, threads=2)
    with running_server(config, directory / "server.log") as url:
        yield url


@pytest.fixture(scope="session")
def model_path() -> Path:
    from enclave.engines.catalog import default_model_path

    return default_model_path()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store on each database enclave supports."""
    from tests.stores import database

    with database(request.param, tmp_path) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Playwright driving Debian's chromium (/usr/bin/chromium, installed by `make install`); never a browser
    Playwright downloads."""
    from playwright.sync_api import sync_playwright

    chromium = Path("/usr/bin/chromium")
    assert chromium.exists(), "chromium is missing: `make install` installs Debian's (apt-get install chromium)"
    with sync_playwright() as playwright:
        # Root in a container has no user namespaces for chromium's sandbox.
        launched = playwright.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
        yield launched
        launched.close()
