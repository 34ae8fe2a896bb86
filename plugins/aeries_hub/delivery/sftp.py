"""Safe SFTP delivery: upload to a temp name, atomically rename, verify the size.

    receipt = deliver_file("destiny_sftp", "/data/out/patrons.csv", "upload/patrons.csv")

The vendor never sees a half-written file: the upload goes to ``.<name>.<hex>.part`` in the
target directory and is moved onto the final name with ``posix-rename@openssh.com``, which
replaces an existing file atomically. Host keys are always checked (the connection must
carry the server key in the ``host_key`` extra or the host must be in known_hosts).

A file already at the vendor with the same size and sha256 is not sent again (checked on the
same connection before uploading; ``skip_if_unchanged=False`` turns that off): the receipt
then says ``already_there`` and the remote file is left as it is.

A server that cannot write the whole file (no space, a quota, a file size limit) stores fewer
bytes than were sent: OpenSSH's sftp-server reports only "Failure" for that, and paramiko's
pipelined upload may not report it at all, so the size the server reports for the temp file is
what tells. The partial temp file is removed and the final name is left untouched.

If the connection drops mid-upload the ``.part`` file may stay behind (it cannot be removed
over a dead connection); it is a hidden name and the final file is untouched.

Every failure is raised as :class:`DeliveryError` naming the connection id, host, remote
path and what to do about it; secrets (keys, passwords) never appear in messages.
"""

from __future__ import annotations

import errno
import hashlib
import os
import posixpath
import re
import secrets
import socket
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import paramiko
from airflow.providers.sftp.hooks.sftp import SFTPHook

from aeries_hub.delivery import CHUNK, DeliveryError, Receipt, local_file, size_and_sha256

__all__ = ["DeliveryError", "DeliveryReceipt", "deliver_file", "open_sftp", "remote_sha256_matches",
           "require_host_key_check"]

#: Seconds between connection attempts when the server is unreachable (tests shorten it).
RETRY_WAIT_SECONDS = 2.0

#: paramiko's ``put(confirm=True)`` error when the server kept fewer bytes than were sent.
_SIZE_MISMATCH = re.compile(r"size mismatch in put!\s*(\d+)\s*!=\s*(\d+)")


@dataclass(frozen=True)
class DeliveryReceipt(Receipt):
    conn_id: str
    remote_path: str
    bytes: int
    sha256: str
    seconds: float
    #: True when the same bytes were already at ``remote_path`` and nothing was uploaded.
    already_there: bool = False


# -- public API ------------------------------------------------------------------------------
def deliver_file(
    sftp_conn_id: str,
    local_path: str | os.PathLike[str] | Any,
    remote_path: str,
    *,
    create_dirs: bool = False,
    skip_if_unchanged: bool = True,
    connect_attempts: int = 3,
    hook_factory: Callable[..., Any] = SFTPHook,
) -> DeliveryReceipt:
    """Upload ``local_path`` to ``remote_path`` on ``sftp_conn_id``, atomically, and verify it.

    :param local_path: a local path, or an ``airflow.sdk.ObjectStoragePath`` (non-local
        storage is streamed through a local temp file first).
    :param remote_path: relative paths are relative to the SFTP login directory.
    :param create_dirs: create missing remote directories; otherwise a missing directory
        is a :class:`DeliveryError`.
    :param skip_if_unchanged: when ``remote_path`` already holds a file of the same size and
        sha256 (read back only when the size matches), upload nothing and return a receipt
        with ``already_there=True``.
    :param connect_attempts: attempts when the server is unreachable (authentication and
        host key failures are never retried).
    :param hook_factory: builds the hook, called as
        ``hook_factory(ssh_conn_id=..., conn_retry_attempts=1)``; must offer
        ``get_managed_conn()`` yielding a paramiko ``SFTPClient``.
    """
    started = time.monotonic()
    with local_file(local_path) as source:
        size, sha256 = size_and_sha256(source)
        directory, name = posixpath.split(remote_path)
        if not name:
            raise DeliveryError(f"remote path {remote_path!r} for sftp connection {sftp_conn_id!r} names no file")

        hook = _make_hook(hook_factory, sftp_conn_id)
        where = _Where(sftp_conn_id, hook)
        with _connected(hook, where, connect_attempts) as sftp:
            _ensure_directory(sftp, directory, create_dirs, where)
            already_there = skip_if_unchanged and _already_there(sftp, remote_path, size, sha256, where)
            if not already_there:
                _upload(sftp, str(source), size, remote_path, where)

    return DeliveryReceipt(
        conn_id=sftp_conn_id,
        remote_path=remote_path,
        bytes=size,
        sha256=sha256,
        seconds=round(time.monotonic() - started, 3),
        already_there=already_there,
    )


