"""The Linux parts of running sshd: the capabilities that let root ignore file permissions (dropped so that a
read-only folder is read-only to the SFTP session), and the sshd child's setup between fork and exec."""

from __future__ import annotations

import os
import resource
import signal
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["PERMISSION_OVERRIDES", "can_drop_capabilities", "lacks_capabilities", "child_setup"]

# Linux capability numbers (linux/capability.h) and prctl option (linux/prctl.h).
CAP_DAC_OVERRIDE = 1
CAP_DAC_READ_SEARCH = 2
CAP_SETPCAP = 8
PR_CAPBSET_DROP = 24
#: The capabilities that let root write and read regardless of file permissions.
PERMISSION_OVERRIDES = (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH)


def can_drop_capabilities() -> bool:
    """Root on Linux with CAP_SETPCAP (needed to drop capabilities from the bounding set)."""
    return os.geteuid() == 0 and sys.platform.startswith("linux") and _has_capability("self", CAP_SETPCAP)


def _capabilities(pid: int | str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    except (OSError, ValueError):
        pass
    return None


def _has_capability(pid: int | str, cap: int) -> bool:
    caps = _capabilities(pid)
    return caps is not None and bool(caps & (1 << cap))


def lacks_capabilities(pid: int, caps: tuple[int, ...]) -> bool:
    """True when sshd (``pid``, after its exec) holds none of ``caps``."""
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        # Until the exec, /proc shows the forked Python child, which still has every capability.
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            return False
        if os.path.basename(exe).startswith("sshd"):
            effective = _capabilities(pid)
            return effective is not None and not any(effective & (1 << cap) for cap in caps)
        time.sleep(0.01)
    return False


def child_setup(*, drop_caps: bool, max_file_size: int | None) -> Any:
    """preexec_fn for sshd: runs in the child between fork and exec (Linux parts are best effort)."""
    linux = sys.platform.startswith("linux")
    if not linux and max_file_size is None:
        return None

    def setup() -> None:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if linux:
            _die_with_parent()
        # A session killed by drop_next_session (SIGXFSZ) must not leave a core file anywhere.
        resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
        if max_file_size is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_size, max_file_size))
            # Ignored (inherited through exec): the write fails with EFBIG instead of killing sshd.
            # signal.signal only works in the main thread; libc's works anywhere.
            libc.signal(signal.SIGXFSZ, ctypes.c_void_p(1))  # SIG_IGN
        if drop_caps:
            for cap in PERMISSION_OVERRIDES:
                libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)

    return setup


def _die_with_parent() -> None:
    """In the sshd child before exec (Linux): get SIGTERM if the Python process dies, so a
    killed test run does not leave sshd behind."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort
        pass
