"""What a new sandbox does as root, before the student's code runs (Landlock comes after).

    own session (no terminal) -> own mounts (tmpfs work folder with /dev/shm in it) -> a chroot
    jail of read-only binds -> unprivileged uid, no capabilities, no_new_privs -> in its cgroup

Each step uses what the kernel offers and reports what it did, so the log can say honestly
what holds. The zygote forks each sandbox as pid 1 of its own PID namespace where it can, and
moves it into its cgroup (forks.py): when pid 1 dies, the kernel kills every process in it.
"""
from __future__ import annotations

import glob
import os
import resource
import stat
import sys

from . import cgroups
from .lifetime import die_with_parent
from .syscalls import (CLONE_NEWNS, MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_PRIVATE, MS_RDONLY, MS_REC,
                       MS_REMOUNT, PR_SET_NO_NEW_PRIVS, drop_capability_bounding_set, mount, prctl, unshare)

SANDBOX_UID = 65534         # nobody: owns nothing, its own work folder aside
PIDS_MAX = 128              # processes and threads of one submission together
MEMORY_SLACK_MB = 256       # the pages of the warm interpreter a sandbox copies as it runs
FILES_FACTOR = 4            # all files together (work folder and /dev/shm): 4 x the one-file cap
DEVICES = ("/dev/null", "/dev/zero", "/dev/urandom")


def nvidia_devices() -> list[str]:
    """CUDA needs its devices (and their ioctls) on NVIDIA machines."""
    return sorted(glob.glob("/dev/nvidia*"))


def readable_by_others(path: str) -> bool:
    """Every folder down to path can be searched, and path read, by any user."""
    path = os.path.realpath(path)
    parts = path.split(os.sep)
    for i in range(1, len(parts) + 1):
        here = os.sep.join(parts[:i]) or os.sep
        try:
            mode = os.stat(here).st_mode
        except OSError:
            return False
        if not mode & stat.S_IXOTH or (here == path and not mode & stat.S_IROTH):
            return False
    return True


def python_folders() -> list[str]:
    return [p for p in {sys.base_prefix, sys.prefix, *[p for p in sys.path if p.endswith("-packages")]}
            if os.path.isdir(p)]


def sandbox_uid() -> tuple[int | None, str]:
    """The uid sandboxes run as (None: the grader's own) and why. In a jail only Python's own
    folders need to be open to others (the jail makes the folders above them)."""
    if os.geteuid() != 0:
        return None, f"the grader's own user (uid {os.geteuid()}, not root: no capabilities)"
    closed = [p for p in python_folders() if not os.stat(p).st_mode & stat.S_IROTH or not os.stat(p).st_mode & stat.S_IXOTH]
    if closed:
        return None, f"ROOT, with capabilities: Python's files ({closed[0]}) are not readable by other users"
    return SANDBOX_UID, f"uid {SANDBOX_UID}, no capabilities, no_new_privs"


def _files_of(folder: str) -> list[tuple[str, bytes | None]]:
    """(relative path, contents or None for a folder) of everything below folder, parents first."""
    out = []
    for here, dirs, files in os.walk(folder):
        rel = os.path.relpath(here, folder)
        if rel != ".":
            out.append((rel, None))
        out += [(os.path.normpath(os.path.join(rel, f)), open(os.path.join(here, f), "rb").read()) for f in files]
    return out


def _own(path: str, uid: int | None) -> None:
    if uid is not None:
        os.chown(path, uid, uid)


def private_mounts(workdir: str, files_mb: int, uid: int | None) -> None:
    """The work folder becomes a size-capped tmpfs (holding its files), /dev/shm a folder of it:
    all the student writes is private to this sandbox and capped together. (/tmp is not
    writable under Landlock, and 1 MiB of the jail's root without it.)"""
    unshare(CLONE_NEWNS)
    mount("none", "/", None, MS_REC | MS_PRIVATE)  # nothing mounted here reaches the grader
    kept = _files_of(workdir)
    owner = f",uid={uid},gid={uid}" if uid is not None else ""
    mount("tmpfs", workdir, "tmpfs", MS_NOSUID | MS_NODEV, f"size={files_mb}m,mode=0700{owner}")
    for rel, data in kept:
        path = os.path.join(workdir, rel)
        if data is None:
            os.mkdir(path)
        else:
            with open(path, "wb") as fh:
                fh.write(data)
        _own(path, uid)
    os.mkdir(os.path.join(workdir, ".shm"))
    os.chmod(os.path.join(workdir, ".shm"), 0o1777)
    mount(os.path.join(workdir, ".shm"), "/dev/shm", None, MS_BIND)


def _bind(source: str, target: str, read_only: bool) -> None:
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    mount(source, target, None, MS_BIND)  # not recursive: submounts (e.g. /sys/fs/cgroup) stay out
    if read_only:
        mount("none", target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID)


def jail(read_only: list[str], workdir: str, devices: list[str]) -> None:
    """chroot into a root that holds only Python, system folders, the devices and the work
    folder: the grader's package, the course and the repo are not in it. Without Landlock the
    only wall on reads; with it a second one. Its folders above Python's are its own (0755), so
    uid 65534 reaches a Python installed under a closed folder (e.g. /root/.pyenv)."""
    root = "/dev/shm"  # a mount point every Linux has; this namespace's own
    mount("tmpfs", root, "tmpfs", MS_NOSUID, "size=1m,mode=0755")
    bound: list[str] = []
    for path in sorted(read_only):
        if path == "/proc" or path.startswith("/proc/") or any(path.startswith(b + os.sep) for b in bound):
            continue
        target = root + path
        if os.path.islink(path):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.symlink(os.readlink(path), target)
            continue
        _bind(path, target, read_only=True)
        bound.append(path)
    for device in devices:
        _bind(device, root + device, read_only=False)
    _bind(os.path.join(workdir, ".shm"), root + "/dev/shm", read_only=False)
    for name, link in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                       ("stderr", "/proc/self/fd/2")):
        os.symlink(link, f"{root}/dev/{name}")
    _bind(workdir, root + workdir, read_only=False)
    os.makedirs(root + "/tmp", exist_ok=True)
    os.chmod(root + "/tmp", 0o1777)
    os.makedirs(root + "/proc", exist_ok=True)
    mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.chroot(root)
    os.chdir("/")


