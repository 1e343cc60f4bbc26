"""A minimal seccomp-BPF filter (x86-64 Linux): the calling process and everything it executes can
no longer create processes or threads, nor sockets. Used by the code sandbox between fork and exec.

Why seccomp: RLIMIT_NPROC does not bind root (the kernel exempts it), and these benchmarks often run
as root in containers; a filter binds every user and needs no extra privileges (no_new_privs).
"""

from __future__ import annotations

import ctypes
import platform
import struct

# linux/filter.h, linux/seccomp.h, linux/audit.h
_LD_W_ABS, _JEQ_K, _JGE_K, _RET_K = 0x20, 0x15, 0x35, 0x06
_RET_ALLOW, _RET_KILL, _RET_ERRNO = 0x7FFF0000, 0x80000000, 0x00050000
_EPERM = 1
_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_BIT = 0x40000000
# x86-64 syscall numbers: socket, clone, fork, vfork, clone3
_DENIED = (41, 56, 57, 58, 435)
_PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 38, 22, 2


class _Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


def _program() -> bytes:
    n = len(_DENIED)
    deny = _RET_ERRNO | _EPERM
    insns = [
        _insn(_LD_W_ABS, 0, 0, 4),                       # A = seccomp_data.arch
        _insn(_JEQ_K, 1, 0, _AUDIT_ARCH_X86_64),
        _insn(_RET_K, 0, 0, _RET_KILL),                   # another ABI: refuse to run at all
        _insn(_LD_W_ABS, 0, 0, 0),                       # A = seccomp_data.nr
        _insn(_JGE_K, n + 1, 0, _X32_BIT),               # x32 calls -> deny
    ]
    for i, nr in enumerate(_DENIED):                      # denied -> jump to the EPERM return
        insns.append(_insn(_JEQ_K, n - i, 0, nr))
    insns.append(_insn(_RET_K, 0, 0, _RET_ALLOW))
    insns.append(_insn(_RET_K, 0, 0, deny))
    return b"".join(insns)


def supported() -> bool:
    return platform.system() == "Linux" and platform.machine() in ("x86_64", "AMD64")


def deny_fork_and_sockets() -> None:
    """Install the filter on the calling process; raise OSError if the kernel refuses it."""
    if not supported():
        return
    libc = ctypes.CDLL(None, use_errno=True)
    code = _program()
    buf = ctypes.create_string_buffer(code, len(code))
    prog = _Prog(len(code) // 8, ctypes.cast(buf, ctypes.c_void_p))
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "seccomp filter refused")
