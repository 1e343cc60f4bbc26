"""A minimal seccomp-BPF filter: the sandboxed program can no longer create processes or threads,
sockets (socket, socketpair), memfds, System V IPC objects, POSIX message queues and timers,
io_uring instances, BPF maps, perf events or kernel keys.
bubblewrap loads it (`--seccomp FD`) just before it executes the program.

Why seccomp beside the namespaces: RLIMIT_NPROC does not bind root (the kernel exempts it), and a
fork bomb inside a PID namespace still eats the machine; a filter binds every user.
"""

from __future__ import annotations

import platform
import struct

from ...errors import UnsupportedError

# linux/filter.h, linux/seccomp.h, linux/audit.h
_LD_W_ABS, _JEQ_K, _JGE_K, _RET_K = 0x20, 0x15, 0x35, 0x06
_RET_ALLOW, _RET_KILL, _RET_ERRNO = 0x7FFF0000, 0x80000000, 0x00050000
_EPERM = 1
_X32_BIT = 0x40000000
# per architecture: the audit arch tag and the denied system calls
# Memory that no limit counts: a memfd or a System V shared-memory segment is RAM the program can
# fill (16 MiB per memfd, without end across file descriptors; a segment filled, detached and
# replaced) while RLIMIT_AS counts only what is mapped; io_uring performs
# system calls (socket among them) that this filter never sees. HumanEval code needs none of them.
# The kernel's keyrings are not namespaced: the session keyring bubblewrap inherits is the user's
# (Docker's default profile refuses these calls for the same reason).
# More kernel memory outside RLIMIT_AS (probe 5): System V semaphore sets (~2 MiB each, 32,000 of
# them) and message queues, POSIX message queues and timers (one per call, without a limit),
# BPF maps and perf event buffers where the host allows them unprivileged.
_ARCHES = {
    # socket, socketpair, clone, fork, vfork, clone3; shmget, memfd_create, io_uring_setup; add_key,
    # request_key, keyctl; semget, msgget, mq_open, timer_create, bpf, perf_event_open
    "x86_64": (0xC000003E, (41, 53, 56, 57, 58, 435, 29, 319, 425, 248, 249, 250,
                            64, 68, 240, 222, 321, 298)),
    # socket, socketpair, clone, clone3 (arm64 has no fork/vfork); shmget, memfd_create,
    # io_uring_setup; the key calls; semget, msgget, mq_open, timer_create, bpf, perf_event_open
    "aarch64": (0xC00000B7, (198, 199, 220, 435, 194, 279, 425, 217, 218, 219,
                             190, 186, 180, 107, 280, 241)),
}
_ALIASES = {"amd64": "x86_64", "arm64": "aarch64"}


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


def _arch() -> str:
    machine = platform.machine().lower()
    return _ALIASES.get(machine, machine)


def filter_program() -> bytes:
    """The filter as the kernel's `struct sock_filter` array (what `bwrap --seccomp` reads)."""
    arch = _arch()
    if platform.system() != "Linux" or arch not in _ARCHES:
        raise UnsupportedError(
            f"the code sandbox has no system-call filter for {platform.system()} {platform.machine()}",
            "run HumanEval on Linux x86-64 or arm64")
    audit_arch, denied = _ARCHES[arch]
    n = len(denied)
    insns = [
        _insn(_LD_W_ABS, 0, 0, 4),                       # A = seccomp_data.arch
        _insn(_JEQ_K, 1, 0, audit_arch),
        _insn(_RET_K, 0, 0, _RET_KILL),                   # another ABI (i386 on x86-64): refuse
        _insn(_LD_W_ABS, 0, 0, 0),                       # A = seccomp_data.nr
        _insn(_JGE_K, n + 1, 0, _X32_BIT),               # x32 calls -> deny
    ]
    for i, nr in enumerate(denied):                       # denied -> jump to the EPERM return
        insns.append(_insn(_JEQ_K, n - i, 0, nr))
    insns.append(_insn(_RET_K, 0, 0, _RET_ALLOW))
    insns.append(_insn(_RET_K, 0, 0, _RET_ERRNO | _EPERM))
    return b"".join(insns)
