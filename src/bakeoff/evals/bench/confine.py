"""The bubblewrap command line that confines one sandboxed program.

What the program gets: fresh user (uid/gid 65534), PID, mount, network, IPC, UTS and cgroup
namespaces; it runs as PID 1 of its own PID namespace (no parent, no other process visible or
signalable); a read-only view of /usr, the /lib and /bin links and the interpreter's own files
(binary, shared library, standard library) and nothing else of the host: no /home, /root, /etc,
/var, /run, /tmp, no project files, no BAKEOFF_HOME; a fresh /proc of its own namespace and a
minimal read-only /dev (null, zero, random...); nothing writable: /tmp is an empty read-only folder
(a writable tmpfs bounded only bytes: empty files and folders cost kernel memory that no limit
counts, over a gigabyte in the 10 s a program may run); no capabilities, no new privileges, no
nested user namespaces; a new terminal session (no TIOCSTI into the user's terminal); an empty
environment but for PATH and LANG.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig

SANDBOX_UID = 65534          # "nobody"
PROGRAM = "/sandbox/program.py"   # the program's read-only file inside the sandbox
WORK_DIR = "/tmp"            # the working folder, read-only like the rest
_TOP_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


def find_bwrap() -> str | None:
    return shutil.which("bwrap", path="/usr/bin:/bin:/usr/local/bin")


def _under(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def interpreter_paths(exe: str) -> list[str]:
    """The interpreter's own files when they live outside /usr (pyenv, a custom prefix): the binary,
    libpython and the standard library, never the whole prefix (it may be a home folder)."""
    # The base installation's paths: from a virtual environment, sysconfig's platstdlib is the
    # venv's lib folder (every installed package, inside the project), which the program must not see.
    base = {"base": sys.base_prefix, "platbase": sys.base_exec_prefix,
            "installed_base": sys.base_prefix, "installed_platbase": sys.base_exec_prefix}
    std = sysconfig.get_paths(vars=base)
    paths = [exe, std["stdlib"], std["platstdlib"]]
    libdir, soname = sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("INSTSONAME")
    if sysconfig.get_config_var("Py_ENABLE_SHARED") and libdir and soname:
        paths.append(os.path.join(libdir, soname))
    out: list[str] = []
    for p in paths:
        if os.path.exists(p) and not _under(p, ["/usr", *out]):
            out.append(p)
    return out


def _system_mounts() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for top in _TOP_LINKS:
        if os.path.islink(top):                       # merged /usr: /lib -> usr/lib
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    return args


def bwrap_argv(bwrap: str, exe: str, program_fd: int, seccomp_fd: int) -> list[str]:
    """bwrap's arguments up to (not including) the command it runs. bwrap copies the program from
    `program_fd` into the sandbox's own root: no file of it is ever left on the host's disk (a
    temporary folder outlived a killed or SIGTERMed Bakeoff, model-written code and all)."""
    args = [bwrap, "--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
            "--unshare-pid", "--as-pid-1", "--unshare-net", "--unshare-ipc", "--unshare-uts",
            "--hostname", "sandbox",         # a fresh UTS namespace starts with the host's name
            "--unshare-cgroup-try", "--disable-userns", "--cap-drop", "ALL",
            "--die-with-parent", "--new-session", "--clearenv",
            "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "LANG", "C.UTF-8",
            "--setenv", "PYTHONIOENCODING", "utf-8"]
    args += _system_mounts()
    for p in interpreter_paths(exe):
        args += ["--ro-bind", p, p]
    args += ["--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev",
             "--perms", "0444", "--ro-bind-data", str(program_fd), PROGRAM,
             "--dir", WORK_DIR,
             "--remount-ro", "/", "--chdir", WORK_DIR, "--seccomp", str(seccomp_fd)]
    return args


def base_interpreter() -> str:
    """The base interpreter (not the venv's): the child needs only the standard library."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