def remote_sha256_matches(
    sftp_conn_id: str,
    remote_path: str,
    sha256: str,
    *,
    hook_factory: Callable[..., Any] = SFTPHook,
) -> bool:
    """True when ``remote_path`` exists and its content hashes to ``sha256`` (reads it back)."""
    hook = _make_hook(hook_factory, sftp_conn_id)
    where = _Where(sftp_conn_id, hook)
    with _connected(hook, where, attempts=1) as sftp:
        try:
            return _remote_sha256_matches(sftp, remote_path, sha256)
        except Exception as exc:
            raise _translate(exc, where, remote_path, action="reading") from exc


# -- helpers ---------------------------------------------------------------------------------
class _Where:
    """``sftp connection 'id' (host:port)`` for messages."""

    def __init__(self, conn_id: str, hook: Any):
        self.conn_id = conn_id
        self.host = getattr(hook, "remote_host", None) or "?"
        self.port = getattr(hook, "port", None) or 22
        self.user = getattr(hook, "username", None) or "?"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def __str__(self) -> str:
        return f"sftp connection {self.conn_id!r} ({self.address})"


def _make_hook(hook_factory: Callable[..., Any], conn_id: str) -> Any:
    try:
        # Connection retries are ours (_connected): the hook's own retry loop would also
        # retry authentication and host key failures, three times with 3-5 s sleeps.
        hook = hook_factory(ssh_conn_id=conn_id, conn_retry_attempts=1)
    except Exception as exc:
        if type(exc).__name__ == "AirflowNotFoundException":
            raise DeliveryError(
                f"sftp connection {conn_id!r} is not defined: add it in Airflow (Admin > Connections) "
                f"or as the AIRFLOW_CONN_{conn_id.upper()} environment variable"
            ) from exc
        raise DeliveryError(
            f"sftp connection {conn_id!r} is invalid ({type(exc).__name__}: {exc}); fix its "
            "host, login and extras (key_file or private_key, host_key)"
        ) from exc
    require_host_key_check(hook, conn_id)
    return hook


def require_host_key_check(hook: Any, conn_id: str) -> None:
    """The one host key policy of every SFTP connection the hub opens (deliveries and write-back sources):
    student data never goes to, or comes from, a server whose identity is not checked."""
    if getattr(hook, "no_host_key_check", False) or getattr(hook, "allow_host_key_change", False):
        raise DeliveryError(
            f"sftp connection {conn_id!r} turns host key checking off (no_host_key_check or "
            "allow_host_key_change); remove that extra and set host_key to the server's public key"
        )


@contextmanager
def open_sftp(sftp_conn_id: str, *, connect_attempts: int = 3,
              hook_factory: Callable[..., Any] = SFTPHook) -> Iterator[tuple[Any, str]]:
    """``(paramiko SFTPClient, "sftp connection 'id' (host:port)")`` for reading from a vendor's server, with the
    deliveries' host key policy and connection errors (a write-back source reads its exports this way)."""
    hook = _make_hook(hook_factory, sftp_conn_id)
    where = _Where(sftp_conn_id, hook)
    with _connected(hook, where, connect_attempts) as sftp:
        yield sftp, str(where)


@contextmanager
def _connected(hook: Any, where: _Where, attempts: int) -> Iterator[Any]:
    with ExitStack() as stack:
        for attempt in range(1, max(1, attempts) + 1):
            try:
                sftp = stack.enter_context(hook.get_managed_conn())
                break
            except Exception as exc:
                error = _translate(exc, where, None)
                if not error.retryable or attempt >= attempts:
                    raise error from exc
                time.sleep(RETRY_WAIT_SECONDS)
        yield sftp


def _ensure_directory(sftp: Any, directory: str, create_dirs: bool, where: _Where) -> None:
    if directory in ("", ".", "/"):
        return
    try:
        mode = sftp.stat(directory).st_mode
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise _translate(exc, where, directory) from exc
        if not create_dirs:
            raise DeliveryError(
                f"remote directory {directory} does not exist on {where}: create it on the server "
                "or pass create_dirs=True"
            ) from None
        _make_dirs(sftp, directory, where)
        return
    if mode is not None and not stat.S_ISDIR(mode):
        raise DeliveryError(f"remote path {directory} on {where} is not a directory: fix the remote path")


