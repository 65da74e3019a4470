"""A minimal raw PostgreSQL wire client for tests that must see exact bytes
(SQLSTATEs libpq hides for connection failures, FATALs at shutdown, malformed
input)."""
from __future__ import annotations

import socket
import struct

PROTOCOL_V3 = 196608  # 3.0


def startup_packet(params: dict[str, str] | None, version: int = PROTOCOL_V3) -> bytes:
    body = struct.pack("!I", version)
    for key, value in (params or {}).items():
        body += key.encode() + b"\0" + value.encode() + b"\0"
    body += b"\0"
    return struct.pack("!I", len(body) + 4) + body


def recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError(f"connection closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def read_message(sock: socket.socket) -> tuple[bytes, bytes]:
    header = recv_exact(sock, 5)
    length = struct.unpack("!I", header[1:5])[0]
    assert 4 <= length < 1 << 30, f"bad length {length} from server (type {header[:1]!r})"
    return header[:1], recv_exact(sock, length - 4)


def error_fields(payload: bytes) -> dict[str, str]:
    return {chr(p[0]): p[1:].decode(errors="replace") for p in payload.split(b"\0") if p}
