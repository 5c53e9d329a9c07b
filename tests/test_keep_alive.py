"""The web server keeps idle connections open as long as ARENA_KEEP_ALIVE_SECONDS says, not uvicorn's 5 s."""

from __future__ import annotations

import http.client
import select
import socket
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

from arena.server import keep_alive_from_the_start, keep_connections_alive
from tests.helpers import app_process
from tests.test_service import models_yaml
from tests.upstream import Upstream


def _closed_by_server(sock: socket.socket) -> bool:
    """True if the server has closed this idle connection (readable with nothing to read)."""
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""


def _get(connection: http.client.HTTPConnection) -> int:
    """One request on *connection*, its answer read to the end (so that nothing is left unread on the socket)."""
    connection.request("GET", "/gradio_api/info")
    response = connection.getresponse()
    response.read()
    return response.status


def test_idle_connections_stay_open_for_the_configured_time(tmp_path: Path, up: Upstream, up2: Upstream) -> None:
    (tmp_path / "models.yaml").write_text(models_yaml(up.url, up2.url))
    env = {"ARENA_DATABASE_URL": f"sqlite:///{tmp_path / 'arena.sqlite3'}", "ARENA_KEEP_ALIVE_SECONDS": "10"}
    with app_process(tmp_path, tmp_path / "models.yaml", env) as (_, url, log):
        address = urlsplit(url)
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
        try:
            assert _get(connection) == 200
            time.sleep(6.0)  # past uvicorn's own 5 s (and well before 10 s on a busy machine)
            assert not _closed_by_server(connection.sock), "the server dropped an idle connection before ARENA_KEEP_ALIVE_SECONDS"
            sock = connection.sock
            assert _get(connection) == 200 and connection.sock is sock  # and the same connection still serves
            deadline = time.monotonic() + 20
            while not _closed_by_server(sock):  # the setting still bounds it: idle connections are not kept forever
                assert time.monotonic() < deadline, log.read_text()[-2000:]
                time.sleep(0.2)
        finally:
            connection.close()


def test_keep_alive_is_set_before_the_server_takes_a_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside the block, Gradio's server has the setting when its thread starts; outside, Gradio is as it was."""
    from gradio import http_server

    seen: list[float] = []
    monkeypatch.setattr(http_server.Server, "run_in_thread", lambda server: seen.append(server.config.timeout_keep_alive))
    server = SimpleNamespace(config=SimpleNamespace(timeout_keep_alive=5))
    with keep_alive_from_the_start(75.0) as in_place:
        http_server.Server.run_in_thread(server)
    assert in_place and seen == [75.0]
    server.config.timeout_keep_alive = 5
    http_server.Server.run_in_thread(server)
    assert seen == [75.0, 5]


def test_keep_alive_is_set_on_the_servers_config() -> None:
    demo = SimpleNamespace(server=SimpleNamespace(config=SimpleNamespace(timeout_keep_alive=5)))
    assert keep_connections_alive(demo, 75.0)
    assert demo.server.config.timeout_keep_alive == 75.0


def test_an_unknown_server_shape_is_reported_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    assert not keep_connections_alive(SimpleNamespace(), 75.0)
    assert "keep-alive" in caplog.text
