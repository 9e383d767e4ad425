"""The cage's system-call filter: what the worker holding third-party code may not do.

Installed by the worker (:mod:`properties.cage_worker`) before it imports the user's
module, and by the reproduction process of a counterexample, with Linux's seccomp
(``prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER)``, after ``PR_SET_NO_NEW_PRIVS``); it cannot be
lifted by the code it holds. Refused with ``EPERM`` (the code sees ``PermissionError``):

* every change to the file system: opening a file for writing (``O_WRONLY``, ``O_RDWR``,
  ``O_CREAT``, ``O_TRUNC``, ``O_APPEND``; this covers ``/proc/<auditor>/fd/N``, the
  auditor's own stdout), creating, linking, renaming, removing, truncating, changing modes,
  owners, times or attributes, mounting. A module planted beside the auditor's, a rewritten
  report file or a forged line on the auditor's terminal is therefore impossible; the
  worker writes only to the descriptors it was given (its reply socket, its output file);
* starting processes or programs (``fork``, ``vfork``, ``clone`` without ``CLONE_THREAD``,
  ``execve``): nothing outlives the worker, whose kill ends all its code; threads still
  start (``clone3`` answers ``ENOSYS``, and the C library falls back to ``clone``);
* touching other processes: signals other than to itself, ``ptrace``, reading or writing
  another process's memory, taking its descriptors (``pidfd_getfd``), new namespaces;
  resource limits of another process (``prlimit64`` with a pid not its own: a lowered CPU
  limit on the auditor killed it with SIGXCPU, exit 152 and no report), priorities,
  schedulers, CPU affinities and I/O priorities (``setpriority``, ``sched_set*``,
  ``ioprio_set``), moving another process's pages, ``pidfd_open``, ``kcmp``;
  and asking the kernel to signal another process on its behalf: ``fcntl`` with
  ``F_SETOWN``, ``F_SETOWN_EX`` or ``F_SETSIG``, or ``F_SETFL`` setting ``O_ASYNC``, and
  the ``ioctl`` requests ``FIOSETOWN``, ``SIOCSPGRP``, ``FIOASYNC`` and ``TIOCSPGRP``
  (owning its reply socket to the auditor let the worker's I/O send the auditor SIGKILL,
  SIGSTOP or SIGINT); every terminal ``ioctl`` but a few that read (``TCGETS``,
  ``TIOCGWINSZ``...): typing into a terminal (``TIOCSTI``), stopping its output
  (``TCXONC``: a terminal of the auditor's opened read-only through ``/proc`` hung it),
  changing its settings;
* memory that ``RLIMIT_AS`` does not count and state that outlives the worker:
  ``memfd_create``, ``fallocate``, ``ftruncate``, System V and POSIX IPC (shared memory,
  semaphores, message queues); ``bind``, ``listen``, ``connect``, ``accept`` (a socket
  file planted on disk by binding its inherited socket);
* ``io_uring`` (whose operations would not pass through this filter), new sockets,
  ``open_by_handle_at``.

Where the filter cannot be installed (another architecture than x86-64, another system
than Linux, a kernel without seccomp) :func:`confine` returns why, and the cage still holds
with its other walls (a process of its own, a memory limit, a timeout, data-only replies);
``tokenauction check`` and ``audit --mechanism`` then say so in their reports' isolation
line (:func:`properties.cage.isolation`).
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct
import sys

# BPF (linux/filter.h, linux/bpf_common.h)
_LD_W_ABS, _JEQ_K, _JSET_K, _RET_K = 0x20, 0x15, 0x45, 0x06
_ALLOW, _ERRNO, _KILL = 0x7FFF0000, 0x00050000, 0x80000000
_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_BIT = 0x40000000
_PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 38, 22, 2

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_CLONE_THREAD = 0x00010000

#: x86-64 system calls refused outright (arch/x86/entry/syscalls/syscall_64.tbl)
_REFUSED = {
    "creat": 85, "link": 86, "unlink": 87, "symlink": 88, "rename": 82, "mkdir": 83,
    "rmdir": 84, "truncate": 76, "chmod": 90, "fchmod": 91, "chown": 92, "fchown": 93,
    "lchown": 94, "mknod": 133, "utime": 132, "utimes": 235, "futimesat": 261,
    "utimensat": 280, "linkat": 265, "symlinkat": 266, "renameat": 264, "renameat2": 316,
    "unlinkat": 263, "mkdirat": 258, "mknodat": 259, "fchmodat": 268, "fchmodat2": 452,
    "fchownat": 260, "setxattr": 188, "lsetxattr": 189, "fsetxattr": 190,
    "removexattr": 197, "lremovexattr": 198, "fremovexattr": 199, "mount": 165,
    "umount2": 166, "pivot_root": 155, "chroot": 161, "fork": 57, "vfork": 58,
    "execve": 59, "execveat": 322, "ptrace": 101, "process_vm_readv": 310,
    "process_vm_writev": 311, "pidfd_getfd": 438, "pidfd_send_signal": 424,
    "rt_sigqueueinfo": 129, "rt_tgsigqueueinfo": 297, "unshare": 272, "setns": 308,
    "socket": 41, "socketpair": 53, "open_by_handle_at": 304, "io_uring_setup": 425,
    "io_uring_enter": 426, "io_uring_register": 427, "name_to_handle_at": 303,
    "fanotify_init": 300, "inotify_init": 253, "inotify_init1": 294, "mount_setattr": 442,
    "move_mount": 429, "open_tree": 428, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
    "kexec_load": 246, "init_module": 175, "finit_module": 313, "delete_module": 176,
    "swapon": 167, "swapoff": 168, "reboot": 169, "acct": 163, "quotactl": 179,
    "settimeofday": 164, "clock_settime": 227, "adjtimex": 159, "sethostname": 170,
    "setdomainname": 171, "iopl": 172, "ioperm": 173, "bpf": 321, "perf_event_open": 298,
    "userfaultfd": 323, "keyctl": 250, "add_key": 248, "request_key": 249,
    "setpriority": 141, "sched_setparam": 142, "sched_setscheduler": 144,
    "sched_setaffinity": 203, "sched_setattr": 314, "ioprio_set": 251,
    "migrate_pages": 256, "move_pages": 279, "process_madvise": 440,
    "process_mrelease": 448, "kcmp": 312, "pidfd_open": 434,
    # memory outside RLIMIT_AS (a memfd of 6 GiB under a 4 GiB limit) and state that
    # outlives the worker (System V and POSIX IPC objects), a socket file on disk (bind)
    "memfd_create": 319, "fallocate": 285, "ftruncate": 77, "shmget": 29, "shmat": 30,
    "shmctl": 31, "semget": 64, "semop": 65, "semctl": 66, "semtimedop": 220,
    "msgget": 68, "msgsnd": 69, "msgrcv": 70, "msgctl": 71, "mq_open": 240, "mq_unlink": 241,
    "mq_timedsend": 242, "mq_timedreceive": 243, "mq_notify": 244, "mq_getsetattr": 245,
    "bind": 49, "listen": 50, "connect": 42, "accept": 43, "accept4": 288,
}
#: answered ENOSYS: the caller falls back to a call this filter inspects
_NOSYS = {"clone3": 435, "openat2": 437}
_OPEN, _OPENAT, _CLONE = 2, 257, 56
_KILL_SYSCALLS = {"kill": 62, "tkill": 200, "tgkill": 234}   # allowed to this process only
_PRLIMIT64 = 302   # allowed on pid 0 (the caller: setrlimit) and on this process only
#: fcntl commands that name a process to be signalled by the kernel (F_SETOWN, F_SETSIG,
#: F_SETOWN_EX), and F_SETFL, refused where it sets O_ASYNC (fcntl.h)
_FCNTL, _FCNTL_REFUSED, _F_SETFL, _O_ASYNC = 72, (8, 10, 15), 4, 0o20000
#: ioctl requests to the same end (FIOSETOWN, SIOCSPGRP, FIOASYNC); and every terminal
#: request (0x54xx: asm-generic/ioctls.h) but a few that only read or touch the caller's
#: own descriptor: a terminal of the auditor's, opened read-only through /proc, was
#: stopped (TCXONC) and the auditor hung writing to it
_IOCTL, _IOCTL_REFUSED = 16, (0x8901, 0x8902, 0x5452)
_TTY_MASK, _TTY_BASE = 0xFF00, 0x5400
#: TCGETS (isatty), TIOCGPGRP, TIOCOUTQ, TIOCGWINSZ, FIONREAD, FIONBIO, FIONCLEX, FIOCLEX
_TTY_ALLOWED = (0x5401, 0x540F, 0x5411, 0x5413, 0x541B, 0x5421, 0x5450, 0x5451)
_ALU_AND_K = 0x54


def _insn(code, jt, jf, k) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k & 0xFFFFFFFF)


def program(pid: int) -> bytes:
    """The filter as BPF bytecode (``struct sock_filter`` array) for a process ``pid``."""
    nr, arg = 0, (lambda i: 16 + 8 * i)          # struct seccomp_data: nr, arch, ip, args
    eperm, enosys = _ERRNO | errno.EPERM, _ERRNO | errno.ENOSYS
    out = [_insn(_LD_W_ABS, 0, 0, 4),             # arch
           _insn(_JEQ_K, 1, 0, _AUDIT_ARCH_X86_64),
           _insn(_RET_K, 0, 0, _KILL),
           _insn(_LD_W_ABS, 0, 0, nr)]

    def is_(number, ret):                          # if nr == number: return ret
        return [_insn(_JEQ_K, 0, 1, number), _insn(_RET_K, 0, 0, ret)]

    def arg_test(number, i, test, k, on_set, on_clear):
        # if nr == number: load args[i]; return on_set if (args[i] test k) else on_clear
        return [_insn(_JEQ_K, 0, 4, number), _insn(_LD_W_ABS, 0, 0, arg(i)),
                _insn(test, 0, 1, k), _insn(_RET_K, 0, 0, on_set),
                _insn(_RET_K, 0, 0, on_clear)]

    def arg_in(number, i, values, tail):
        # if nr == number: load args[i]; EPERM if it is one of values, else run tail (which
        # returns); the accumulator keeps nr for the blocks after this one otherwise
        body = [_insn(_LD_W_ABS, 0, 0, arg(i))]
        for value in values:
            body += is_(value, eperm)
        body += tail
        return [_insn(_JEQ_K, 0, len(body), number)] + body

    out += [_insn(0x35, 0, 1, _X32_BIT), _insn(_RET_K, 0, 0, eperm)]   # jge: the x32 ABI
    for number in sorted(_REFUSED.values()):
        out += is_(number, eperm)
    for number in sorted(_NOSYS.values()):
        out += is_(number, enosys)
    out += arg_test(_OPEN, 1, _JSET_K, _WRITE_FLAGS, eperm, _ALLOW)
    out += arg_test(_OPENAT, 2, _JSET_K, _WRITE_FLAGS, eperm, _ALLOW)
    out += arg_test(_CLONE, 0, _JSET_K, _CLONE_THREAD, _ALLOW, eperm)
    for number in _KILL_SYSCALLS.values():        # kill(pid), tkill(tid), tgkill(pid, ...)
        out += arg_test(number, 0, _JEQ_K, pid, _ALLOW, eperm)
    # prlimit64(pid, ...): if nr matches, load pid; allow 0 or this pid, else EPERM
    out += [_insn(_JEQ_K, 0, 5, _PRLIMIT64), _insn(_LD_W_ABS, 0, 0, arg(0)),
            _insn(_JEQ_K, 2, 0, 0), _insn(_JEQ_K, 1, 0, pid),
            _insn(_RET_K, 0, 0, eperm), _insn(_RET_K, 0, 0, _ALLOW)]
    # fcntl(fd, cmd, arg): the owner commands refused; F_SETFL(arg) refused with O_ASYNC
    out += arg_in(_FCNTL, 1, _FCNTL_REFUSED,
                  [_insn(_JEQ_K, 0, 3, _F_SETFL), _insn(_LD_W_ABS, 0, 0, arg(2)),
                   _insn(_JSET_K, 0, 1, _O_ASYNC), _insn(_RET_K, 0, 0, eperm),
                   _insn(_RET_K, 0, 0, _ALLOW)])
    tty = []
    for value in _TTY_ALLOWED:
        tty += is_(value, _ALLOW)
    tty += [_insn(_ALU_AND_K, 0, 0, _TTY_MASK), _insn(_JEQ_K, 0, 1, _TTY_BASE),
            _insn(_RET_K, 0, 0, eperm), _insn(_RET_K, 0, 0, _ALLOW)]
    out += arg_in(_IOCTL, 1, _IOCTL_REFUSED, tty)
    out.append(_insn(_RET_K, 0, 0, _ALLOW))
    return b"".join(out)


def unavailable() -> str | None:
    """Why this platform gets no filter (None: Linux on x86-64, where :func:`confine` can
    install it)."""
    if not sys.platform.startswith("linux"):
        return f"no system-call filter on {sys.platform} (Linux only)"
    if platform.machine() not in ("x86_64", "AMD64"):
        return f"no system-call filter on {platform.machine()} (x86-64 only)"
    return None


def confine() -> str | None:
    """Install the filter on this process (and every thread it starts later): None when
    installed, else why not (the caller carries on with the cage's other walls)."""
    if unavailable() is not None:
        return unavailable()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError as exc:
        return f"no system-call filter: the C library cannot be loaded ({exc})"
    code = program(os.getpid())
    buf = ctypes.create_string_buffer(code, len(code))

    class _Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = _Prog(len(code) // 8, ctypes.cast(buf, ctypes.c_void_p))
    prctl = libc.prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong,
                      ctypes.c_ulong]
    if prctl(_PR_SET_NO_NEW_PRIVS, 1, None, 0, 0) != 0:
        return f"no system-call filter: PR_SET_NO_NEW_PRIVS refused ({_errno()})"
    if prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.addressof(prog), 0, 0) != 0:
        return f"no system-call filter: seccomp refused ({_errno()})"
    return None


def _errno() -> str:
    e = ctypes.get_errno()
    return f"{errno.errorcode.get(e, e)}: {os.strerror(e)}"
