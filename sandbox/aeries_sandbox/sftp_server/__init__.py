"""A real OpenSSH ``sshd`` serving SFTP only, for tests and the local demo stack.

``SftpServer`` starts a throw-away sshd on a free 127.0.0.1 port with its own ed25519 host
key, a generated user key pair and an sshd_config that allows public-key SFTP logins for the
current user only. ``ForceCommand internal-sftp -d <root>`` drops the user into the delivery
root, so *relative* remote paths (``upload/patrons.csv``) land under ``server.root``. There is
no chroot (that needs root-owned directories), so absolute paths are real filesystem paths.

Works as root (creates ``/run/sshd``, sshd's privilege separation directory, when missing)
and as a normal user (sshd then runs unprivileged and can only log in that same user).
As root (Linux), sshd starts without the capabilities that let root ignore file permissions
(CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), so a read-only folder is read-only to the SFTP
session, as it is to a vendor's SFTP account (``permissions_enforced`` says whether that
worked; dropping them needs CAP_SETPCAP, which containers normally keep).
With ``UsePAM no`` sshd refuses accounts it sees as locked (shadow password starting with
``!``; nss-systemd reports ``nobody`` that way): ``read_log()`` then shows
"not allowed because account is locked".

    with SftpServer() as server:
        os.environ["AIRFLOW_CONN_VENDOR_SFTP"] = json.dumps(server.airflow_connection())

Run one in the foreground for the demo stack::

    python -m aeries_sandbox.sftp_server --root .demo/sftp

Faults for tests (Linux), real failures of the real sshd:

- ``SftpServer(max_file_size=N)``: sshd runs with RLIMIT_FSIZE = N and SIGXFSZ ignored, so a
  write past N bytes fails with EFBIG ("File too large"); sftp-server reports it as "Failure",
  the status it also gives for ENOSPC and EDQUOT (no space left, quota exceeded).
- ``server.drop_next_session(after_bytes=N)``: the next session that logs in is killed (the
  connection drops, as when the server crashes) when it writes to a file at or past byte N.

sshd's log goes through a pipe to ``log_path`` (so a file size limit never applies to it).

Modules: ``server`` (:class:`SftpServer`), ``linux`` (capabilities and the sshd child's setup) and ``__main__``.
"""
