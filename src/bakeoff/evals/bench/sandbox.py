"""Run untrusted generated code in a separate, confined process — never in-process.

Confinement (see confine.py for the exact view): bubblewrap puts the program in fresh user, PID,
mount, network and IPC namespaces with a read-only view of only what Python needs and nothing
writable; it cannot read the user's files, write any file, see or signal other
processes, read the parent's environment or memory, or reach the network.

Limits beside it:
- time: a wall-clock timeout (the sandbox is killed) and RLIMIT_CPU as a backstop;
- memory: RLIMIT_AS, so a huge allocation fails with MemoryError instead of eating the machine;
  memory outside the address space is refused (memfds, System V shared memory: see seccomp.py) or
  bounded (pipes, by RLIMIT_NOFILE); the parent keeps only the last 64 KiB of the output;
- disk: nothing is writable (RLIMIT_FSIZE as a backstop);
- processes and network: a seccomp filter makes fork/vfork/clone/clone3 and socket fail with EPERM,
  so a fork bomb cannot start and no socket can be created.

The sandbox fails closed: when bubblewrap is missing or cannot set up its namespaces, running a
program raises UnsupportedError; nothing ever runs unconfined.
"""

from __future__ import annotations

import os
import resource
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass

from ...errors import UnsupportedError
from . import confine
from .seccomp import filter_program

# Runs first inside the sandbox: tell the parent the sandbox is up, run the program as __main__,
# then tell the parent it ran to its last line. A program that ends early with status 0 (exit(),
# unittest.main() with no TestCase, os._exit) never ran the tests after it: it has not passed.
_BOOT = """
import os, sys
up = int(sys.argv[1])
os.write(up, b"up")
path = sys.argv[2]
sys.argv = sys.argv[2:]
code = compile(open(path, encoding="utf-8").read(), path, "exec")
exec(code, {"__name__": "__main__"})
os.write(up, b"ran")
"""
_INSTALL_HINT = ("install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install "
                 "bubblewrap); HumanEval runs model-written code only inside it")
_NAMESPACE_HINT = ("bubblewrap needs user namespaces: allow them (sysctl kernel.unprivileged_userns_clone=1, "
                   "or kernel.apparmor_restrict_unprivileged_userns=0), or in a container run with "
                   "CAP_SYS_ADMIN or a seccomp profile that permits unshare")


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
    """preexec_fn: runs in the forked child before bubblewrap starts; keep it to system calls."""
    cpu = int(limits.timeout_s) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    mem = limits.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_FSIZE, (16 << 20, 16 << 20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Pipes hold kernel memory no other limit counts: a few hundred descriptors bound it.
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


def _memfd_with(data: bytes) -> int:
    """An anonymous in-memory file holding `data`, read from its start (a program of any size:
    a pipe would block past its 64 KiB buffer before bwrap reads it)."""
    fd = os.memfd_create("bakeoff-program", os.MFD_CLOEXEC)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _pipe_with(data: bytes) -> int:
    """A pipe's read end already holding `data` (bwrap reads the seccomp filter from it)."""
    r, w = os.pipe()
    os.write(w, data)
    os.close(w)
    return r


def run_program(source: str, limits: Limits | None = None) -> Outcome:
    limits = limits or Limits()
    bwrap = confine.find_bwrap()
    if bwrap is None:
        raise UnsupportedError("the code sandbox needs bubblewrap (bwrap), which is not installed",
                               _INSTALL_HINT)
    program_fd = _memfd_with(source.encode("utf-8"))
    seccomp_r = _pipe_with(filter_program())
    up_r, up_w = os.pipe()
    argv = confine.bwrap_argv(bwrap, confine.base_interpreter(), program_fd, seccomp_r)
    argv += ["--", confine.base_interpreter(), "-I", "-S", "-c", _BOOT, str(up_w), confine.PROGRAM]
    try:
        proc = subprocess.Popen(
            argv, env={}, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True, pass_fds=(program_fd, seccomp_r, up_w),
            preexec_fn=lambda: _limit_child(limits))
    except (OSError, subprocess.SubprocessError) as exc:  # never run unlimited
        os.close(up_r)
        raise UnsupportedError(f"the code sandbox cannot start here: {exc}", _INSTALL_HINT) from None
    finally:
        for fd in (program_fd, seccomp_r, up_w):
            os.close(fd)
    with os.fdopen(up_r, "rb") as up:
        return _wait(proc, up, limits)


def _wait(proc: subprocess.Popen, up, limits: Limits) -> Outcome:
    """The program's outcome and the tail of its output. The output is read as it comes and only
    its last _KEEP bytes are held: a program that prints without end cannot fill this memory."""
    deadline = time.monotonic() + limits.timeout_s
    out, timed_out = _read_tail(proc, deadline)
    if not timed_out:  # output closed; the program may still run (it can close its stdout)
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
    if timed_out:
        _kill_group(proc)
        proc.wait()
        out += _read_tail(proc, time.monotonic() + 5)[0]
    proc.stdout.close()  # type: ignore[union-attr]
    said = up.read()
    if not said.startswith(b"up"):
        _refuse(out)
    if timed_out:
        return Outcome("timeout", None, _tail(out))
    code = proc.returncode  # bwrap exits with the program's status, 128 + N for signal N
    if code in (128 + signal.SIGXCPU, 128 + signal.SIGKILL):
        return Outcome("timeout", code, _tail(out))
    if code == 0 and said != b"upran":
        return Outcome("failed", code, _tail(out + _EARLY_EXIT))
    return Outcome("passed" if code == 0 else "failed", code, _tail(out))


_EARLY_EXIT = b"\n[bakeoff] the program exited with status 0 before its last line ran (exit() or os._exit())\n"


_KEEP = 64 << 10   # bytes of output kept (the report shows the last 500)


def _read_tail(proc: subprocess.Popen, deadline: float) -> tuple[bytes, bool]:
    """The program's output until it closes or the deadline passes, keeping only the last _KEEP
    bytes: (tail, whether the deadline passed first)."""
    fd = proc.stdout.fileno()  # type: ignore[union-attr]
    buf = bytearray()
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return bytes(buf[-_KEEP:]), True
            if not sel.select(left):
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return bytes(buf[-_KEEP:]), False
            buf += chunk
            if len(buf) > 2 * _KEEP:
                del buf[:-_KEEP]


def _refuse(out: bytes | None) -> None:
    """The sandbox never came up: report why (bwrap's own message) instead of scoring a failure."""
    raise UnsupportedError(f"the code sandbox could not start: {_tail(out, 400).strip() or 'no message'}",
                           _NAMESPACE_HINT)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _tail(data: bytes | None, n: int = 2000) -> str:
    return (data or b"")[-n:].decode("utf-8", "replace")
