"""The sandbox SFTP server is a real OpenSSH sshd: key auth only, SFTP only, known host key."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import paramiko
import pytest

from aeries_sandbox.sftp_server import server as sftp_server_module
from aeries_sandbox.sftp_server.linux import CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
from aeries_sandbox.sftp_server.server import SftpServer, SftpServerError

pytestmark = pytest.mark.skipif(
    not (os.path.exists("/usr/sbin/sshd") or sftp_server_module.shutil.which("sshd")),
    reason="OpenSSH server not installed (apt-get install openssh-server)",
)


@pytest.fixture(scope="module")
def server():
    with SftpServer() as srv:
        yield srv


def _client(server: SftpServer, key_path=None) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    key_type, key_data = server.host_key.split()
    client.get_host_keys().add(
        f"[{server.host}]:{server.port}", key_type, paramiko.Ed25519Key(data=base64.b64decode(key_data))
    )
    client.connect(
        server.host,
        server.port,
        username=server.username,
        key_filename=str(key_path or server.private_key_path),
        look_for_keys=False,
        allow_agent=False,
        timeout=10,
    )
    return client


def test_server_listens_on_localhost_and_speaks_ssh(server):
    assert server.running
    assert server.host == "127.0.0.1"
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        assert sock.recv(64).startswith(b"SSH-2.0-OpenSSH")
    assert server.log_path.exists()
    assert server.root.is_dir()


def test_host_key_matches_what_a_client_sees(server):
    with paramiko.Transport((server.host, server.port)) as transport:
        transport.start_client(timeout=10)
        seen = transport.get_remote_server_key()
    assert server.host_key == f"{seen.get_name()} {seen.get_base64()}"
    assert server.host_key.startswith("ssh-ed25519 AAAA")


def test_login_with_generated_key_lands_in_delivery_root(server):
    (server.root / "hello.txt").write_text("hi")
    client = _client(server)
    try:
        sftp = client.open_sftp()
        assert sftp.normalize(".") == str(server.root.resolve())
        assert "hello.txt" in sftp.listdir(".")
        with sftp.open("written.txt", "wb") as remote:
            remote.write(b"via sftp")
        assert (server.root / "written.txt").read_bytes() == b"via sftp"
    finally:
        client.close()


def test_wrong_key_is_refused(server, tmp_path):
    other_key = tmp_path / "other_key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other_key)], check=True, capture_output=True
    )
    with pytest.raises(paramiko.AuthenticationException):
        _client(server, key_path=other_key)


def test_password_login_is_refused(server):
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # nosec - auth is what is tested
    with pytest.raises(paramiko.AuthenticationException):
        client.connect(
            server.host, server.port, username=server.username, password="secret",
            look_for_keys=False, allow_agent=False, timeout=10,
        )
    client.close()


def test_only_sftp_is_allowed(server):
    client = _client(server)
    try:
        transport = client.get_transport()
        # A command gets internal-sftp (ForceCommand), not a shell: nothing is echoed.
        channel = transport.open_session(timeout=10)
        channel.settimeout(10)
        channel.exec_command("echo shell-access > pwned.txt; echo shell-access")
        channel.shutdown_write()
        output = b""
        while chunk := channel.recv(4096):
            output += chunk
        channel.close()
        assert b"shell-access" not in output
        assert not (server.root / "pwned.txt").exists()
        # No pseudo terminal.
        channel = transport.open_session(timeout=10)
        with pytest.raises(paramiko.SSHException):
            channel.get_pty()
        channel.close()
        # No TCP forwarding.
        with pytest.raises(paramiko.ChannelException):
            transport.open_channel("direct-tcpip", (server.host, server.port), ("127.0.0.1", 0), timeout=10)
    finally:
        client.close()


def test_airflow_connection_shape(server):
    conn = server.airflow_connection("vendor_sftp")
    assert conn == {
        "conn_type": "sftp",
        "host": "127.0.0.1",
        "port": server.port,
        "login": server.username,
        "extra": {
            "key_file": str(server.private_key_path),
            "host_key": server.host_key,
            "no_host_key_check": False,
            "look_for_keys": False,
        },
    }
    assert json.loads(json.dumps(conn)) == conn
    name, value = server.airflow_connection_uri_env("vendor_sftp")
    assert name == "AIRFLOW_CONN_VENDOR_SFTP" and json.loads(value) == conn


def test_airflow_sftp_hook_connects_with_host_key_checking(server, monkeypatch):
    from airflow.providers.sftp.hooks.sftp import SFTPHook

    monkeypatch.setenv("AIRFLOW_CONN_SANDBOX_SFTP", json.dumps(server.airflow_connection()))
    hook = SFTPHook(ssh_conn_id="sandbox_sftp", conn_retry_attempts=1)
    assert hook.no_host_key_check is False
    with hook.get_managed_conn() as sftp:
        assert sftp.normalize(".") == str(server.root.resolve())


def test_given_root_is_used_and_kept(tmp_path):
    root = tmp_path / "delivery root"  # a space: internal-sftp -d cannot take it directly
    with SftpServer(root=root) as srv:
        client = _client(srv)
        try:
            client.open_sftp().open("f.txt", "wb").close()
        finally:
            client.close()
        workdir = srv.workdir
    assert (root / "f.txt").exists()
    assert not workdir.exists()
    with pytest.raises(OSError):
        socket.create_connection((srv.host, srv.port), timeout=1).close()


def test_missing_sshd_gives_install_hint(monkeypatch):
    monkeypatch.setattr(sftp_server_module.shutil, "which", lambda name: None)
    monkeypatch.setattr(sftp_server_module, "SSHD_CANDIDATES", ("/nonexistent/sshd",))
    with pytest.raises(SftpServerError, match=r"apt-get install openssh-server"):
        SftpServer().start()


def test_log_is_copied_to_log_path(server):
    _client(server).close()
    deadline = time.monotonic() + 5
    while "Accepted publickey for " not in server.read_log() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert f"Accepted publickey for {server.username} from 127.0.0.1" in server.read_log()


def test_file_permissions_bind_the_session_even_as_root(server):
    if not server.permissions_enforced:
        pytest.skip("running as root without CAP_SETPCAP: sshd keeps root's permission override")
    if os.geteuid() == 0:
        status = Path(f"/proc/{server._process.pid}/status").read_text()
        effective = int(status.split("CapEff:")[1].split()[0], 16)
        assert not effective & (1 << CAP_DAC_OVERRIDE)
        assert not effective & (1 << CAP_DAC_READ_SEARCH)
    locked = server.root / "readonly"
    locked.mkdir()
    locked.chmod(0o555)
    client = _client(server)
    try:
        sftp = client.open_sftp()
        with pytest.raises(PermissionError):
            sftp.open("readonly/f.txt", "wb")
        sftp.open("writable.txt", "wb").close()  # the delivery root itself stays writable
    finally:
        client.close()
        locked.chmod(0o755)
    assert os.listdir(locked) == []


def test_max_file_size_fails_writes_past_the_limit():
    with SftpServer(max_file_size=4096) as srv:
        client = _client(srv)
        try:
            sftp = client.open_sftp()
            remote = sftp.open("big.bin", "wb")  # not pipelined: every write waits for its status
            with pytest.raises(OSError, match="^Failure$"):  # sftp-server's status for EFBIG (and ENOSPC)
                remote.write(b"x" * 10_000)
            remote.close()
            assert sftp.stat("big.bin").st_size == 4096
        finally:
            client.close()
        assert srv.running


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="drop_next_session needs Linux (prlimit)")
def test_drop_next_session_kills_only_the_next_session(server):
    server.drop_next_session(after_bytes=1000)
    assert server.drop_pending
    client = _client(server)
    try:
        # Consumed by this login: sshd's own limit is restored once its log says so.
        deadline = time.monotonic() + 5
        while server.drop_pending and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not server.drop_pending
        sftp = client.open_sftp()
        # paramiko: "Socket is closed" (OSError) or "Server connection dropped" (SSHException)
        with pytest.raises((OSError, paramiko.SSHException)):
            with sftp.open("dropped.bin", "wb") as remote:
                remote.write(b"x" * 5000)
    finally:
        client.close()
    assert (server.root / "dropped.bin").stat().st_size == 1000
    assert server.running

    client = _client(server)  # the next session is not affected
    try:
        with client.open_sftp().open("whole.bin", "wb") as remote:
            remote.write(b"x" * 5000)
    finally:
        client.close()
    assert (server.root / "whole.bin").stat().st_size == 5000


def test_clear_faults_cancels_a_pending_drop(server):
    server.drop_next_session(after_bytes=10)
    server.clear_faults()
    assert not server.drop_pending
    client = _client(server)
    try:
        with client.open_sftp().open("kept.bin", "wb") as remote:
            remote.write(b"x" * 100)
    finally:
        client.close()
    assert (server.root / "kept.bin").stat().st_size == 100
