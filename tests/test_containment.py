"""Each way out of the sandbox, tried for real (confinement.py, cgroups.py, zygote.py).

A student's cell runs in a Session and reports what it managed as JSON in the message of the
exception it raises; the grader's side then checks the machine (/proc, /dev/shm, the terminal).
Tests run with and without Landlock: without it, the jail and the uid must hold on their own.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import pty
import select
import sys
import textwrap
import time

import pytest

from autograder.cleanroom import cgroups, landlock
from autograder.cleanroom.confinement import PIDS_MAX, SANDBOX_UID, describe
from autograder.cleanroom.session import Limits, Session
from autograder.cleanroom.zygote import Zygote
from autograder.layout import REPO

ROOT = os.geteuid() == 0
BOTH = pytest.mark.parametrize("use_landlock", [True, False], ids=["landlock", "no-landlock"])


@pytest.fixture
def attempt(zygote):
    """attempt(code, use_landlock=True, ...): attempt_in a sandbox of the shared zygote."""
    return lambda *args, **kwargs: attempt_in(zygote(), *args, **kwargs)


def attempt_in(zygote: Zygote, code: str, use_landlock: bool = True, limits: Limits | None = None, after=None,
               prelude: str = "") -> dict:
    """Run code in a sandbox; `report` (a dict it fills) comes back. after(session) runs before
    the session is closed."""
    session = Session(zygote, {"helper.py": b"X = 1\n"}, limits or Limits(cell=20), landlock=use_landlock)
    try:
        reply = session.exec_cell("attack", "import json, os, sys\nreport = {}\n" + prelude + textwrap.dedent(code) +
                                  "\nraise RuntimeError('REPORT' + json.dumps(report))\n")
        if after is not None:
            after(session)
    finally:
        session.close()
    assert reply["error"][0] == "RuntimeError" and reply["error"][1].startswith("REPORT"), reply
    return json.loads(reply["error"][1][len("REPORT"):])


def processes_named(tag: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/comm") as fh:
                if fh.read().strip() == tag:
                    found.append(int(entry))
        except (OSError, ValueError):
            pass
    return found


NAME_ME = """
import ctypes
def name_me(tag):
    ctypes.CDLL(None).prctl(15, tag.encode(), 0, 0, 0)  # PR_SET_NAME: /proc/PID/comm
"""


@BOTH
def test_no_terminal_no_capabilities_unprivileged(use_landlock, attempt):
    report = attempt("""
    try:
        open("/dev/tty", "rb")
        report["tty"] = "opened"
    except OSError as exc:
        report["tty"] = exc.errno
    status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
    report.update({k: status[k].strip() for k in ("CapEff", "CapPrm", "CapBnd", "CapAmb", "NoNewPrivs", "Uid")})
    report["sid"] = os.getsid(0) == os.getpid()
    report["files"] = sorted(os.listdir("."))
    import helper
    report["helper"] = helper.X
    open("mine.txt", "w").write("written")
    report["home"] = os.path.expanduser("~") == os.getcwd()
    """, use_landlock)
    assert report["tty"] != "opened" and report["sid"]
    assert report["NoNewPrivs"] == "1"
    assert report["helper"] == 1 and report["home"] and "helper.py" in report["files"]
    if ROOT:
        assert int(report["CapEff"], 16) == int(report["CapPrm"], 16) == int(report["CapBnd"], 16) == 0
        assert report["Uid"].split()[0] == str(SANDBOX_UID)


@BOTH
def test_only_three_devices_and_no_device_ioctl(use_landlock, attempt):
    report = attempt("""
    import fcntl, termios
    try:
        report["dev"] = sorted(os.listdir("/dev"))
    except OSError as exc:  # Landlock: /dev itself is not granted
        report["dev"] = []
    for name in ("null", "zero", "urandom"):
        with open("/dev/" + name, "rb") as fh:
            report[name] = len(fh.read(4)) if name != "null" else 0
    try:
        fcntl.ioctl(os.open("/dev/null", os.O_RDONLY), termios.TCGETS, b"\\0" * 64)
    except OSError as exc:
        report["ioctl"] = exc.errno
    for name in ("/dev/kmsg", "/dev/mem", "/dev/ptmx", "/dev/console", "/dev/random", "/dev/full"):
        try:
            open(name, "rb").close()
            report[name] = "opened"
        except OSError as exc:
            report[name] = exc.errno
    """, use_landlock)
    assert report["zero"] == report["urandom"] == 4
    assert not any(v == "opened" for k, v in report.items() if k.startswith("/dev/")), report
    if ROOT:
        assert set(report["dev"]) - {"fd", "stdin", "stdout", "stderr", "shm"} <= {"null", "zero", "urandom"} | {
            d for d in report["dev"] if d.startswith("nvidia")}, report["dev"]
    if use_landlock and landlock.abi_version() >= 5:
        assert report["ioctl"] == 13  # EACCES from Landlock (ENOTTY, 25, would mean it reached the device)


TIOCSTI_TA = r"""
import json, os, select, sys, termios, tty
sys.path.insert(0, {repo!r})
from autograder.cleanroom.session import Limits, Session
from autograder.cleanroom.zygote import Zygote
tty.setraw(0)
z = Zygote()
s = Session(z, {{}}, Limits(cell=20), landlock={landlock})
reply = s.exec_cell("a", {attack!r})
s.close()
z.close()
ready, _, _ = select.select([0], [], [], 1.0)
injected = os.read(0, 4096).decode(errors="replace") if ready else ""
termios.tcsetattr(0, termios.TCSANOW, termios.tcgetattr(0))
sys.stderr.write("RESULT" + json.dumps({{"reply": reply, "injected": injected}}) + "\n")
"""

TIOCSTI_ATTACK = """
import fcntl, glob, os, termios
done = []
for path in ["/dev/tty", *glob.glob("/dev/pts/*"), "/proc/1/fd/0", "/proc/self/fd/0"]:
    try:
        fd = os.open(path, os.O_RDWR)
        for ch in b"echo PWNED\\n":
            fcntl.ioctl(fd, termios.TIOCSTI, bytes([ch]))
        done.append(path)
    except OSError as exc:
        pass
