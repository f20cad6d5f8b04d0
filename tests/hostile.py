"""Endpoints that answer wrongly, for the bad-input tests: a closed port, a TCP server that says
something that is not the protocol expected, a DNS server that answers garbage."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def tcp_server_saying(greeting: bytes) -> Iterator[int]:
    """Accepts, says `greeting` (e.g. an SSH banner where HTTP or SMTP was expected), reads a
    little, hangs up. Yields its port."""

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.settimeout(2)
            try:
                self.request.sendall(greeting)
                self.request.recv(4096)
            except OSError:
                pass

    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler) as server:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield server.server_address[1]
        finally:
            server.shutdown()


@contextmanager
def dns_server_answering_garbage() -> Iterator[int]:
    """Answers every query with bytes that are not a DNS message (but carry the query's id)."""

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            data, sock = self.request
            sock.sendto(data[:2] + b"\xff\xfe not dns at all", self.client_address)

    with socketserver.ThreadingUDPServer(("127.0.0.1", 0), Handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield server.server_address[1]
        finally:
            server.shutdown()