def _make_dirs(sftp: Any, directory: str, where: _Where) -> None:
    current = "/" if directory.startswith("/") else ""
    for part in (p for p in directory.split("/") if p and p != "."):
        current = posixpath.join(current, part)
        try:
            sftp.stat(current)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise _translate(exc, where, current) from exc
            try:
                sftp.mkdir(current)
            except OSError as mkdir_exc:
                raise _translate(mkdir_exc, where, current, action="creating directory") from mkdir_exc


def _already_there(sftp: Any, remote_path: str, size: int, sha256: str, where: _Where) -> bool:
    """True when ``remote_path`` holds a regular file of ``size`` bytes hashing to ``sha256``.

    Stats first and reads the file back only when the size matches. A file that cannot be read
    (a write-only drop box) counts as not there: it is sent.
    """
    try:
        attrs = sftp.stat(remote_path)
        if attrs.st_size != size or (attrs.st_mode is not None and not stat.S_ISREG(attrs.st_mode)):
            return False
        return _remote_sha256_matches(sftp, remote_path, sha256)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.EACCES, errno.EPERM):
            return False
        raise _translate(exc, where, remote_path, action="reading") from exc
    except Exception as exc:
        raise _translate(exc, where, remote_path, action="reading") from exc


def _remote_sha256_matches(sftp: Any, remote_path: str, sha256: str) -> bool:
    """The one place a remote file is hashed: reads it back on an open SFTP client (missing: False)."""
    digest = hashlib.sha256()
    try:
        with sftp.open(remote_path, "rb") as remote:
            remote.prefetch()
            while chunk := remote.read(CHUNK):
                digest.update(chunk)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return False
        raise
    return digest.hexdigest() == sha256.lower()


def _upload(sftp: Any, source: str, size: int, remote_path: str, where: _Where) -> None:
    """Upload to a hidden temp name next to ``remote_path``, rename it onto the final name, check the size."""
    directory, name = posixpath.split(remote_path)
    tmp_path = posixpath.join(directory, f".{name}.{secrets.token_hex(8)}.part")
    try:
        sftp.put(source, tmp_path, confirm=True)
    except Exception as exc:
        removed = _try_remove(sftp, tmp_path)
        raise _upload_error(exc, sftp, where, remote_path, tmp_path, removed) from exc
    try:
        _replace(sftp, tmp_path, remote_path, where)
        remote_size = sftp.stat(remote_path).st_size
        if remote_size is not None and remote_size != size:
            _try_remove(sftp, remote_path)
            raise DeliveryError(
                f"size check failed for {remote_path} on {where}: sent {size} bytes, "
                f"server reports {remote_size}; the file was removed, deliver it again",
                retryable=True,
            )
    except DeliveryError:
        _try_remove(sftp, tmp_path)
        raise
    except Exception as exc:
        _try_remove(sftp, tmp_path)
        raise _translate(exc, where, remote_path) from exc


