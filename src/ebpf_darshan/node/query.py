"""Live counters over a unix socket.  Anyone may connect; the kernel tells
the server who did (SO_PEERCRED), and a user sees only their own jobs
(root sees all).  One request per connection: a JSON line in, a JSON
document out."""

from __future__ import annotations

import json
import os
import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEFAULT_SOCKET = "/run/ebpf-darshan/query.sock"
MAX_REQUEST = 4096
UCRED = struct.Struct("3i")  # pid, uid, gid
TIMEOUT_S = 5.0

# A request or an answer: a JSON object.
JsonObject = dict[str, Any]
# Builds the answer for a peer uid and the request.
Answer = Callable[[int, JsonObject], JsonObject]


def peer_uid(conn: socket.socket) -> int:
    _, uid, _ = UCRED.unpack(conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, UCRED.size))
    return int(uid)


class QueryServer:
    def __init__(self, path: str, answer: Answer):
        self.path = Path(path)
        self._answer = answer
        self.path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        if self.path.is_socket():
            self.path.unlink()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(str(self.path))
        # Everyone may connect: who sees what is decided per connection.
        os.chmod(self.path, 0o666)
        self._sock.listen(16)
        self._thread = threading.Thread(target=self._serve, name="query", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return  # closed
            with conn:
                conn.settimeout(TIMEOUT_S)
                try:
                    self._one(conn)
                except (OSError, ValueError):
                    continue

    def _one(self, conn: socket.socket) -> None:
        uid = peer_uid(conn)
        line = conn.makefile("rb").readline(MAX_REQUEST)
        request = json.loads(line or b"{}")
        if not isinstance(request, dict):
            raise ValueError("request is not a JSON object")
        conn.sendall(json.dumps(self._answer(uid, request)).encode() + b"\n")

    def close(self) -> None:
        self._sock.close()
        self.path.unlink(missing_ok=True)


def ask(path: str, request: JsonObject) -> JsonObject:
    """The client side: one request, one answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(TIMEOUT_S)
        sock.connect(path)
        sock.sendall(json.dumps(request).encode() + b"\n")
        data = sock.makefile("rb").read()
    answer = json.loads(data)
    if not isinstance(answer, dict):
        raise ValueError("answer is not a JSON object")
    return answer