def drop_privileges(uid: int | None, text: str) -> str:
    """Become uid (from root: every capability is gone) with no_new_privs; what holds, in words.
    Fails closed: a sandbox that stays root against the plan does not run the student's code."""
    if uid is not None:
        try:
            drop_capability_bounding_set()
        except OSError:  # e.g. a container without CAP_SETPCAP: no_new_privs still blocks regaining
            text += " (capability bounding set kept)"
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    return text


def group_limits(config: dict) -> tuple[int, int]:
    """(memory bytes, processes) of one sandbox's cgroup: the student's memory, the pages of the
    interpreter it copies, its files in tmpfs (charged to it); threads count as processes."""
    return (config["memory_mb"] + MEMORY_SLACK_MB + FILES_FACTOR * config["file_mb"]) * 2**20, PIDS_MAX


def _signal(spawn: dict, key: str, byte: bytes) -> None:
    """Tell the zygote (once) through the pipe end spawn[key]."""
    if spawn.get(key) is not None:
        if byte:
            os.write(spawn[key], byte)
        os.close(spawn[key])
        spawn[key] = None


def enter(config: dict, use_landlock: bool) -> dict:
    """Confine this freshly forked sandbox (still root); what holds, as {protection: how}."""
    spawn = config.get("spawn", {})
    workdir, uid, uid_text = config["workdir"], spawn.get("uid"), spawn.get("uid_text", "")
    files_mb = FILES_FACTOR * config["file_mb"]
    done = {"terminal": "no controlling terminal (own session)",
            "processes": "own PID namespace" if spawn.get("pidns") else
            f"subreaper in the zygote (no PID namespace: {spawn.get('pidns_error', '?')})"}
    groups = cgroups.Cgroups(**spawn.get("cgroups", {}))
    try:
        if "mounts" in spawn.get("without", ()):
            raise OSError(0, "turned off")
        private_mounts(workdir, files_mb, uid)
        _signal(spawn, "mounted", b"1")  # the zygote holds the namespace: its teardown waits
        done["files"] = f"private tmpfs work folder and /dev/shm: {files_mb} MiB in all"
        mounted = True
    except OSError as exc:
        done["files"] = f"no private mounts ({exc.strerror}): the shared /dev/shm, files not capped in all"
        mounted = False
        if uid is not None:  # the grader made the folder: the sandbox's user must own it
            for here, dirs, files in os.walk(workdir):
                for name in [here, *[os.path.join(here, n) for n in dirs + files]]:
                    _own(name, uid)
    jailed = False
    if mounted:
        try:
            jail(config["read_only"], workdir, [*DEVICES, *nvidia_devices()])
            done["reads"] = "a chroot jail: Python and system folders read-only, nothing of the grader's"
            jailed = True
        except OSError as exc:
            done["reads"] = f"no jail ({exc.strerror})"
    if not jailed and not use_landlock:
        done["reads"] = "NOT confined: the student's code can read what this user can (the grader's files)"
    if not jailed and uid is not None and not all(readable_by_others(p) for p in python_folders()):
        uid, uid_text = None, "ROOT, with capabilities: no jail, and Python is not open to other users"
    _signal(spawn, "mounted", b"")
    package = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != package]
    done["user"] = drop_privileges(uid, uid_text)
    if spawn.get("lifeline") is not None:  # a new uid cleared PR_SET_PDEATHSIG: dies with the zygote again
        die_with_parent(lifeline=spawn["lifeline"])
        os.close(spawn["lifeline"])
    if spawn.get("go") is not None and os.read(spawn["go"], 1) == b"1":  # the zygote moved us
        memory, pids = group_limits(config)
        done["cgroup"] = f"{groups.mode}: memory {memory >> 20} MiB, {pids} processes in all"
    else:
        done["cgroup"] = f"none ({groups.reason or 'it could not be joined'}): per-process limits only"
        groups.mode = "none"
    if spawn.get("go") is not None:
        os.close(spawn["go"])
    if groups.mode == "none":  # per user, not per sandbox, and root ignores it: the weaker fallback
        resource.setrlimit(resource.RLIMIT_NPROC, (PIDS_MAX, PIDS_MAX))
    return done


WEAK = ("none (", "NOT ", "not blocked", "ROOT", "subreaper", "no private mounts", "failed")


def describe(protections: dict, use_landlock: bool) -> tuple[str, bool]:
    """One line for the TA's log: what holds for every sandbox of this run; True when something
    fell back to a weaker protection."""
    shown = dict(protections)
    landlock_on = bool(shown.pop("landlock", False)) and use_landlock
    reads = shown.get("reads", "")
    if not landlock_on:
        jail = reads.split("; Landlock")[0] if "jail" in reads else ""
        shown["reads"] = (jail + "; " if jail else "NOT confined: the student's code can read what its user can; ") + \
            ("Landlock off by configuration" if protections.get("landlock") else "no Landlock on this kernel") + \
            ": TCP connections and signals are not blocked"
    text = "; ".join(f"{k}: {v}" for k, v in shown.items() if v)
    return text, any(w in text for w in WEAK)
