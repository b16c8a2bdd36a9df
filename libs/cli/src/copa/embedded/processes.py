"""Child processes and their log files: stopping politely, reading what they said.

Every server we spawn runs in its own session (``start_new_session=True``) so that a Ctrl-C
typed at ``copa up`` reaches only ``copa`` itself, which then stops the children in a
deliberate order; the flip side is that we must signal each child's whole process group
ourselves, which is what :func:`terminate_group` does.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections import deque
from pathlib import Path


def terminate_group(process: subprocess.Popen[bytes], timeout_s: float = 10.0) -> int | None:
    """SIGTERM the process group of ``process``, SIGKILL it after ``timeout_s``.

    Returns the exit code (None if it could not be reaped). A group, not just the leader,
    because a server may have forked helpers (uvicorn reloaders, relays) that would
    otherwise outlive it and keep its port.
    """
    if process.poll() is not None:
        return process.returncode
    _signal_group(process.pid, signal.SIGTERM)
    try:
        return process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _signal_group(process.pid, signal.SIGKILL)
        try:
            return process.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            return None


def terminate_groups(processes: list[subprocess.Popen[bytes]], timeout_s: float = 10.0) -> None:
    """Like :func:`terminate_group` for several processes at once, sharing one timeout.

    All get SIGTERM first, so that services stopping side by side drain in parallel
    instead of one after the other.
    """
    alive = [process for process in processes if process.poll() is None]
    for process in alive:
        _signal_group(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for process in alive:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5.0)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal the group led by ``pid``; fall back to the pid alone when it has none."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return
    except PermissionError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def process_alive(pid: int) -> bool:
    """Alive and not a zombie.

    A zombie has exited; it only waits for its parent to reap it, and for processes that
    are not our children (an earlier run's, a daemonised postmaster) that parent may be a
    container's init that never does.
    """
    import psutil

    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def wait_gone(pid: int, timeout_s: float) -> bool:
    """Poll until ``pid`` is gone (or a zombie); False if it still runs after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while process_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def log_tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log file, or a note that there is none yet."""
    try:
        with path.open("r", encoding="utf-8", errors="replace") as handle:
            return "".join(deque(handle, maxlen=lines)).rstrip("\n")
    except FileNotFoundError:
        return f"(no log file at {path})"


def rotate_log(path: Path) -> None:
    """Keep the previous run's log as ``<name>.1`` and start a fresh one.

    One generation is enough to read why the last run failed, and the logs stay bounded.
    """
    if path.exists():
        path.replace(path.with_name(path.name + ".1"))
