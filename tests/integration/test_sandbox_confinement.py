"""The HumanEval sandbox contains hostile model-written code: it cannot read the user's files, write
any file, fill the disk or kernel memory with files, read the parent's environment or memory, or signal other
processes; and when bubblewrap cannot confine it, nothing runs."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from bakeoff.errors import UnsupportedError
from bakeoff.evals.bench import confine
from bakeoff.evals.bench.sandbox import Limits, run_program


def test_cannot_read_the_users_files(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-7f3a")
    secret.chmod(0o600)
    code = f"""
import os
for path in [{str(secret)!r}, "/etc/shadow", "/etc/passwd"]:
    try:
        print("READ", path, open(path).read())
    except OSError as exc:
        print("denied", path, exc)
for folder in [{str(tmp_path)!r}, {str(Path.home())!r}, "/etc", "/var", "/run"]:
    try:
        print("LISTED", folder, os.listdir(folder))
    except OSError as exc:
        print("denied", folder, exc)
"""
    out = run_program(code).output
    assert "TOPSECRET" not in out and "READ" not in out
    # the home folder shows at most the folders that lead to the interpreter's own files
    needed = {part for p in confine.interpreter_paths(confine.base_interpreter()) for part in Path(p).parts}
    private = {p.name for p in Path.home().iterdir()} - needed
    assert not [name for name in private if repr(name) in out]
    for folder in (tmp_path, "/etc", "/var", "/run"):
        assert f"denied {folder}" in out


def test_cannot_write_any_file(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    probe = f"bakeoff-probe-{uuid.uuid4().hex}"
    code = f"""
for path in [{str(home / ".bashrc")!r}, "/tmp/{probe}", "/{probe}", "/dev/shm/{probe}", "/usr/{probe}", "{probe}"]:
    try:
        open(path, "w").write("echo pwned")
        print("wrote", path)
    except OSError as exc:
        print("denied", path, exc)
"""
    escapes = [Path(d, probe) for d in ("/tmp", "/", "/dev/shm", "/usr")]
    try:
        out = run_program(code).output
        assert not (home / ".bashrc").exists()
        assert not [p for p in escapes if p.exists()]
    finally:  # a regression must not litter the machine
        for p in escapes:
            p.unlink(missing_ok=True)
    assert "wrote" not in out
    assert out.count("Read-only file system") == 5   # all but the home folder, which is not there


def test_cannot_fill_the_disk_nor_kernel_memory_with_files():
    """A writable tmpfs bounded only bytes: a probe made 1.1 million empty folders in 8 s, 1.3 GB of
    kernel memory that neither the tmpfs size nor the address-space limit counts."""
    code = """
import os
made, error = 0, None
for i in range(2000):
    try:
        os.mkdir(f"/tmp/d{i}")
        made += 1
    except OSError as exc:
        error = exc
try:
    with open("fill", "wb") as f:
        f.write(b"x" * (1 << 20))
    print("WROTE A FILE")
except OSError as exc:
    print("no file:", exc)
print("folders made:", made, error)
"""
    out = run_program(code).output
    assert "folders made: 0 [Errno 30] Read-only file system" in out
    assert "WROTE A FILE" not in out and "no file: [Errno 30]" in out


def test_cannot_read_the_parents_environment_or_memory():
    me = os.getpid()
    code = f"""
import os
for pid in sorted({{os.getppid(), {me}}}):
    try:
        env = open(f"/proc/{{pid}}/environ", "rb").read()
        if env:
            print("LEAK environ", pid, len(env))
    except OSError as exc:
        print("denied environ", pid, exc)
    try:
        first = open(f"/proc/{{pid}}/maps").readline()
        start = int(first.split("-")[0], 16)
        with open(f"/proc/{{pid}}/mem", "rb") as mem:
            mem.seek(start)
            print("LEAK memory", pid, len(mem.read(64)))
    except (OSError, ValueError) as exc:
        print("denied memory", pid, exc)
print("pids visible:", sorted(p for p in os.listdir("/proc") if p.isdigit()))
"""
    out = run_program(code).output
    assert "LEAK" not in out
    assert "pids visible: ['1']" in out          # only itself, as PID 1 of its own namespace


def test_cannot_signal_other_processes_of_the_same_user():
    victim = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        code = f"""
import os, signal
for call in (lambda: os.kill({victim.pid}, signal.SIGKILL), lambda: os.killpg({victim.pid}, signal.SIGKILL)):
    try:
        call()
        print("sent")
    except OSError as exc:
        print("denied", exc)
"""
        out = run_program(code).output
        assert victim.poll() is None, out
        assert "denied" in out
    finally:
        victim.kill()
        victim.wait()


def test_gets_no_environment_from_the_parent(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-leak")
    out = run_program("import os\nprint(dict(os.environ))\n").output
    assert "sk-should-not-leak" not in out
    assert "OPENAI_API_KEY" not in out


def test_does_not_learn_the_host_name():
    """A fresh UTS namespace starts with a copy of the host's name."""
    import socket

    assert run_program("import socket\nprint(socket.gethostname())\n").output.strip() == "sandbox"
    assert socket.gethostname() != "sandbox"


def test_fails_closed_without_bubblewrap(monkeypatch):
    monkeypatch.setattr(confine, "find_bwrap", lambda: None)
    with pytest.raises(UnsupportedError, match="bubblewrap") as err:
        run_program("print('ran unconfined')\n")
    assert "apt-get install bubblewrap" in err.value.hint


def test_fails_closed_when_bubblewrap_cannot_set_up(monkeypatch, tmp_path):
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(confine, "find_bwrap", lambda: str(fake))
    with pytest.raises(UnsupportedError, match="No permissions to create new namespace") as err:
        run_program("print('ran unconfined')\n")
    assert "user namespaces" in err.value.hint


