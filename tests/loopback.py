"""A threaded HTTP server on 127.0.0.1 for download tests (never another interface), and the
pytest-fixture pattern that stops every server a test started."""

from __future__ import annotations

import http.server
import threading
from typing import Callable, Iterator


class LoopbackServer:
    """Serves ``handler`` (a ``BaseHTTPRequestHandler`` subclass) on 127.0.0.1 at a free port, in a thread."""

    def __init__(self, handler: type[http.server.BaseHTTPRequestHandler]):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def started_servers(factory: Callable[..., LoopbackServer]) -> Iterator[Callable[..., LoopbackServer]]:
    """Generator body of a fixture: yields ``start(*args, **kwargs)``; closes every server started by it."""
    servers: list[LoopbackServer] = []

    def start(*args, **kwargs) -> LoopbackServer:
        servers.append(factory(*args, **kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.close()
