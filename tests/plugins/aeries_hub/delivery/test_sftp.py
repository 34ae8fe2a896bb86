"""deliver_file against a real OpenSSH sshd (aeries_sandbox.sftp_server), host key checked.

The SFTP fault catalogue, each against the real sshd: the connection drops mid-upload (the server's
session is killed, and a client-side reset), the login is refused (wrong user key, wrong host key),
no space left on the target folder (a full tmpfs when this machine may mount one; otherwise skipped)
and its always-running stand-in, a file size limit on sshd (EFBIG), and no permission on the target
folder. Each ends with the identical delivery or a DeliveryError naming the cause, and never with a
partial or duplicate file under the final name.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from contextlib import contextmanager

import pytest
from airflow.providers.sftp.hooks.sftp import SFTPHook

from aeries_hub.delivery import sftp as delivery
from aeries_hub.delivery.sftp import DeliveryError, DeliveryReceipt, deliver_file, remote_sha256_matches
from aeries_sandbox.sftp_server.server import SftpServer

CONN_ID = "destiny_sftp"
ENV = f"AIRFLOW_CONN_{CONN_ID.upper()}"


@pytest.fixture(scope="module")
def server():
    with SftpServer() as srv:
        yield srv


@pytest.fixture
def conn(server, monkeypatch):
    monkeypatch.setenv(ENV, json.dumps(server.airflow_connection()))
    return server.airflow_connection()


@pytest.fixture
def payload(tmp_path):
    path = tmp_path / "patrons.csv"
    path.write_bytes(b"id,name\n" + b"".join(b"%d,student %d\n" % (i, i) for i in range(20000)))
    return path


def _leftovers(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.part"))


def _where(server):
    return f"sftp connection '{CONN_ID}' ({server.host}:{server.port})"


class _RemoteProxy:
    """Wraps a paramiko SFTPClient, overriding some methods."""

    def __init__(self, sftp, **overrides):
        self._sftp = sftp
        self._overrides = overrides

    def __getattr__(self, name):
        if name in self._overrides:
            return self._overrides[name].__get__(self._sftp)
        return getattr(self._sftp, name)


def _factory(**overrides):
    """hook_factory building a real SFTPHook whose SFTP client has some methods replaced."""

    def make(**kwargs):
        hook = SFTPHook(**kwargs)
        real = hook.get_managed_conn

        @contextmanager
        def managed():
            with real() as sftp:
                yield _RemoteProxy(sftp, **overrides)

        hook.get_managed_conn = managed
        return hook

    return make


# -- happy path ---------------------------------------------------------------------------------
def test_delivers_exact_bytes_and_receipt(server, conn, payload):
    (server.root / "upload").mkdir(exist_ok=True)
    receipt = deliver_file(CONN_ID, payload, "upload/patrons.csv")

    data = payload.read_bytes()
    assert (server.root / "upload" / "patrons.csv").read_bytes() == data
    assert isinstance(receipt, DeliveryReceipt)
    assert receipt.conn_id == CONN_ID
    assert receipt.remote_path == "upload/patrons.csv"
    assert receipt.bytes == len(data)
    assert receipt.sha256 == hashlib.sha256(data).hexdigest()
    assert receipt.seconds >= 0
    assert receipt.to_dict() == {
        "conn_id": CONN_ID,
        "remote_path": "upload/patrons.csv",
        "bytes": len(data),
        "sha256": receipt.sha256,
        "seconds": receipt.seconds,
        "already_there": False,
    }
    json.dumps(receipt.to_dict())
    assert _leftovers(server.root) == []


def test_absolute_remote_path(server, conn, payload):
    target = server.root / "abs"
    target.mkdir(exist_ok=True)
    deliver_file(CONN_ID, str(payload), str(target / "patrons.csv"))
    assert (target / "patrons.csv").read_bytes() == payload.read_bytes()


def test_replaces_existing_file_atomically(server, conn, payload):
    final = server.root / "replace" / "patrons.csv"
    final.parent.mkdir(exist_ok=True)
    final.write_bytes(b"old content that is longer than nothing\n" * 10)
    inode_before = final.stat().st_ino

    deliver_file(CONN_ID, payload, "replace/patrons.csv")

    assert final.read_bytes() == payload.read_bytes()
    # A rename swaps in a new inode; an in-place overwrite would keep the old one.
    assert final.stat().st_ino != inode_before
    assert os.listdir(final.parent) == ["patrons.csv"]


def test_object_storage_path_is_streamed(server, conn, payload):
    import fsspec
    from airflow.sdk import ObjectStoragePath
    from airflow.sdk.io import attach

    attach("memory", fs=fsspec.filesystem("memory"))  # stands in for s3:// and friends
    source = ObjectStoragePath("memory://aeries-test/out/patrons.csv")
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(payload.read_bytes())
    (server.root / "osp").mkdir(exist_ok=True)

    receipt = deliver_file(CONN_ID, source, "osp/patrons.csv")

    assert (server.root / "osp" / "patrons.csv").read_bytes() == payload.read_bytes()
    assert receipt.sha256 == hashlib.sha256(payload.read_bytes()).hexdigest()
    local = ObjectStoragePath(f"file://{payload}")
    assert deliver_file(CONN_ID, local, "osp/local.csv").bytes == payload.stat().st_size


def test_create_dirs(server, conn, payload):
    receipt = deliver_file(CONN_ID, payload, "new/nested/dir/patrons.csv", create_dirs=True)
    assert (server.root / "new/nested/dir/patrons.csv").read_bytes() == payload.read_bytes()
    assert receipt.bytes == payload.stat().st_size


def test_remote_sha256_matches(server, conn, payload):
    (server.root / "sha").mkdir(exist_ok=True)
    receipt = deliver_file(CONN_ID, payload, "sha/patrons.csv")
    assert remote_sha256_matches(CONN_ID, "sha/patrons.csv", receipt.sha256) is True
    assert remote_sha256_matches(CONN_ID, "sha/patrons.csv", receipt.sha256.upper()) is True
    assert remote_sha256_matches(CONN_ID, "sha/patrons.csv", hashlib.sha256(b"other").hexdigest()) is False
    assert remote_sha256_matches(CONN_ID, "sha/missing.csv", receipt.sha256) is False


# -- a file already there is not sent again -----------------------------------------------------
OLD = 1_000_000_000  # an mtime (2001) that any rewrite of the file would change


def _delivered_once(server, payload, folder):
    (server.root / folder).mkdir(exist_ok=True)
    deliver_file(CONN_ID, payload, f"{folder}/patrons.csv")
    final = server.root / folder / "patrons.csv"
    os.utime(final, (OLD, OLD))
    return final


def _counting_reads(calls):
    """hook_factory whose SFTP client records every file it opens for reading (put opens through the real client)."""

    def open_(self, filename, mode="r", bufsize=-1):
        calls.append((filename, mode))
        return type(self).open(self, filename, mode, bufsize)

    return _factory(open=open_)


def test_same_bytes_twice_is_not_sent_again(server, conn, payload):
    final = _delivered_once(server, payload, "again")
    inode = final.stat().st_ino
    reads = []

    receipt = deliver_file(CONN_ID, payload, "again/patrons.csv", hook_factory=_counting_reads(reads))

    assert receipt.already_there is True
    assert receipt.to_dict()["already_there"] is True
    assert receipt.bytes == payload.stat().st_size
    assert receipt.sha256 == hashlib.sha256(payload.read_bytes()).hexdigest()
    assert final.stat().st_mtime == OLD and final.stat().st_ino == inode  # not rewritten, not replaced
    assert reads == [("again/patrons.csv", "rb")]  # read back once, to hash it
    assert os.listdir(final.parent) == ["patrons.csv"]


def test_different_bytes_are_uploaded(server, conn, payload, tmp_path):
    final = _delivered_once(server, payload, "changed")
    other = tmp_path / "patrons.csv"
    other.write_bytes(payload.read_bytes() + b"20000,student 20000\n")
    reads = []

    receipt = deliver_file(CONN_ID, other, "changed/patrons.csv", hook_factory=_counting_reads(reads))

    assert receipt.already_there is False
    assert final.read_bytes() == other.read_bytes()
    assert final.stat().st_mtime != OLD
    assert reads == []  # the sizes differ: nothing is read back


def test_same_size_different_bytes_are_uploaded(server, conn, payload, tmp_path):
    final = _delivered_once(server, payload, "samesize")
    other = tmp_path / "patrons.csv"
    other.write_bytes(payload.read_bytes().replace(b"student 1\n", b"STUDENT 1\n"))
    assert other.stat().st_size == payload.stat().st_size

    receipt = deliver_file(CONN_ID, other, "samesize/patrons.csv")

    assert receipt.already_there is False
    assert final.read_bytes() == other.read_bytes()


def test_skip_if_unchanged_false_uploads_anyway(server, conn, payload):
    final = _delivered_once(server, payload, "always")
    inode = final.stat().st_ino

    receipt = deliver_file(CONN_ID, payload, "always/patrons.csv", skip_if_unchanged=False)

    assert receipt.already_there is False
    assert final.read_bytes() == payload.read_bytes()
    assert final.stat().st_ino != inode and final.stat().st_mtime != OLD


def test_unreadable_remote_file_is_sent(server, conn, payload):
    """A write-only drop box: the file there cannot be read back to compare, so it is sent."""

    def open_(self, filename, mode="r", bufsize=-1):
        if "r" in mode:
            raise PermissionError(errno.EACCES, "Permission denied")
        return type(self).open(self, filename, mode, bufsize)

    final = _delivered_once(server, payload, "writeonly")
    receipt = deliver_file(CONN_ID, payload, "writeonly/patrons.csv", hook_factory=_factory(open=open_))
    assert receipt.already_there is False
    assert final.stat().st_mtime != OLD and final.read_bytes() == payload.read_bytes()


# -- errors -------------------------------------------------------------------------------------
def test_missing_remote_directory(server, conn, payload):
    with pytest.raises(DeliveryError) as info:
        deliver_file(CONN_ID, payload, "no_such_dir/patrons.csv")
    assert str(info.value) == (
        f"remote directory no_such_dir does not exist on {_where(server)}: "
        "create it on the server or pass create_dirs=True"
    )
    assert not (server.root / "no_such_dir").exists()


def test_remote_directory_is_a_file(server, conn, payload):
    (server.root / "plainfile").write_text("x")
    with pytest.raises(DeliveryError, match="plainfile .* is not a directory"):
        deliver_file(CONN_ID, payload, "plainfile/patrons.csv")


def test_permission_denied_real(server, conn, payload):
    # As root, the sandbox's sshd runs without CAP_DAC_OVERRIDE, so the folder's mode binds it too.
    if not server.permissions_enforced:
        pytest.skip("sshd could not drop root's permission override (no CAP_SETPCAP): a read-only "
                    "folder cannot be simulated (covered by the injected-error test)")
    locked = server.root / "locked"
    locked.mkdir(exist_ok=True)
    (locked / "patrons.csv").write_bytes(b"previous delivery\n")
    locked.chmod(0o555)
    try:
        with pytest.raises(DeliveryError) as info:
            deliver_file(CONN_ID, payload, "locked/patrons.csv")
    finally:
        locked.chmod(0o755)
    assert str(info.value) == (
        f"permission denied writing locked/patrons.csv on {_where(server)}: "
        "grant the SFTP user write access to locked"
    )
    assert os.listdir(locked) == ["patrons.csv"]
    assert (locked / "patrons.csv").read_bytes() == b"previous delivery\n"


def test_permission_denied_message(server, conn, payload):
    def put(self, localpath, remotepath, callback=None, confirm=True):
        raise PermissionError(errno.EACCES, "Permission denied")

    (server.root / "denied").mkdir(exist_ok=True)
    with pytest.raises(DeliveryError) as info:
        deliver_file(CONN_ID, payload, "denied/patrons.csv", hook_factory=_factory(put=put))
    assert str(info.value) == (
        f"permission denied writing denied/patrons.csv on {_where(server)}: "
        "grant the SFTP user write access to denied"
    )
    assert not info.value.retryable


def test_wrong_host_key_is_rejected(server, monkeypatch, payload, tmp_path):
    other = tmp_path / "other_host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    conn = server.airflow_connection()
    conn["extra"]["host_key"] = " ".join(other.with_suffix(".pub").read_text().split()[:2])
    monkeypatch.setenv(ENV, json.dumps(conn))

    with pytest.raises(DeliveryError) as info:
        deliver_file(CONN_ID, payload, "patrons.csv")
    message = str(info.value)
    assert message.startswith(
        f"host key of {server.host}:{server.port} does not match the host_key in connection '{CONN_ID}'"
    )
    assert not info.value.retryable
    assert not (server.root / "patrons.csv").exists()


def test_missing_host_key_is_rejected_not_trusted(server, monkeypatch, payload):
    conn = server.airflow_connection()
    del conn["extra"]["host_key"]
    monkeypatch.setenv(ENV, json.dumps(conn))
    with pytest.raises(DeliveryError, match=rf"host key of {server.host}:{server.port} is unknown"):
        deliver_file(CONN_ID, payload, "patrons.csv")


@pytest.mark.parametrize("extra", ["no_host_key_check", "allow_host_key_change"])
def test_connection_without_host_key_checking_is_refused(server, monkeypatch, payload, extra):
    conn = server.airflow_connection()
    del conn["extra"]["host_key"]
    conn["extra"]["no_host_key_check"] = False
    conn["extra"][extra] = True
    monkeypatch.setenv(ENV, json.dumps(conn))
    with pytest.raises(DeliveryError, match=f"sftp connection '{CONN_ID}' turns host key checking off") as refused:
        deliver_file(CONN_ID, payload, "patrons.csv")
    assert not (server.root / "patrons.csv").exists()
    # One policy: a write-back source reading from the same server is refused with the same error.
    with pytest.raises(DeliveryError) as read_refused:
        with delivery.open_sftp(CONN_ID):
            pass
    assert str(read_refused.value) == str(refused.value)


def test_open_sftp_reads_from_the_server_with_its_host_key_checked(server, conn):
    (server.root / "exports").mkdir(exist_ok=True)
    (server.root / "exports" / "a.txt").write_bytes(b"ok")
    with delivery.open_sftp(CONN_ID) as (sftp, where):
        assert sftp.listdir("exports") == ["a.txt"]
    assert where == _where(server)


def test_open_sftp_names_a_wrong_host_key_as_deliveries_do(server, monkeypatch):
    conn = server.airflow_connection()
    other = SftpServer()
    with other:
        conn["extra"]["host_key"] = other.host_key
    monkeypatch.setenv(ENV, json.dumps(conn))
    with pytest.raises(DeliveryError, match=rf"host key of {server.host}:{server.port} does not match the host_key"):
        with delivery.open_sftp(CONN_ID, connect_attempts=1):
            pass


def test_wrong_user_key_is_an_authentication_error(server, monkeypatch, payload, tmp_path):
    wrong_key = tmp_path / "wrong_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(wrong_key)], check=True)
    conn = server.airflow_connection()
    conn["extra"]["key_file"] = str(wrong_key)
    monkeypatch.setenv(ENV, json.dumps(conn))

    with pytest.raises(DeliveryError) as info:
        deliver_file(CONN_ID, payload, "patrons.csv")
    message = str(info.value)
    assert message.startswith(f"authentication failed for user {server.username} on {_where(server)}")
    assert "PRIVATE KEY" not in message and wrong_key.read_text() not in message
    assert not info.value.retryable


def test_unknown_connection(payload):
    with pytest.raises(DeliveryError, match="sftp connection 'nobody_sftp' is not defined"):
        deliver_file("nobody_sftp", payload, "patrons.csv")


def test_unreachable_server_is_retryable(server, monkeypatch, payload):
    conn = server.airflow_connection()
    conn["port"] = 1  # nothing listens there
    monkeypatch.setenv(ENV, json.dumps(conn))
    monkeypatch.setattr(delivery, "RETRY_WAIT_SECONDS", 0.01)
    with pytest.raises(DeliveryError, match=rf"cannot reach sftp connection '{CONN_ID}'") as info:
        deliver_file(CONN_ID, payload, "patrons.csv", connect_attempts=2)
    assert info.value.retryable


def test_missing_local_file(conn, tmp_path):
    with pytest.raises(DeliveryError, match="does not exist"):
        deliver_file(CONN_ID, tmp_path / "nope.csv", "patrons.csv")


def test_rename_failure_leaves_no_partial_or_part_file(server, conn, payload):
    def posix_rename(self, old, new):
        raise OSError("Failure")

    folder = server.root / "failrename"
    folder.mkdir(exist_ok=True)
    (folder / "patrons.csv").write_bytes(b"previous delivery\n")

    with pytest.raises(DeliveryError, match=re.escape(f"SFTP error writing failrename/patrons.csv on {_where(server)}: Failure")):
        deliver_file(CONN_ID, payload, "failrename/patrons.csv", hook_factory=_factory(posix_rename=posix_rename))

    assert os.listdir(folder) == ["patrons.csv"]
    assert (folder / "patrons.csv").read_bytes() == b"previous delivery\n"


def test_failure_mid_upload_leaves_no_partial_or_part_file(server, conn, payload):
    def put(self, localpath, remotepath, callback=None, confirm=True):
        def explode(sent, total):
            if sent > 0:
                raise ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")

        return type(self).put(self, localpath, remotepath, callback=explode, confirm=confirm)

    folder = server.root / "failput"
    folder.mkdir(exist_ok=True)
    with pytest.raises(DeliveryError) as info:
        deliver_file(CONN_ID, payload, "failput/patrons.csv", hook_factory=_factory(put=put))
    assert str(info.value) == (
        f"the connection to {_where(server)} dropped while writing failput/patrons.csv "
        "([Errno 104] Connection reset by peer): nothing was written to failput/patrons.csv; the partial "
        "upload was removed. Try again; if it keeps happening, check the network and ask the vendor about "
        "their server"
    )
    assert info.value.retryable
    assert os.listdir(folder) == []
    assert _leftovers(server.root) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="drop_next_session needs Linux (prlimit)")
def test_server_drops_the_connection_mid_upload_then_the_next_attempt_delivers(server, conn, payload):
    folder = server.root / "dropped"
    folder.mkdir(exist_ok=True)
    (folder / "patrons.csv").write_bytes(b"previous delivery\n")
    server.drop_next_session(after_bytes=100_000)  # sshd's session is killed when the temp file passes 100 kB
    try:
        with pytest.raises(DeliveryError) as info:
            deliver_file(CONN_ID, payload, "dropped/patrons.csv")
    finally:
        server.clear_faults()

    part = re.escape("dropped/.patrons.csv.") + "[0-9a-f]{16}" + re.escape(".part")
    # paramiko says "Socket is closed" or "Server connection dropped", depending on whether it was
    # sending or waiting for an answer when the server's session died.
    assert re.fullmatch(
        re.escape(f"the connection to {_where(server)} dropped while writing dropped/patrons.csv ")
        + r"\((Socket is closed|Server connection dropped)\): "
        + re.escape("nothing was written to dropped/patrons.csv; a partial upload may remain as ")
        + part + re.escape(" (a hidden temp name, not the final name). Try again; if it keeps happening, check the "
                           "network and ask the vendor about their server"),
        str(info.value),
    ), str(info.value)
    assert info.value.retryable
    # The final name still holds the previous delivery; the dead session's temp file stays (hidden).
    assert (folder / "patrons.csv").read_bytes() == b"previous delivery\n"
    (leftover,) = folder.glob(".patrons.csv.*.part")
    assert leftover.stat().st_size == 100_000

    receipt = deliver_file(CONN_ID, payload, "dropped/patrons.csv")  # the retry

    assert receipt.already_there is False
    assert (folder / "patrons.csv").read_bytes() == payload.read_bytes()


# -- no space on the target folder ----------------------------------------------------------------
def _could_not_write(server, remote, stored, sent):
    folder = remote.rsplit("/", 1)[0]
    return (
        f"{_where(server)} could not write {remote} (it stored {stored} of {sent} bytes): likely no space left "
        f"or a quota on {folder}, or no write permission there. Nothing was written to {remote} and the partial "
        "upload was removed; ask the vendor to free space, raise the quota or grant write access, then deliver again"
    )


@contextmanager
def _small_tmpfs(path, size):
    """A tmpfs of ``size`` mounted on ``path`` (root with CAP_SYS_ADMIN); skips the test otherwise."""
    mount = shutil.which("mount")
    if os.geteuid() != 0 or not sys.platform.startswith("linux") or mount is None:
        pytest.skip("mounting a small tmpfs needs root on Linux; the file size limit test covers the same path")
    path.mkdir()
    done = subprocess.run(
        [mount, "-t", "tmpfs", "-o", f"size={size},mode=0755", "aeries-test-full", str(path)],
        capture_output=True, text=True,
    )
    if done.returncode != 0:
        path.rmdir()
        pytest.skip(f"cannot mount a tmpfs here (a container without CAP_SYS_ADMIN?): {done.stderr.strip().rstrip('.')}; "
                    "the file size limit test covers the same path")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)
        path.rmdir()


@pytest.mark.parametrize("previous", [None, b"previous delivery\n"], ids=["new_file", "replacing"])
def test_no_space_left_on_device_real(server, conn, payload, previous):
    """sshd's sftp-server gets ENOSPC writing into a full 128 kB tmpfs (it reports "Failure")."""
    with _small_tmpfs(server.root / f"full_{previous is not None}", "128k") as full:
        if previous is not None:
            (full / "patrons.csv").write_bytes(previous)
        stat = os.statvfs(full)
        room = stat.f_bavail * stat.f_frsize
        assert room < payload.stat().st_size
        remote = f"{full.name}/patrons.csv"

        with pytest.raises(DeliveryError) as info:
            deliver_file(CONN_ID, payload, remote)

        assert str(info.value) == _could_not_write(server, remote, room, payload.stat().st_size)
        assert not info.value.retryable
        assert os.listdir(full) == ([] if previous is None else ["patrons.csv"])
        if previous is not None:
            assert (full / "patrons.csv").read_bytes() == previous


