"""deliver_file against a real OpenSSH sshd (aeries_sandbox.sftp_server), host key checked."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import subprocess
from contextlib import contextmanager

import pytest
from airflow.providers.sftp.hooks.sftp import SFTPHook

from aeries_hub.delivery import sftp as delivery
from aeries_hub.delivery.sftp import DeliveryError, DeliveryReceipt, deliver_file, remote_sha256_matches
from aeries_sandbox.sftp_server import SftpServer

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


@pytest.mark.skipif(
    os.geteuid() == 0,
    reason="running as root: sshd runs the SFTP session as root, which bypasses directory "
    "permissions, so a read-only directory cannot be simulated (covered by the injected-error test)",
)
def test_permission_denied_real(server, conn, payload):
    locked = server.root / "locked"
    locked.mkdir(exist_ok=True)
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
    assert os.listdir(locked) == []


def test_permission_denied_message(server, conn, payload):
    def put(self, localpath, remotepath, callback=None, confirm=True):
        raise PermissionError(errno.EACCES, "Permission denied")

    (server.root / "upload").mkdir(exist_ok=True)
    with pytest.raises(DeliveryError) as info:
        deliver_file(CONN_ID, payload, "upload/patrons.csv", hook_factory=_factory(put=put))
    assert str(info.value) == (
        f"permission denied writing upload/patrons.csv on {_where(server)}: "
        "grant the SFTP user write access to upload"
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
    with pytest.raises(DeliveryError, match=f"sftp connection '{CONN_ID}' turns host key checking off"):
        deliver_file(CONN_ID, payload, "patrons.csv")
    assert not (server.root / "patrons.csv").exists()


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
    with pytest.raises(DeliveryError, match="cannot reach") as info:
        deliver_file(CONN_ID, payload, "failput/patrons.csv", hook_factory=_factory(put=put))
    assert info.value.retryable
    assert os.listdir(folder) == []
    assert _leftovers(server.root) == []
