"""The client reuses connections: a sync of thousands of requests does not open thousands of them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from sync.client import ClientSettings, StoreClient


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as every WordPress host speaks

    def do_GET(self) -> None:
        body = json.dumps([{"id": 1}]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


class _CountingServer(ThreadingHTTPServer):
    daemon_threads = True
    connections = 0

    def get_request(self) -> Any:
        self.connections += 1
        return super().get_request()


@pytest.fixture
def server() -> Iterator[_CountingServer]:
    httpd = _CountingServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_sequential_requests_share_one_connection(server: _CountingServer) -> None:
    host, port = server.server_address[:2]
    client = StoreClient(
        ClientSettings(
            url=f"http://{host}:{port}",
            consumer_key="ck_a",
            consumer_secret="cs_b",
            max_requests_per_second=1000,
        )
    )
    for page in range(1, 11):
        assert client.get("orders", {"page": page}).items == [{"id": 1}]
    assert client.requests_made == 10
    assert server.connections == 1


def _client(server: _CountingServer, concurrency: int = 1) -> StoreClient:
    host, port = server.server_address[:2]
    return StoreClient(
        ClientSettings(
            url=f"http://{host}:{port}",
            consumer_key="ck_a",
            consumer_secret="cs_b",
            max_requests_per_second=1000,
            concurrency=concurrency,
        )
    )


def test_requests_from_short_lived_threads_share_the_connections(server: _CountingServer) -> None:
    # A sync asks from a new thread for most calls (sync.ahead): each must not open a connection.
    client = _client(server)
    answers: list[object] = []
    for page in range(1, 11):
        thread = threading.Thread(
            target=lambda p=page: answers.append(client.get("orders", {"page": p}).items)
        )
        thread.start()
        thread.join(timeout=30)
    client.close()
    assert answers == [[{"id": 1}]] * 10
    assert server.connections == 1


def test_concurrent_requests_open_no_more_connections_than_requests_in_flight(
    server: _CountingServer,
) -> None:
    client = _client(server, concurrency=4)

    answers: list[object] = []

    def ask(together: threading.Barrier, page: int) -> None:
        together.wait()  # four at once: four connections, then reused round after round
        answers.append(client.get("orders", {"page": page}).items)

    for round_ in range(5):
        together = threading.Barrier(4, timeout=30)
        threads = [threading.Thread(target=ask, args=(together, round_ * 4 + n)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    client.close()
    assert answers == [[{"id": 1}]] * 20
    assert server.connections <= 4
