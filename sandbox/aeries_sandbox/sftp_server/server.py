"""A throw-away OpenSSH sshd that only offers SFTP (:class:`SftpServer`); see the package docstring."""

from __future__ import annotations

import json
import os
import pwd
import resource
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from aeries_sandbox.sftp_server.linux import (
    PERMISSION_OVERRIDES,
    can_drop_capabilities,
    child_setup,
    lacks_capabilities,
)

__all__ = ["SftpServer", "SftpServerError", "find_sshd", "INSTALL_HINT"]

#: Where to look for sshd when it is not on PATH (Debian/Ubuntu put it in /usr/sbin).
SSHD_CANDIDATES = ("/usr/sbin/sshd", "/usr/local/sbin/sshd", "/opt/homebrew/sbin/sshd")
INSTALL_HINT = (
    "OpenSSH server (sshd) is not installed: install it with "
    "`sudo apt-get install openssh-server` (Debian/Ubuntu) and try again"
)
PRIVSEP_DIR = Path("/run/sshd")


class SftpServerError(RuntimeError):
    """sshd is missing or did not start; the message says why and where the log is."""


def find_sshd() -> str:
    """Absolute path of the sshd binary (sshd refuses to re-exec from a relative path)."""
    found = shutil.which("sshd")
    if found:
        return os.path.abspath(found)
    for candidate in SSHD_CANDIDATES:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise SftpServerError(INSTALL_HINT)


def _find_ssh_keygen() -> str:
    found = shutil.which("ssh-keygen")
    if not found:
        raise SftpServerError(
            "ssh-keygen is not installed: install it with `sudo apt-get install openssh-client`"
        )
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _quote(value: str | Path) -> str:
    """Quote a value for sshd_config (paths with spaces)."""
    text = str(value)
    if '"' in text or "\n" in text:
        raise SftpServerError(f"unsupported character in path for sshd_config: {text!r}")
    return f'"{text}"'