def _upload_error(
    exc: BaseException, sftp: Any, where: _Where, remote_path: str, tmp_path: str, removed: bool
) -> DeliveryError:
    """What went wrong while the temp file was being written (the final name was not touched)."""
    if isinstance(exc, DeliveryError):
        return exc
    leftover = (
        "the partial upload was removed"
        if removed
        else f"a partial upload may remain as {tmp_path} (a hidden temp name, not the final name)"
    )
    if not _alive(sftp) or isinstance(exc, (paramiko.SSHException, EOFError, ConnectionError, socket.timeout)):
        return DeliveryError(
            f"the connection to {where} dropped while writing {remote_path} ({_describe(exc)}): nothing "
            f"was written to {remote_path}; {leftover}. Try again; if it keeps happening, check the "
            "network and ask the vendor about their server",
            retryable=True,
        )
    if isinstance(exc, OSError) and exc.errno in (None, errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        # OpenSSH's sftp-server reports ENOSPC, EDQUOT, EFBIG and EROFS alike as "Failure", and
        # paramiko's pipelined put may drop that status: then only the temp file's size tells.
        mismatch = _SIZE_MISMATCH.search(str(exc))
        detail = f"it stored {mismatch[1]} of {mismatch[2]} bytes" if mismatch else f"SFTP status: {exc.strerror or exc}"
        directory = posixpath.dirname(remote_path) or "."
        return DeliveryError(
            f"{where} could not write {remote_path} ({detail}): likely no space left or a quota on "
            f"{directory}, or no write permission there. Nothing was written to {remote_path} and "
            f"{leftover}; ask the vendor to free space, raise the quota or grant write access, then "
            "deliver again"
        )
    return _translate(exc, where, remote_path)


def _alive(sftp: Any) -> bool:
    """False when the SFTP channel or its SSH connection is gone."""
    try:
        channel = sftp.get_channel()
    except Exception:  # noqa: BLE001 - not a paramiko client: assume alive
        return True
    if channel is None:
        return True
    transport = channel.get_transport()
    return not channel.closed and (transport is None or transport.is_active())


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().rstrip(":").strip()
    return text or type(exc).__name__


def _replace(sftp: Any, tmp_path: str, remote_path: str, where: _Where) -> None:
    """Atomically move the uploaded temp file onto ``remote_path``."""
    try:
        sftp.posix_rename(tmp_path, remote_path)
    except OSError as exc:
        if exc.errno is not None or "unsupported" not in str(exc).lower():
            raise
        # Server without posix-rename@openssh.com: plain SFTP rename is atomic too, but
        # refuses to overwrite, so it only helps when the final name is free.
        try:
            sftp.stat(remote_path)
        except OSError:
            sftp.rename(tmp_path, remote_path)
            return
        raise DeliveryError(
            f"{where} does not support atomic replace (posix-rename) and {remote_path} already "
            "exists: ask the vendor to remove it or enable posix-rename"
        ) from exc


def _try_remove(sftp: Any, path: str) -> bool:
    """Best effort (the original error matters): True when ``path`` is gone (removed, or never created)."""
    try:
        sftp.remove(path)
    except OSError as exc:
        return exc.errno == errno.ENOENT
    except Exception:  # noqa: BLE001
        return False
    return True


def _fingerprint(key: Any) -> str:
    """OpenSSH-style ``SHA256:...`` fingerprint (as ``ssh-keygen -lf`` prints it)."""
    try:
        return key.fingerprint
    except AttributeError:
        return "MD5:" + key.get_fingerprint().hex()


def _translate(exc: BaseException, where: _Where, remote_path: str | None, action: str = "writing") -> DeliveryError:
    """Turn paramiko / socket / SFTP status errors into an actionable DeliveryError."""
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, paramiko.BadHostKeyException):
        return DeliveryError(
            f"host key of {where.address} does not match the host_key in connection {where.conn_id!r}: "
            f"the server sent {exc.key.get_name()} {_fingerprint(exc.key)}. If the vendor "
            "changed their key, confirm it with them and update the host_key extra; otherwise "
            "do not connect (possible man-in-the-middle)"
        )
    if isinstance(exc, paramiko.AuthenticationException):
        return DeliveryError(
            f"authentication failed for user {where.user} on {where}: check the login and the "
            "key_file/private_key extra, and that the vendor installed the matching public key"
        )
    if isinstance(exc, paramiko.SSHException) and "known_hosts" in str(exc):
        return DeliveryError(
            f"host key of {where.address} is unknown for connection {where.conn_id!r}: set the "
            f"host_key extra to the server's public key (ssh-keyscan -p {where.port} {where.host}, "
            "verified with the vendor)"
        )
    if isinstance(exc, OSError) and remote_path is None and getattr(exc, "filename", None):
        # A local file the hook opens while connecting: the key_file.
        return DeliveryError(
            f"cannot read the key file {exc.filename} for connection {where.conn_id!r}: "
            f"{exc.strerror or exc}; fix the key_file extra or the file's permissions"
        )
    if isinstance(exc, (paramiko.ssh_exception.NoValidConnectionsError, ConnectionError, socket.timeout, socket.gaierror)):
        return DeliveryError(
            f"cannot reach {where}: {exc}; check the host and port in the connection and the "
            "network/firewall",
            retryable=True,
        )
    if isinstance(exc, (paramiko.SSHException, EOFError)):
        return DeliveryError(f"SSH session with {where} failed: {exc}; try again later", retryable=True)
    if isinstance(exc, OSError) and remote_path is not None:
        directory = posixpath.dirname(remote_path) or "."
        if exc.errno in (errno.EACCES, errno.EPERM):
            return DeliveryError(
                f"permission denied {action} {remote_path} on {where}: grant the SFTP user "
                f"write access to {directory}"
            )
        if exc.errno == errno.ENOENT:
            return DeliveryError(
                f"no such file or directory {action} {remote_path} on {where}: check that "
                f"{directory} exists and the remote path is right"
            )
        return DeliveryError(
            f"SFTP error {action} {remote_path} on {where}: {exc.strerror or exc}; check that the "
            "remote path is a writable file location (not a directory) and the server has space",
            retryable=True,
        )
    if isinstance(exc, OSError):
        return DeliveryError(f"cannot reach {where}: {exc}", retryable=True)
    return DeliveryError(f"delivery via {where} failed: {type(exc).__name__}: {exc}")