def test_write_failure_status_names_the_causes(server, conn, payload):
    """paramiko does raise the server's "Failure" when it reads the status (a large file's upload)."""

    def put(self, localpath, remotepath, callback=None, confirm=True):
        with self.open(remotepath, "wb") as remote:
            remote.write(b"id,name\n")
        raise OSError("Failure")

    folder = server.root / "failstatus"
    folder.mkdir(exist_ok=True)
    with pytest.raises(DeliveryError) as info:
        deliver_file(CONN_ID, payload, "failstatus/patrons.csv", hook_factory=_factory(put=put))
    assert str(info.value) == (
        f"{_where(server)} could not write failstatus/patrons.csv (SFTP status: Failure): likely no space left "
        "or a quota on failstatus, or no write permission there. Nothing was written to failstatus/patrons.csv and "
        "the partial upload was removed; ask the vendor to free space, raise the quota or grant write access, then "
        "deliver again"
    )
    assert os.listdir(folder) == []


@pytest.fixture(scope="module")
def limited_server():
    with SftpServer(max_file_size=64 * 1024) as srv:
        yield srv


@pytest.mark.parametrize("previous", [None, b"previous delivery\n"], ids=["new_file", "replacing"])
def test_file_size_limit_on_the_server_efbig_real(limited_server, monkeypatch, payload, previous):
    """Runs anywhere: sshd under RLIMIT_FSIZE gets EFBIG ("File too large") past 64 kB, which its
    sftp-server reports as "Failure", exactly as it reports ENOSPC; the delivery takes the same path."""
    monkeypatch.setenv(ENV, json.dumps(limited_server.airflow_connection()))
    folder = limited_server.root / f"limited_{previous is not None}"
    folder.mkdir()
    if previous is not None:
        (folder / "patrons.csv").write_bytes(previous)
    remote = f"{folder.name}/patrons.csv"

    with pytest.raises(DeliveryError) as info:
        deliver_file(CONN_ID, payload, remote)

    assert str(info.value) == _could_not_write(limited_server, remote, 64 * 1024, payload.stat().st_size)
    assert not info.value.retryable
    assert os.listdir(folder) == ([] if previous is None else ["patrons.csv"])
    if previous is not None:
        assert (folder / "patrons.csv").read_bytes() == previous
