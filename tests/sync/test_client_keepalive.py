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