raise RuntimeError("pushed into " + repr(done))
"""


@pytest.mark.slow
@BOTH
def test_tiocsti_cannot_type_into_the_tas_terminal(use_landlock):
    """`make grade` typed in a terminal: the student's code pushes a command into it."""
    pid, master = pty.fork()
    if pid == 0:  # the TA's shell: the pty is its controlling terminal
        script = TIOCSTI_TA.format(repo=str(REPO), landlock=use_landlock, attack=TIOCSTI_ATTACK)
        os.execv(sys.executable, [sys.executable, "-c", script])
    out, end = b"", time.monotonic() + 120
    while time.monotonic() < end:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    os.waitpid(pid, 0)
    text = out.decode(errors="replace")
    assert "RESULT" in text, text[-3000:]
    result = json.loads(text.split("RESULT", 1)[1].splitlines()[0])
    assert "pushed into []" in result["reply"]["error"][1], result
    assert "PWNED" not in result["injected"]


def test_the_tiocsti_test_can_fail():
    """The same push, from a process that keeps the terminal, does reach it (legacy TIOCSTI on)."""
    pid, master = pty.fork()
    if pid == 0:
        import fcntl
        import termios
        import tty
        tty.setraw(0)
        try:
            for ch in b"echo PWNED\n":
                fcntl.ioctl(os.open("/dev/tty", os.O_RDWR), termios.TIOCSTI, bytes([ch]))
        except OSError:
            os._exit(2)
        ready, _, _ = select.select([0], [], [], 1.0)
        os._exit(0 if ready and b"PWNED" in os.read(0, 100) else 3)
    _, status = os.waitpid(pid, 0)
    os.close(master)
    if os.waitstatus_to_exitcode(status) == 2:
        pytest.skip("TIOCSTI is off on this kernel (dev.tty.legacy_tiocsti = 0)")
    assert os.waitstatus_to_exitcode(status) == 0


@BOTH
def test_the_graders_dev_shm_is_not_reachable(use_landlock, attempt):
    lock = multiprocessing.Lock()  # a POSIX semaphore in /dev/shm, as the worker pool's queues have
    name = f"flatgrad-test-{os.getpid()}"
    with open(f"/dev/shm/{name}", "w") as fh:
        fh.write("the grader's")
    os.chmod(f"/dev/shm/{name}", 0o666)
    try:
        report = attempt(f"""
        report["listed"] = os.listdir("/dev/shm")
        try:
            report["read"] = open("/dev/shm/{name}").read()
        except OSError as exc:
            report["read"] = exc.errno
        open("/dev/shm/mine", "w").write("x")
        report["own"] = open("/dev/shm/mine").read()
        """, use_landlock)
    finally:
        os.unlink(f"/dev/shm/{name}")
    assert name not in report["listed"] and not any(n.startswith("sem.") for n in report["listed"])
    if ROOT:
        assert report["read"] == 2 and report["own"] == "x"  # ENOENT: a private /dev/shm
    assert not os.path.exists("/dev/shm/mine")
    assert lock.acquire(timeout=1)
    lock.release()


