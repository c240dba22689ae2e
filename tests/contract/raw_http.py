"""A raw-socket HTTP client, for the requests httpx will not send: no Host, HTTP/1.0 or
HTTP/2.0 request lines, odd Transfer-Encodings, a hundred header lines of one name."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        found = [value for key, value in self.headers if key.lower() == name.lower()]
        return found[0] if found else None

    def header_names(self) -> set[str]:
        return {key.lower() for key, _ in self.headers}

    def json(self) -> dict:
        return json.loads(self.body)


def send(port: int, request: bytes, *, timeout: float = 10) -> RawResponse:
    """Send `request` as it is to 127.0.0.1:`port` and read one response to the end (the
    gateway closes the connection after it: every request here says Connection: close,
    or is HTTP/1.0, or is one nginx refuses and closes on)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines]
    return RawResponse(int(status_line.split()[1]), headers, body)  # type: ignore[arg-type]


def request_bytes(
    method: str,
    target: str,
    *,
    version: str = "HTTP/1.1",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    host: str | None = "127.0.0.1",
) -> bytes:
    """A request as bytes; Connection: close and Content-Length added unless given."""
    lines = [f"{method} {target} {version}"]
    given = {name.lower() for name, _ in headers or []}
    if host is not None and "host" not in given:
        lines.append(f"Host: {host}")
    lines += [f"{name}: {value}" for name, value in headers or []]
    if "connection" not in given:
        lines.append("Connection: close")
    if body and "content-length" not in given and "transfer-encoding" not in given:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
