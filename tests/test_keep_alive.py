"""The web server keeps idle connections open as long as ARENA_KEEP_ALIVE_SECONDS says, not uvicorn's 5 s."""

from __future__ import annotations

import http.client
import select
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

from tests.helpers import app_process, models_yaml
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


def test_the_server_takes_keep_alive_and_shutdown_grace_from_the_settings() -> None:
    """uvicorn is configured through its own Config: no patching of a server someone else started."""
    from arena.server import server_config
    from arena.settings import Settings

    config = server_config(object(), "127.0.0.1", 7860, Settings(keep_alive_seconds=42, shutdown_grace_seconds=7))
    assert (config.timeout_keep_alive, config.timeout_graceful_shutdown) == (42, 7)
    assert (config.host, config.port, config.access_log) == ("127.0.0.1", 7860, False)