class SftpServer:
    """A running OpenSSH sshd that only offers SFTP, with a generated host and user key.

    :param root: delivery root the SFTP user lands in (created if missing). Default: a
        ``root`` directory inside the server's temp dir, removed by :meth:`stop`.
    :param startup_timeout: seconds to wait for sshd to answer with an SSH banner.
    :param max_file_size: fault: writes past this many bytes fail with EFBIG (Linux/POSIX).
    :param enforce_permissions: as root on Linux, start sshd without the capabilities that
        bypass file permissions (see the module docstring).
    """

    host = "127.0.0.1"

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        startup_timeout: float = 10.0,
        max_file_size: int | None = None,
        enforce_permissions: bool = True,
    ):
        self._given_root = Path(root).resolve() if root is not None else None
        self.startup_timeout = startup_timeout
        self.max_file_size = max_file_size
        self.enforce_permissions = enforce_permissions
        #: True when file permissions bind the SFTP session (always for a non-root user).
        self.permissions_enforced = False
        self.username: str = pwd.getpwuid(os.geteuid()).pw_name
        self.port: int | None = None
        self.root: Path | None = self._given_root
        self.workdir: Path | None = None
        self.private_key_path: Path | None = None
        self.public_key_path: Path | None = None
        self.host_key: str | None = None
        self.log_path: Path | None = None
        self.config_path: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: Any = None
        self._log_thread: threading.Thread | None = None
        self._log_lock = threading.Lock()
        self._fault_lock = threading.Lock()
        self._restore_fsize: tuple[int, int] | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> SftpServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> SftpServer:
        if self.running:
            return self
        sshd = find_sshd()
        keygen = _find_ssh_keygen()
        self.workdir = Path(tempfile.mkdtemp(prefix="aeries-sftp-"))
        try:
            self._prepare(keygen)
            if os.geteuid() == 0:
                # sshd aborts with "Missing privilege separation directory: /run/sshd" otherwise.
                PRIVSEP_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
            last_error: SftpServerError | None = None
            for _attempt in range(3):  # the free port may be taken between probe and bind
                self.port = _free_port()
                self._write_config()
                try:
                    self._launch(sshd)
                    return self
                except SftpServerError as exc:
                    last_error = exc
                    self._terminate()
                    if "Address already in use" not in self.read_log():
                        break
            assert last_error is not None
            raise last_error
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop sshd and remove the temp dir (a root given to the constructor is kept)."""
        self._terminate()
        if self.workdir is not None and self.workdir.exists():
            shutil.rmtree(self.workdir, onerror=_make_writable_and_retry)
        self.workdir = None

    # -- connection details -----------------------------------------------------------------
    def airflow_connection(self, conn_id: str | None = None) -> dict[str, Any]:
        """JSON-able connection for ``AIRFLOW_CONN_<ID>`` (SFTPHook / SSHHook, host key checked).

        ``conn_id`` is accepted for symmetry with callers that build several connections; the
        id is given by the env var name, so it is not part of the dict.
        """
        if not self.running:
            raise SftpServerError("the SFTP server is not running: call start() first")
        del conn_id
        return {
            "conn_type": "sftp",
            "host": self.host,
            "port": self.port,
            "login": self.username,
            "extra": {
                "key_file": str(self.private_key_path),
                "host_key": self.host_key,
                "no_host_key_check": False,
                # Only the generated key: do not try ~/.ssh/id_* of whoever runs the tests.
                "look_for_keys": False,
            },
        }

    def airflow_connection_uri_env(self, conn_id: str) -> tuple[str, str]:
        """``("AIRFLOW_CONN_<ID>", json)`` ready for ``os.environ``/``monkeypatch.setenv``."""
        return f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(self.airflow_connection(conn_id))

    # -- internals --------------------------------------------------------------------------
    def _prepare(self, keygen: str) -> None:
        assert self.workdir is not None
        self.workdir.chmod(0o700)
        if self._given_root is None:
            self.root = self.workdir / "root"
        assert self.root is not None
        self.root.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / "sshd.log"
        host_key_path = self.workdir / "ssh_host_ed25519_key"
        self.private_key_path = self.workdir / "id_ed25519"
        self.public_key_path = self.workdir / "id_ed25519.pub"
        for path, comment in ((host_key_path, "aeries-sandbox-host"), (self.private_key_path, "aeries-sandbox-user")):
            subprocess.run(
                [keygen, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                check=True,
                stdin=subprocess.DEVNULL,
                capture_output=True,
            )
        key_type, key_data = (host_key_path.with_suffix(".pub")).read_text().split()[:2]
        self.host_key = f"{key_type} {key_data}"
        (self.workdir / "authorized_keys").write_text(self.public_key_path.read_text())

    def _write_config(self) -> None:
        assert self.workdir is not None and self.root is not None
        sftp_root = self._sftp_root()
        lines = [
            f"Port {self.port}",
            f"ListenAddress {self.host}",
            f"HostKey {_quote(self.workdir / 'ssh_host_ed25519_key')}",
            f"PidFile {_quote(self.workdir / 'sshd.pid')}",
            f"AuthorizedKeysFile {_quote(self.workdir / 'authorized_keys')}",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "HostbasedAuthentication no",
            "AuthenticationMethods publickey",
            "PermitRootLogin prohibit-password",
            "UsePAM no",
            "StrictModes no",
            "UseDNS no",
            "PrintMotd no",
            "PermitTTY no",
            "PermitTunnel no",
            "PermitUserEnvironment no",
            "X11Forwarding no",
            "AllowAgentForwarding no",
            "AllowTcpForwarding no",
            "AllowStreamLocalForwarding no",
            "GatewayPorts no",
            "Subsystem sftp internal-sftp",
            # sshd splits the internal-sftp command line on spaces without unquoting.
            f"ForceCommand internal-sftp -d {sftp_root}",
            f"AllowUsers {self.username}",
            "LogLevel VERBOSE",
        ]
        self.config_path = self.workdir / "sshd_config"
        self.config_path.write_text("\n".join(lines) + "\n")

    def _sftp_root(self) -> str:
        """The root as an ``internal-sftp -d`` argument: no whitespace, ``%`` escaped."""
        assert self.workdir is not None and self.root is not None
        root = str(self.root)
        if any(ch.isspace() for ch in root):
            link = self.workdir / "root"  # only reached for a given root, so the name is free
            if not link.is_symlink():
                link.symlink_to(self.root, target_is_directory=True)
            root = str(link)
            if any(ch.isspace() for ch in root):
                raise SftpServerError(
                    f"cannot serve {self.root}: sshd's internal-sftp cannot take a directory "
                    "with spaces; set TMPDIR or choose a root without spaces"
                )
        return root.replace("%", "%%")  # sftp-server expands %d / %u in -d

    def _launch(self, sshd: str) -> None:
        assert self.config_path is not None and self.log_path is not None
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in _terminate
        drop_caps = self.enforce_permissions and can_drop_capabilities()
        self._process = subprocess.Popen(
            [sshd, "-D", "-e", "-f", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=child_setup(drop_caps=drop_caps, max_file_size=self.max_file_size),
        )
        self._log_thread = threading.Thread(
            target=self._pump_log, args=(self._process.stdout,), name="sshd-log", daemon=True
        )
        self._log_thread.start()
        self.permissions_enforced = os.geteuid() != 0 or lacks_capabilities(self._process.pid, PERMISSION_OVERRIDES)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._join_log(timeout=2)
                raise SftpServerError(
                    f"sshd exited with code {self._process.returncode} while starting; "
                    f"see {self.log_path}:\n{self.read_log()[-2000:]}"
                )
            if self._banner_ready():
                return
            time.sleep(0.05)
        raise SftpServerError(
            f"sshd did not answer on {self.host}:{self.port} within {self.startup_timeout:.0f} s; "
            f"see {self.log_path}"
        )

    def _banner_ready(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1.0) as sock:
                return sock.recv(256).startswith(b"SSH-")
        except OSError:
            return False

    # -- faults -----------------------------------------------------------------------------
    def drop_next_session(self, after_bytes: int) -> None:
        """Fault: kill the next session that logs in when it writes at or past byte ``after_bytes`` of a file.

        sshd's RLIMIT_FSIZE is lowered to ``after_bytes``; the connection accepted next inherits
        it, and sshd's own limit is restored as soon as that session has logged in ("Accepted
        publickey" in the log), so only that one session is affected. Its SFTP process is then
        killed by SIGXFSZ by the first write that starts at or past ``after_bytes``: the client
        sees the connection drop, and the file being written stays behind with ``after_bytes``
        bytes. (A write that starts below the limit and crosses it is only cut short, which
        sftp-server answers with "Failure"; so pick a multiple of the client's write size, 32 KiB
        for paramiko, below the file's size.) Linux only.
        """
        if not self.running or self._process is None:
            raise SftpServerError("the SFTP server is not running: call start() first")
        if self.max_file_size is not None:
            raise SftpServerError("drop_next_session needs SIGXFSZ to kill; a max_file_size server ignores it")
        if not hasattr(resource, "prlimit"):
            raise SftpServerError("drop_next_session needs Linux (prlimit)")
        with self._fault_lock:
            current = resource.prlimit(self._process.pid, resource.RLIMIT_FSIZE)
            if self._restore_fsize is None:
                self._restore_fsize = current
            resource.prlimit(self._process.pid, resource.RLIMIT_FSIZE, (after_bytes, current[1]))

    @property
    def drop_pending(self) -> bool:
        """True while a ``drop_next_session`` fault waits for its session."""
        return self._restore_fsize is not None

    def clear_faults(self) -> None:
        """Cancel a pending ``drop_next_session`` (restores sshd's file size limit)."""
        with self._fault_lock:
            restore, self._restore_fsize = self._restore_fsize, None
            if restore is not None and self._process is not None and self._process.poll() is None:
                try:
                    resource.prlimit(self._process.pid, resource.RLIMIT_FSIZE, restore)
                except OSError:
                    pass

    def _on_log_line(self, line: bytes) -> None:
        if self._restore_fsize is not None and b"Accepted publickey for " in line:
            self.clear_faults()

    def _pump_log(self, stream: Any) -> None:
        """Copy sshd's output into the log file, line by line, and watch it for fault triggers."""
        with stream:
            for line in iter(stream.readline, b""):
                with self._log_lock:
                    if self._log_file is not None:
                        self._log_file.write(line)
                        self._log_file.flush()
                self._on_log_line(line)

    def _join_log(self, timeout: float) -> None:
        thread = self._log_thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def read_log(self) -> str:
        """The sshd log so far (empty when there is none)."""
        try:
            return self.log_path.read_text(errors="replace") if self.log_path else ""
        except OSError:
            return ""

    def _terminate(self) -> None:
        proc, self._process = self._process, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self._restore_fsize = None
        # Sessions a client left open keep the pipe open (and the copier waiting): what sshd
        # wrote is copied by now; later lines of those sessions are dropped.
        self._join_log(timeout=0.5)
        self._log_thread = None
        with self._log_lock:
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None


def _make_writable_and_retry(func: Any, path: str, _exc_info: Any) -> None:
    """rmtree error handler: tests chmod directories read-only; undo that and retry."""
    parent = os.path.dirname(path)
    for target in (parent, path):
        try:
            os.chmod(target, os.stat(target).st_mode | stat.S_IWUSR | stat.S_IRUSR | stat.S_IXUSR)
        except OSError:
            pass
    func(path)