def test_a_program_that_imitates_a_setup_failure_is_an_ordinary_failure():
    outcome = run_program("import sys\nprint('bwrap: No permissions')\nsys.exit(1)\n")
    assert outcome.status == "failed"



def test_a_program_that_prints_without_end_cannot_fill_the_parents_memory(tmp_path):
    """The parent used to collect all output in memory (communicate): 10 s of printing is gigabytes.
    Run in a fresh interpreter so its peak memory measures only this: 400 MB printed, then a
    marker; the outcome keeps the marker and the parent's peak stays far below what was printed."""
    script = tmp_path / "flood.py"
    # VmHWM (this address space's peak), not ru_maxrss, which keeps the forking pytest's size
    script.write_text("""
from bakeoff.evals.bench.sandbox import Limits, run_program
program = 'import sys\\nfor _ in range(400):\\n    sys.stdout.buffer.write(b"x" * (1 << 20))\\nprint("END")'
out = run_program(program, Limits(timeout_s=120))
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(out.status, out.output.endswith("END\\n"), peak_kb >> 10)
""")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    status, marker, peak_mb = done.stdout.split()
    assert (status, marker) == ("passed", "True"), done.stderr[-2000:]
    assert int(peak_mb) < 200


def test_a_program_that_closes_its_output_and_runs_on_is_still_timed_out():
    out = run_program("import os, time\nos.close(1)\nos.close(2)\ntime.sleep(60)", Limits(timeout_s=2))
    assert out.status == "timeout"


def test_memory_outside_the_address_space_limit_is_refused():
    """A memfd or a System V segment is RAM that RLIMIT_AS does not count (a memfd is written, not
    mapped; a segment is filled, detached and replaced): both used to let a program take far more
    than its memory limit. Pipes, the other such memory, are bounded by the descriptor limit."""
    code = """
import ctypes, os, resource
try:
    os.memfd_create("m")
    print("memfd created")
except OSError as exc:
    print("memfd refused", exc.errno)
libc = ctypes.CDLL(None, use_errno=True)
print("shmget", libc.shmget(0, 1 << 20, 0o1600), ctypes.get_errno())
print("nofile", resource.getrlimit(resource.RLIMIT_NOFILE)[1])
"""
    out = run_program(code, Limits(memory_mb=256)).output
    assert "memfd refused 1" in out, out
    assert "shmget -1 1" in out, out
    assert "nofile 256" in out, out


def test_kernel_objects_that_no_limit_counts_are_refused():
    """Probe 5: System V semaphore sets (32,000 semaphores each, ~2 MiB of kernel memory: 300 of
    them took 600 MiB in 3 s) and message queues (32,000 queues of 16 KiB), POSIX message queues,
    POSIX timers (90,000 in 2 s), BPF maps and perf events are kernel memory outside RLIMIT_AS."""
    code = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
tid = ctypes.c_void_p()
print("semget", libc.semget(0, 32000, 0o1600), ctypes.get_errno())
print("msgget", libc.msgget(0, 0o1600), ctypes.get_errno())
print("mq_open", libc.mq_open(b"/q", 0o100 | 2, 0o600, None), ctypes.get_errno())
print("timer_create", libc.timer_create(1, None, ctypes.byref(tid)), ctypes.get_errno())
"""
    out = run_program(code, Limits(memory_mb=256)).output
    for call in ("semget", "msgget", "mq_open", "timer_create"):
        assert f"{call} -1 1" in out, out


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
        except (OSError, IndexError, ValueError):
            pass
    return found


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_a_sandbox_does_not_outlive_a_killed_bakeoff(tmp_path, how):
    """bubblewrap runs in its own session and a sleeping program is not stopped by its CPU limit:
    what ends the sandbox when Bakeoff is killed mid-run is bwrap's --die-with-parent. Nothing of
    the program stays on the host's disk either (a temporary folder holding the model's code was
    left in TMPDIR by every killed run)."""
    import signal
    import time

    parent = subprocess.Popen([sys.executable, "-c", "from bakeoff.evals.bench.sandbox import Limits, run_program\n"
                               "run_program('import time\\ntime.sleep(300)', Limits(timeout_s=290))"],
                              env={**os.environ, "TMPDIR": str(tmp_path)})
    try:
        deadline = time.monotonic() + 60
        while not (sandbox := _children(parent.pid)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sandbox, "the sandbox never started"
    finally:
        parent.send_signal(getattr(signal, how))
        parent.wait()
    deadline = time.monotonic() + 60
    while any(_running(pid) for pid in sandbox) and time.monotonic() < deadline:
        time.sleep(0.2)
    alive = [pid for pid in sandbox if _running(pid)]
    for pid in alive:   # a regression: do not leave it running
        os.kill(pid, 9)
    assert not alive, "the sandbox outlived the Bakeoff that started it"
    assert list(tmp_path.iterdir()) == [], "the program was left on the host's disk"


def _running(pid: int) -> bool:
    """The process exists and is not a zombie waiting to be reaped."""
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_no_project_files_nor_the_users_kernel_keyring():
    """From a virtual environment the venv's lib folder (every installed package, inside the
    project) was mounted; the session keyring, which namespaces do not separate, was readable."""
    import sysconfig

    venv_lib = sysconfig.get_paths()["platstdlib"]
    code = f"""
import ctypes, os
print("venv visible", os.path.exists({venv_lib!r}))
libc = ctypes.CDLL(None, use_errno=True)
print("keyctl", libc.syscall(250 if os.uname().machine == "x86_64" else 219, 0, -3, 0), ctypes.get_errno())
"""
    out = run_program(code).output
    assert "venv visible False" in out, out
    assert "keyctl -1 1" in out, out
