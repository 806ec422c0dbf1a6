"""The loopback server, started once per module and cleared for each test."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest

from tests.unit.inputs.remote_fetch.loopback import Handler, ServerState


@pytest.fixture(scope="module")
def server_state() -> Iterator[ServerState]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state = ServerState(port=server.server_address[1])
    server.state = state  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    state.stop.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def server(server_state: ServerState) -> ServerState:
    server_state.requests.clear()
    server_state.big_sent.clear()
    server_state.big_aborted.clear()
    return server_state