@BOTH
def test_a_double_forked_daemon_dies_with_its_session(use_landlock, attempt):
    tag = f"fgd{os.getpid() % 10**6}{int(use_landlock)}"
    seen = []
    report = attempt(f"""
    import time
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            name_me({tag!r})
            while True:
                time.sleep(1)
        os._exit(0)
    time.sleep(0.5)
    report["started"] = True
    """, use_landlock, after=lambda session: seen.extend(processes_named(tag)), prelude=NAME_ME)
    assert report["started"] and seen, "the daemon never ran: the test proves nothing"
    time.sleep(0.2)
    assert processes_named(tag) == []


@BOTH
def test_a_bounded_fork_bomb_is_capped_and_killed(use_landlock, attempt):
    tag = f"fgb{os.getpid() % 10**6}{int(use_landlock)}"
    seen = []
    groups = cgroups.setup("probe-test")
    cgroups.teardown(groups)
    # each child says it has its name before the cell ends: without that, a child forked last
    # could still be unnamed when the grader looks (it flaked under load)
    report = attempt(f"""
    import select, time
    started, error = 0, None
    named_r, named_w = os.pipe()
    for _ in range(PIDS):  # bounded: never more than this many children, each only sleeps
        try:
            if os.fork() == 0:
                name_me({tag!r})
                os.write(named_w, b"n")
                time.sleep(120)
                os._exit(0)
            started += 1
        except OSError as exc:
            error = exc.errno
            break
    named = 0
    while named < started and select.select([named_r], [], [], 15)[0]:
        named += len(os.read(named_r, started - named))
    report.update(started=started, error=error, named=named)
    """.replace("PIDS", str(PIDS_MAX * 3)), use_landlock, after=lambda session: seen.extend(processes_named(tag)),
        prelude=NAME_ME)
    assert report["named"] == report["started"] > 0, report
    assert len(seen) == report["started"]
    if groups.mode != "none":
        assert report["error"] == 11 and report["started"] < PIDS_MAX  # EAGAIN from pids.max
    time.sleep(0.2)
    assert processes_named(tag) == []


@pytest.mark.slow
@pytest.mark.skipif(cgroups.setup("probe-mem").mode == "none", reason="no writable cgroup memory controller")
def test_three_children_share_one_memory_cap(attempt):
    cgroups.teardown(cgroups.setup("probe-mem"))
    # per process: 300 MiB may be added; together (cgroup): 300 + 256 + 4 x 8 MiB
    report = attempt("""
    import torch, time
    kids = []
    for i in range(3):
        pid = os.fork()
        if pid == 0:
            hog = torch.ones(250 * 2**18)  # 250 MiB, every page touched
            time.sleep(3)
            os._exit(0)
        kids.append(pid)
    report["statuses"] = [os.waitpid(pid, 0)[1] for pid in kids]
    """, limits=Limits(cell=30, memory_mb=300, file_mb=8))
    killed = [s for s in report["statuses"] if os.WIFSIGNALED(s) and os.WTERMSIG(s) == 9]
    assert killed, report  # the out-of-memory killer of the sandbox's cgroup


@BOTH
def test_files_are_capped_in_all_and_private(use_landlock, attempt):
    report = attempt("""
    written, error = 0, None
    chunk = b"x" * 2**20
    try:
        for i in range(200):  # 200 MiB tried in 1 MiB files; the cap is 4 x 4 MiB
            where = "/dev/shm" if i % 2 else "."
            with open(f"{where}/f{i}", "wb") as fh:
                fh.write(chunk)
            written += 1
    except OSError as exc:
        error = exc.errno
    report.update(written=written, error=error)
    """, use_landlock, Limits(cell=20, file_mb=4))
    if ROOT:
        assert report["error"] == 28 and report["written"] <= 16  # ENOSPC


@BOTH
def test_the_graders_package_and_files_are_out_of_reach(use_landlock, attempt):
    report = attempt(f"""
    for name in ("autograder.checks.two_layer_reference", "autograder.checks.linear_classifiers",
                 "autograder.layout"):
        try:
            __import__(name)
            report[name] = "imported"
        except Exception as exc:
            report[name] = type(exc).__name__
    for path in ({str(REPO / "README.md")!r}, {str(REPO / "autograder" / "checks" / "two_layer_reference.py")!r},
                 {str(REPO / "assignments")!r}):
        try:
            report[path] = open(path).read(20) if path.endswith((".md", ".py")) else os.listdir(path)
        except OSError as exc:
            report[path] = type(exc).__name__
    report["in memory"] = sorted(m for m in sys.modules if m.startswith("autograder.checks."))
    """, use_landlock)
    if not ROOT and not use_landlock:
        pytest.skip("neither root (mount namespace, jail) nor Landlock: the grader's files are readable (said in the log)")
    refused = {"ModuleNotFoundError", "FileNotFoundError", "PermissionError"}
    assert all(v in refused for k, v in report.items() if k != "in memory"), report
    assert report["in memory"] == ["autograder.checks.adapters"]  # what the sandbox needs, no reference


