"""Filesystem, network and signal confinement with Linux Landlock (no root, no containers).

After `restrict(read_only, read_write)` the calling process (and every process it forks)
can read only below the given read-only folders, write only below the read-write ones,
open no TCP connections and send no signals to processes outside its sandbox. A student's
code then cannot read the source notebooks, the gradebook or the grader's own modules, nor
kill the grader. Landlock is in Linux >= 5.13; elsewhere `restrict` returns False and the
caller says so in the log.
"""
from __future__ import annotations

import ctypes
import os
import platform
import struct

SYS_CREATE, SYS_ADD_RULE, SYS_RESTRICT = 444, 445, 446  # same numbers on x86_64 and arm64
PR_SET_NO_NEW_PRIVS = 38
RULE_PATH_BENEATH = 1

READ = (1 << 0) | (1 << 2) | (1 << 3)  # execute, read file, read dir
FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
NET_TCP = (1 << 0) | (1 << 1)          # bind, connect (ABI 4)
SCOPE_ALL = (1 << 0) | (1 << 1)        # abstract unix sockets, signals (ABI 6)


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def abi_version() -> int:
    """Landlock ABI of the running kernel, 0 when there is none."""
    if platform.system() != "Linux":
        return 0
    try:
        version = _libc().syscall(SYS_CREATE, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    except (OSError, AttributeError):
        return 0
    return max(int(version), 0)


FILE_READ_WRITE = (1 << 1) | (1 << 2)  # write file, read file: what /dev/null and friends need
IOCTL_DEV = 1 << 15                    # ABI 5: ioctl on device files (TIOCSTI, ...)


def restrict(read_only: list[str], read_write: list[str], devices: list[tuple[str, bool]] = ()) -> bool:
    """Confine this process; True when Landlock is in force.

    devices: (path, ioctl allowed) granted one by one; a folder of devices (/dev) is never
    granted whole, since a rule on a folder grants every device in it, ioctls included.
    """
    abi = abi_version()
    if abi < 1:
        return False
    libc = _libc()
    fs = FS_BY_ABI[max(k for k in FS_BY_ABI if k <= abi)]
    attr = struct.pack("<QQQ", fs, NET_TCP if abi >= 4 else 0, SCOPE_ALL if abi >= 6 else 0)
    size = 8 if abi < 4 else (16 if abi < 6 else 24)
    buf = ctypes.create_string_buffer(attr[:size], size)
    ruleset = libc.syscall(SYS_CREATE, buf, ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        for paths, access in ((read_only, READ), (read_write, fs)):
            for path in paths:
                _allow(libc, ruleset, path, access)
        for path, ioctl in devices:
            _allow(libc, ruleset, path, (FILE_READ_WRITE | (IOCTL_DEV if ioctl else 0)) & fs, device=True)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(NO_NEW_PRIVS) failed")
        if libc.syscall(SYS_RESTRICT, ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(ruleset)
    return True


def _allow(libc, ruleset: int, path: str, access: int, device: bool = False) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # a folder this machine does not have
    try:
        if os.path.isdir(path) and device:  # e.g. /dev/nvidia-caps: its files, not more
            access |= READ
        elif not os.path.isdir(path):
            access &= (1 << 0) | (1 << 1) | (1 << 2) | (1 << 14) | (1 << 15)  # file rights only
        rule = ctypes.create_string_buffer(struct.pack("<Qi", access, fd), 12)
        if libc.syscall(SYS_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(RULE_PATH_BENEATH),
                        rule, ctypes.c_uint32(0)) != 0:
            raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
    finally:
        os.close(fd)
