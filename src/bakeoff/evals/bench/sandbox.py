"""Run untrusted generated code in a separate, limited process — never in-process.

Limits, applied in the child between fork and exec:
- time: a wall-clock timeout (the whole process group is killed) and RLIMIT_CPU as a backstop;
- memory: RLIMIT_AS, so a huge allocation fails with MemoryError instead of eating the machine;
- processes and network: a seccomp filter (x86-64 Linux) makes fork/vfork/clone/clone3 and socket
  fail with EPERM, so a fork bomb cannot start and no connection can be opened. RLIMIT_NPROC=1 is
  set too, but root ignores it, hence the filter; a socket module that refuses to create sockets
  and a fresh network namespace (when permitted) back up the filter;
- files: its own temporary working directory; an empty environment; isolated interpreter (-I -S).
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ...errors import UnsupportedError
from .seccomp import deny_fork_and_sockets

CLONE_NEWNET = 0x40000000

# Runs first inside the child: no sockets, then the program as __main__.
_BOOT = """
import socket, sys
def _denied(*a, **k):
    raise OSError("network access is disabled in the sandbox")
socket.socket = _denied
socket.create_connection = _denied
socket.socketpair = _denied
path = sys.argv[1]
sys.argv = sys.argv[1:]
code = compile(open(path, encoding="utf-8").read(), path, "exec")
exec(code, {"__name__": "__main__"})
"""


@dataclass
class Limits:
    timeout_s: float = 10.0
    memory_mb: int = 1024


@dataclass
class Outcome:
    status: str            # passed | failed | timeout
    returncode: int | None
    output: str            # the tail of stdout + stderr

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def _limit_child(limits: Limits) -> None:
    """preexec_fn: runs in the forked child before exec; keep it to system calls."""
    try:  # no network: a new, empty network namespace (needs privileges; else the socket guard)
        ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNET)
    except Exception:  # noqa: BLE001
        pass
    cpu = int(limits.timeout_s) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    mem = limits.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_FSIZE, (16 << 20, 16 << 20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (1, 1))
    deny_fork_and_sockets()


def interpreter() -> str:
    """The base interpreter (not the venv's): the child needs only the standard library."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


def run_program(source: str, limits: Limits | None = None) -> Outcome:
    limits = limits or Limits()
    with tempfile.TemporaryDirectory(prefix="bakeoff-sandbox-") as tmp:
        path = Path(tmp) / "program.py"
        path.write_text(source, encoding="utf-8")
        try:
            proc = subprocess.Popen(
                [interpreter(), "-I", "-S", "-c", _BOOT, str(path)], cwd=tmp,
                env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONIOENCODING": "utf-8"},
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=lambda: _limit_child(limits))
        except subprocess.SubprocessError as exc:  # a limit could not be applied: never run unlimited
            raise UnsupportedError(f"the code sandbox cannot start here: {exc}",
                                   "HumanEval needs Linux with seccomp and resource limits") from None
        try:
            out, _ = proc.communicate(timeout=limits.timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            out, _ = proc.communicate()
            return Outcome("timeout", None, _tail(out))
        if proc.returncode == -signal.SIGXCPU:
            return Outcome("timeout", proc.returncode, _tail(out))
        status = "passed" if proc.returncode == 0 else "failed"
        return Outcome(status, proc.returncode, _tail(out))


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _tail(data: bytes | None, n: int = 2000) -> str:
    return (data or b"")[-n:].decode("utf-8", "replace")