def test_the_log_says_what_holds_and_what_fell_back(zygote):
    protections = zygote().protections
    for key in ("terminal", "processes", "cgroup", "files", "user", "reads"):
        assert key in protections, protections
    text, weak = describe(protections, use_landlock=True)
    if ROOT and cgroups.setup("probe-log").mode != "none" and landlock.abi_version() >= 1:
        assert not weak, text
        assert "PID namespace" in text and "uid 65534" in text and "Landlock" in text
    cgroups.teardown(cgroups.setup("probe-log"))
    text, weak = describe(protections, use_landlock=False)
    assert weak and "Landlock off" in text and "TCP" in text
    text, weak = describe({**protections, "cgroup": "none (no cgroup v2...): per-process limits only"}, True)
    assert weak


@pytest.mark.slow
def test_nothing_is_left_when_the_grader_goes_away_mid_session():
    """The grader's worker ends without closing its session: the zygote kills and removes all."""
    z, tag = Zygote(), f"fgz{os.getpid() % 10**6}"
    home, z_pid = z.home, z.proc.pid
    session = Session(z, {}, Limits(cell=10))
    reply = session.exec_cell("a", NAME_ME + textwrap.dedent(f"""
    import os, time
    if os.fork() == 0:
        os.setsid()
        name_me({tag!r})
        time.sleep(60)
    time.sleep(0.3)
    """))
    assert "error" not in reply and processes_named(tag)
    session.sock.close()
    z.close()
    session.close()
    time.sleep(0.2)
    assert processes_named(tag) == [] and not os.path.exists(home)
    for controller in ("memory", "pids"):
        assert not os.path.exists(f"/sys/fs/cgroup/{controller}/flatgrad-{z_pid}")


@pytest.mark.slow
def test_without_namespaces_or_cgroups_the_fallbacks_still_end_every_process():
    """A kernel or container without PID/mount namespaces and cgroups: the zygote is a subreaper
    and kills the orphans; the log says what fell back."""
    z, tag = Zygote(without=("pidns", "mounts", "cgroup")), f"fgf{os.getpid() % 10**6}"
    try:
        text, weak = describe(z.protections, use_landlock=True)
        assert weak and "subreaper" in text and "no private mounts" in text and "none (turned off)" in text
        seen = []
        session = Session(z, {"helper.py": b"X = 1\n"}, Limits(cell=20))
        try:
            session.exec_cell("a", NAME_ME + textwrap.dedent(f"""
            import os, time
            for _ in range(20):  # a daemon and a few children
                if os.fork() == 0:
                    os.setsid()
                    if os.fork() == 0:
                        name_me({tag!r})
                        time.sleep(120)
                    os._exit(0)
            import helper
            time.sleep(0.5)
            """))
            seen = processes_named(tag)
        finally:
            session.close()
        assert len(seen) == 20
        time.sleep(0.2)
        assert processes_named(tag) == []
    finally:
        z.close()


def test_groups_of_a_killed_zygote_are_swept_by_the_next():
    groups = cgroups.setup(str(os.getpid()))
    if groups.mode == "none":
        cgroups.teardown(groups)
        pytest.skip("no writable cgroup on this machine")
    dead = 4_000_000 + os.getpid()  # above any pid_max: no such process
    stale = [os.path.join(os.path.dirname(p), f"flatgrad-{dead}") for p in groups.parents]
    for parent in stale:
        os.makedirs(os.path.join(parent, "s1"))
    cgroups.sweep(groups)
    cgroups.teardown(groups)
    assert not any(os.path.exists(p) for p in stale)


