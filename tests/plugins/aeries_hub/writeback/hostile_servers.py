"""Hostile vendor servers on localhost, for the write-back source tests: what a compromised vendor can serve.

``HostileSftpServer``: a real SSH/SFTP server (paramiko's server side, in a thread) whose folder listing
returns any names, including ones OpenSSH's sshd cannot list (``a/../../b``, ``\\``, NUL), and whose reads
can trickle (``trickle=(bytes, seconds)``: each read answers at most that many bytes after that long) or whose
files can be huge without being stored (``huge={name: size}``: zeros, generated as they are read).

``HostileHttpServer``: an export API (``GET /api/v1/exports``, ``GET /files/<n>``) listing any names, with a
file that trickles one byte at a time, one that never ends, and files sent gzip-compressed (``*.gz``).

Both record what was requested, so a test can tell that a refused name was never read.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import paramiko

USER, PASSWORD = "vendor", "hostile-test-password"


class _Auth(paramiko.ServerInterface):
    def get_allowed_auths(self, username):
        return "password"

    def check_auth_password(self, username, password):
        return paramiko.AUTH_SUCCESSFUL if (username, password) == (USER, PASSWORD) else paramiko.AUTH_FAILED

    def check_channel_request(self, kind, chanid):
        return paramiko.OPEN_SUCCEEDED if kind == "session" else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED


class _Handle(paramiko.SFTPHandle):
    def __init__(self, server: HostileSftpServer, name: str):
        super().__init__()
        self.server, self.name = server, name

    def read(self, offset, length):
        server = self.server
        size = server.size_of(self.name)
        if offset >= size:
            return b""
        length = min(length, size - offset)
        if server.trickle:
            per_read, seconds = server.trickle
            time.sleep(seconds)
            length = min(length, per_read)
        server.bytes_served += length
        if self.name in server.huge:
            return b"0" * length
        return server.files[self.name][offset:offset + length]

    def stat(self):
        return self.server.attributes(self.name)


class _Sftp(paramiko.SFTPServerInterface):
    def __init__(self, channel, *args, hostile: HostileSftpServer, **kwargs):
        super().__init__(channel, *args, **kwargs)
        self.hostile = hostile

    def _name(self, path: str) -> str:
        folder = self.hostile.folder.rstrip("/") + "/"
        return path[len(folder):] if path.startswith(folder) else path

    def list_folder(self, path):
        self.hostile.requests.append(("list", path))
        if path.rstrip("/") != self.hostile.folder.rstrip("/"):
            return paramiko.SFTP_NO_SUCH_FILE
        return [self.hostile.attributes(name) for name in self.hostile.names()]

    def stat(self, path):
        name = self._name(path)
        return self.hostile.attributes(name) if name in self.hostile.names() else paramiko.SFTP_NO_SUCH_FILE

    lstat = stat

    def open(self, path, flags, attr):
        name = self._name(path)
        self.hostile.requests.append(("open", name))
        if name not in self.hostile.names():
            return paramiko.SFTP_NO_SUCH_FILE
        return _Handle(self.hostile, name)


class HostileSftpServer:
    """``files``: name -> bytes, listed in ``folder`` as given; ``huge``: name -> size (zeros, never stored);
    ``lie_about_size``: list sizes as 0 (so only the streamed read can tell a file is too large)."""

    def __init__(self, files: dict[str, bytes] | None = None, *, folder: str = "xello_export",
                 huge: dict[str, int] | None = None, trickle: tuple[int, float] | None = None,
                 lie_about_size: bool = False):
        self.files, self.folder, self.huge = dict(files or {}), folder, dict(huge or {})
        self.trickle, self.lie_about_size = trickle, lie_about_size
        self.requests: list[tuple[str, str]] = []
        self.bytes_served = 0
        self.host_key = paramiko.ECDSAKey.generate()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._transports: list[paramiko.Transport] = []
        self._stopped = threading.Event()

    def names(self) -> list[str]:
        return [*self.files, *self.huge]

    def size_of(self, name: str) -> int:
        return self.huge[name] if name in self.huge else len(self.files[name])

    def attributes(self, name: str) -> paramiko.SFTPAttributes:
        attr = paramiko.SFTPAttributes()
        attr.filename, attr.st_mode = name, 0o100644
        attr.st_size = 0 if self.lie_about_size else self.size_of(name)
        return attr

    def airflow_connection(self, **extra: Any) -> dict[str, Any]:
        return {"conn_type": "sftp", "host": "127.0.0.1", "port": self.port, "login": USER, "password": PASSWORD,
                "extra": {"host_key": f"{self.host_key.get_name()} {self.host_key.get_base64()}",
                          "look_for_keys": False, **extra}}

    def __enter__(self) -> HostileSftpServer:
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._stopped.set()
        self._listener.close()
        for transport in self._transports:
            transport.close()

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            transport = paramiko.Transport(sock)
            transport.add_server_key(self.host_key)
            transport.set_subsystem_handler("sftp", paramiko.SFTPServer, _Sftp, hostile=self)
            self._transports.append(transport)
            try:
                transport.start_server(server=_Auth())
            except (paramiko.SSHException, EOFError, OSError):  # the client hung up during the handshake
                transport.close()


class HostileHttpServer:
    """``listing``: the ``files`` list served at ``/api/v1/exports``; ``files``: path -> bytes (``/files/...``);
    ``/trickle`` sends one byte every ``trickle_seconds`` for ever, ``/endless`` sends zeros for ever (both
    without a Content-Length)."""

    def __init__(self, listing: list[dict] | None = None, files: dict[str, bytes] | None = None, *,
                 trickle_seconds: float = 0.2):
        self.listing, self.files, self.trickle_seconds = list(listing or []), dict(files or {}), trickle_seconds
        self.requests: list[str] = []
        self.bytes_served = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 - http.server's name
                server.requests.append(self.path)
                if self.path == "/api/v1/exports":
                    return self._send(json.dumps({"files": server.listing}).encode(), "application/json")
                if self.path in server.files:
                    if self.path.endswith(".gz"):  # sent gzip-compressed, as a web server may
                        return self._send(gzip.compress(server.files[self.path]), "text/plain", gzipped=True)
                    return self._send(server.files[self.path], "application/octet-stream")
                if self.path in ("/trickle", "/endless"):
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    try:
                        while True:
                            piece = b"x" if self.path == "/trickle" else b"0" * 65536
                            self.wfile.write(piece)
                            self.wfile.flush()
                            server.bytes_served += len(piece)
                            if self.path == "/trickle":
                                time.sleep(server.trickle_seconds)
                    except OSError:  # the client hung up: what a cut-off looks like from here
                        return
                self._send(b'{"error": "no such file"}', "application/json", status=404)

            def _send(self, body: bytes, kind: str, status: int = 200, gzipped: bool = False):
                self.send_response(status)
                self.send_header("Content-Type", kind)
                if gzipped:
                    self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                server.bytes_served += len(body)

            def log_message(self, *args):
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def airflow_connection(self) -> dict[str, Any]:
        return {"conn_type": "http", "host": "127.0.0.1", "port": self._httpd.server_address[1], "schema": "http",
                "password": "vendor-token", "extra": {"auth": "bearer", "timeout": 5, "allow_insecure": True}}

    def __enter__(self) -> HostileHttpServer:
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