def test_a_daemon_left_in_a_killed_zygotes_group_is_killed_by_the_next():
    """Without a PID namespace (the subreaper fallback), a double-forked, setsid'd child of a
    sandbox outlives a SIGKILLed grader, but not its cgroup: the next zygote's sweep kills it."""
    import subprocess
    groups = cgroups.setup(str(os.getpid()))
    if groups.mode == "none":
        cgroups.teardown(groups)
        pytest.skip("no writable cgroup on this machine")
    dead = 4_100_000 + os.getpid()  # above any pid_max: a zygote that is gone
    stale = [os.path.join(os.path.dirname(p), f"flatgrad-{dead}", "s1") for p in groups.parents]
    daemon = subprocess.Popen(["sleep", "300"], start_new_session=True)  # its own session, as a daemon
    try:
        for folder in stale:
            os.makedirs(folder)
            with open(os.path.join(folder, "cgroup.procs"), "w") as fh:
                fh.write(str(daemon.pid))
        cgroups.sweep(groups)
        assert daemon.wait(timeout=10) == -9
        assert not any(os.path.exists(os.path.dirname(f)) for f in stale)
    finally:
        daemon.kill()
        cgroups.teardown(groups)


KILLED_GRADER = r"""
import os, signal, sys, threading, time
sys.path.insert(0, {repo!r})
from autograder.cleanroom.session import Limits, Session
from autograder.cleanroom.zygote import Zygote
z = Zygote()
s = Session(z, {{}}, Limits(cell=120))
threading.Thread(target=s.exec_cell, args=("a", {cell!r}), daemon=True).start()
while {tag!r} not in [open(f"/proc/{{p}}/comm").read().strip() for p in os.listdir("/proc") if p.isdigit()]:
    time.sleep(0.05)  # (a process may end while listed: then this script fails loudly, as the test)
print(z.proc.pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # as a TA's Ctrl-\ or an OOM kill: no cleanup runs
"""


def gone_within(pids, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not any(os.path.exists(f"/proc/{pid}") and _state(pid) != "Z" for pid in pids):
            return True
        time.sleep(0.1)
    return False


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


@pytest.mark.slow
def test_a_sigkilled_grader_takes_its_zygote_and_a_busy_sandbox_with_it():
    """The sandbox drops root after it set PR_SET_PDEATHSIG, which clears it: the sandbox (and
    its PID namespace) outlived a SIGKILLed grader, busy in a cell, with ppid 1. It sets it again."""
    import subprocess
    tag = f"fgk{os.getpid() % 10**6}"
    cell = NAME_ME + textwrap.dedent(f"""
    import time
    name_me({tag!r})
    time.sleep(100)
    """)
    script = KILLED_GRADER.format(repo=str(REPO), cell=cell, tag=tag)
    proc = subprocess.run([sys.executable, "-c", script],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == -9, proc.stderr[-2000:]
    zygote_pid = int(proc.stdout.split()[0])
    sandboxes = processes_named(tag)
    try:
        assert gone_within([zygote_pid, *sandboxes], 10), f"left running: {processes_named(tag)} (zygote {zygote_pid})"
    finally:
        for pid in processes_named(tag):
            os.kill(pid, 9)


# A grandchild whose parent is gone before it arms PR_SET_PDEATHSIG, under a subreaper (orphans
# come here, not to pid 1). {setup} runs in the parent, {child} in the grandchild, {arm} arms it.
ORPHANED_EARLY = r"""
import ctypes, os, sys, time
sys.path.insert(0, {repo!r})
from autograder.cleanroom.lifetime import die_with_parent
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
middle = os.fork()
if middle == 0:
    {setup}
    if os.fork() == 0:
        {child}
        time.sleep(0.5)  # the parent is gone before the child arms PR_SET_PDEATHSIG
        die_with_parent({arm})
        time.sleep(30)
        os._exit(0)
    os._exit(0)
os.waitpid(middle, 0)
start = time.monotonic()
pid, status = os.wait()  # the grandchild, now this process's child
print(os.waitstatus_to_exitcode(status), round(time.monotonic() - start, 1))
"""


def assert_orphan_exits(setup: str, child: str, arm: str) -> None:
    import subprocess
    script = ORPHANED_EARLY.format(repo=str(REPO), setup=setup, child=child, arm=arm)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    code, seconds = proc.stdout.split()
    assert code == "1" and float(seconds) < 20 and not proc.stderr, proc.stdout + proc.stderr


def test_a_child_whose_parent_died_before_it_armed_the_signal_exits_under_a_subreaper():
    """getppid() == 1 missed it: an orphan goes to the nearest subreaper (a container's init,
    systemd --user, the zygote), so the child compares with the pid its parent passed down."""
    assert_orphan_exits("me = os.getpid()", "pass", "parent=me")


def test_a_sandbox_whose_zygote_died_before_it_armed_the_signal_exits():
    """As pid 1 of its PID namespace a sandbox sees getppid() == 0: the lifeline pipe tells."""
    # as the zygote's lifeline: only the parent holds the write end
    assert_orphan_exits("r, w = os.pipe()", "os.close(w)", "lifeline=r")
