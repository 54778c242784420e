"""The sandbox's walls: namespaces, a private filesystem view, cgroups and an unprivileged user.

:func:`enter` runs in a freshly forked sandbox, before any student code, and builds as many walls as
the machine allows; each one that stands is named in the list it returns, which the judge copies into
the results' ``environment.isolation``. Nothing here is fatal: on a machine without namespaces or
cgroups (macOS, a locked-down container) grading still runs with process separation, rlimits (see
:mod:`grader.sandbox.limits`) and the judge's wall-clock kill, and the list says so.

On Linux, when the kernel lets us:

* **pid namespace**: the student's code runs as pid 1 of a new pid namespace, sees no other process,
  cannot signal the judge or its launcher, and everything it starts dies with it (the kernel kills a
  namespace whose pid 1 ends). As root the zygote forks the sandbox straight into a new namespace
  (:func:`pid_namespace_for_next_child`); otherwise the sandbox forks once more into one it made,
  and the outer process only relays how the inner one ended.
* **network namespace**: no interface but a loopback that is down; loopback listeners of the host are
  out of reach.
* **mount namespace and a private root**: a size-capped tmpfs becomes ``/``; into it go read-only
  binds of the system and Python folders only (``/usr``, the Python prefix and site-packages, a few
  files of ``/etc``), a fresh ``/proc``, a few ``/dev`` nodes and a writable ``/tmp`` holding the
  sandbox's working folder. The course (reference solutions, hidden checks), the grader's own source,
  other submissions, the results folder and the home folder are simply not there; any of those that
  lies inside a bound folder is covered by an empty read-only tmpfs.
* **ipc and uts namespaces**.
* **cgroups** (v2, or v1's memory and pids hierarchies): a memory limit over every process of the
  sandbox, and a cap on processes and threads (a fork or thread bomb stops there, even for root, which
  ``RLIMIT_NPROC`` does not stop). The zygote makes them, and reports whether the memory limit killed
  a sandbox (see :class:`SandboxCgroups`).
* **user**: as root, the student's code runs as ``nobody`` (uid 65534) with no capabilities and
  ``no_new_privs``, inside a user namespace of its own; as another user, in a user namespace that maps
  only that user.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import platform
import resource
import signal
import stat
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from grader.sandbox.limits import set_parent_death_signal

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MS_RELATIME = 0x200000
MNT_DETACH = 0x2

_PR_SET_DUMPABLE = 4
_PR_SET_NO_NEW_PRIVS = 38
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "ppc64le": 203, "s390x": 217}

NOBODY = 65534
CGROUP_PREFIX = "grader-sandbox-"

# Read-only binds of the system: what Python, torch and their shared libraries need, nothing personal.
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = (
    "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/passwd", "/etc/group",
    "/etc/nsswitch.conf", "/etc/localtime", "/etc/hosts", "/etc/alternatives", "/etc/os-release",
)
DEV_NODES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
CUDA_DEV_GLOB = ("nvidia*", "dri")


class _Libc:
    """The few libc calls Python's ``os`` module lacks (before 3.12), through ctypes."""

    def __init__(self) -> None:
        self.lib: Any = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)

    def _check(self, result: int, what: str) -> None:
        if result != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"{what}: {os.strerror(err)}")

    def unshare(self, flags: int) -> None:
        self._check(self.lib.unshare(ctypes.c_int(flags)), "unshare")

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
        def enc(s: str | None) -> bytes | None:
            return s.encode() if s is not None else None

        result = self.lib.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data))
        self._check(result, f"mount {target}")

    def umount(self, target: str, flags: int) -> None:
        self._check(self.lib.umount2(target.encode(), ctypes.c_int(flags)), f"umount {target}")

    def pivot_root(self, new_root: str, put_old: str) -> None:
        number = _SYS_PIVOT_ROOT.get(platform.machine())
        if number is None:
            raise OSError(errno.ENOSYS, "pivot_root: unknown system call number on this machine")
        self._check(self.lib.syscall(ctypes.c_long(number), new_root.encode(), put_old.encode()), "pivot_root")

    def prctl(self, option: int, value: int) -> bool:
        return int(self.lib.prctl(option, ctypes.c_ulong(value), 0, 0, 0)) == 0


def enter(config: dict[str, Any]) -> list[str]:
    """Build the walls around this (single-threaded, freshly forked) sandbox; returns the layers in force.

    May fork: with a pid namespace, only the inner process returns; the outer one waits for it and exits
    the same way (see :func:`_relay`). ``config["isolation"] == "none"`` skips every layer here (rlimits
    still apply), which is also what a machine without these facilities gets.
    """
    if config.get("isolation") == "none" or not sys.platform.startswith("linux"):
        return ["namespaces off" if sys.platform.startswith("linux") else f"no namespaces on {sys.platform}"]
    try:
        libc = _Libc()
    except OSError:
        return ["no namespaces (libc not found)"]
    layers: list[str] = []
    root = os.geteuid() == 0
    uid, gid = os.geteuid(), os.getegid()
    offer_to_oom_killer()
    layers += [str(layer) for layer in config.get("cgroups", [])]  # born in them: the zygote is inside
    # The zygote (as root) forks us as pid 1 of a new pid namespace; otherwise we make one and fork into it.
    born_in_pid_namespace = bool(config.get("pid_namespace_ready")) and os.getpid() == 1
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    flags |= (0 if born_in_pid_namespace else CLONE_NEWPID) | (0 if root else CLONE_NEWUSER)
    try:
        libc.unshare(flags)
    except OSError as exc:
        return layers + _network_only(libc, root, uid, gid) + [f"no pid or mount namespace ({exc.strerror})"]
    if not root:
        _map_user(uid, gid)
        layers.append("user namespace")
    layers += ["network namespace (no network)", "ipc and uts namespaces"]
    if not born_in_pid_namespace:
        inner = os.fork()
        if inner != 0:
            _relay(inner)  # never returns
        set_parent_death_signal()
        # A process group of its own inside the namespace: kill(0, ...) (what kill(getppid()) becomes, the
        # parent being outside) must not reach the relay, whose death would take this process with it.
        os.setsid()
    layers.append("pid namespace")
    private = False
    try:
        _private_root(libc, config, uses_cuda=bool(config.get("uses_cuda")), drop_to=NOBODY if root else None)
        layers.append("private filesystem (course, results, submissions and home hidden)")
        private = True
    except OSError as exc:
        layers.append(f"shared filesystem (private root failed: {exc})")
    if root and not private and not _reachable_by_others(python_paths()):
        # Outside the private root, nobody could not even import the rest of the standard library (say,
        # Python under /root, mode 700): it would fail correct code. Stay the invoking user, and say so.
        layers.append("runs as the invoking user (Python is not readable by nobody outside the private root)")
    elif root:
        layers += _drop_root(libc)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1):
        layers.append("no new privileges")
    return layers


def pid_namespace_for_next_child(new: bool = True) -> bool:
    """In the zygote: make the next ``fork`` start pid 1 of a fresh pid namespace (``new``; needs root).

    This saves each sandbox a second fork. ``setns`` to our own namespace first undoes the previous
    call (the kernel allows one pending new namespace at a time); ``new=False`` only does that.
    """
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return False
    try:
        libc = _Libc()
        fd = os.open("/proc/self/ns/pid", os.O_RDONLY)
        try:
            if libc.lib.setns(fd, ctypes.c_int(CLONE_NEWPID)) != 0:
                return False
        finally:
            os.close(fd)
        if new:
            libc.unshare(CLONE_NEWPID)
        return new
    except OSError:
        return False


def _network_only(libc: _Libc, root: bool, uid: int, gid: int) -> list[str]:
    """Where pid/mount namespaces are refused, at least try an empty network namespace."""
    try:
        libc.unshare(CLONE_NEWNET | (0 if root else CLONE_NEWUSER))
    except OSError:
        return []
    if not root:
        _map_user(uid, gid)
    return ["network namespace (no network)"]


def _map_user(uid: int, gid: int) -> None:
    """In a new user namespace, map only the user we were (so files keep their owner)."""
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
    Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")


def _relay(inner: int) -> None:
    """The outer process: hold nothing, wait for the inner one, and end exactly as it ended."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.closerange(3, 65536)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    code = 70
    while True:
        try:
            _, status = os.waitpid(inner, 0)
        except InterruptedError:
            continue
        except ChildProcessError:
            break
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            signal.signal(sig, signal.SIG_DFL)
            os.kill(os.getpid(), sig)
            code = 128 + sig
        else:
            code = os.WEXITSTATUS(status)
        break
    os._exit(code)


def protected_paths(config: dict[str, Any]) -> list[str]:
    """Folders the student may never see: the judge's list plus the home folder."""
    paths = [str(p) for p in config.get("hidden", [])]
    home = os.environ.get("HOME")
    if home:
        paths.append(home)
    return [os.path.realpath(p) for p in paths if p]


def python_paths() -> list[str]:
    """The Python installation (prefixes, standard library, site-packages), without the current folder."""
    import site

    candidates = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    candidates += list(site.getsitepackages()) if hasattr(site, "getsitepackages") else []
    prefixes = [os.path.realpath(p) for p in candidates]
    for entry in sys.path:
        if not entry or not os.path.isabs(entry):
            continue  # '' and relative entries are the current folder: never shown
        real = os.path.realpath(entry)
        if any(_under(real, p) for p in prefixes) or os.path.basename(real) in ("site-packages", "dist-packages"):
            candidates.append(entry)
    return [p for p in dict.fromkeys(candidates) if os.path.exists(p)]


def _reachable_by_others(paths: Iterable[str]) -> bool:
    """Whether a user with no rights of its own can read each of ``paths`` (every folder above it searchable)."""
    for path in paths:
        real = Path(os.path.realpath(path))
        try:
            mode = real.stat().st_mode
            if not mode & stat.S_IROTH or (stat.S_ISDIR(mode) and not mode & stat.S_IXOTH):
                return False
            if any(not folder.stat().st_mode & stat.S_IXOTH for folder in real.parents):
                return False
        except OSError:
            return False
    return True


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _private_root(libc: _Libc, config: dict[str, Any], *, uses_cuda: bool, drop_to: int | None) -> None:
    """Make a tmpfs the root, holding only read-only system and Python folders, /proc, /dev and /tmp."""
    workdir = os.path.realpath(config["workdir"])
    hidden = protected_paths(config)
    libc.mount(None, "/", None, MS_REC | MS_PRIVATE)
    new = workdir  # an empty folder the judge made; the tmpfs covers it in this namespace only
    size = int(config.get("tmpfs_bytes", 256 << 20))
    libc.mount("tmpfs", new, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode=0755")
    # A folder inside a protected one is never shown; a protected folder inside a shown one (this grader
    # installed in site-packages beside torch, a course installed there) is covered below, after the binds.
    binds = [p for p in (*SYSTEM_PATHS, *python_paths(), *ETC_FILES)
             if os.path.lexists(p) and not any(_under(os.path.realpath(p), h) for h in hidden)]
    nodes = [node for node in DEV_NODES if os.path.exists(node)]
    if uses_cuda:  # CUDA also needs the NVIDIA device nodes and a read-only /sys (untested: no GPU here)
        binds.append("/sys")
        nodes += [str(p) for pattern in CUDA_DEV_GLOB for p in Path("/dev").glob(pattern)]
    for path in binds:
        _bind(libc, path, new, read_only=True)
    for node in nodes:
        _bind(libc, node, new, read_only=False)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{new}/dev/{name}")
    os.makedirs(f"{new}/dev/shm")
    libc.mount("tmpfs", f"{new}/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64m,mode=1777")
    os.makedirs(f"{new}/proc")
    libc.mount("proc", f"{new}/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.makedirs(f"{new}/tmp", exist_ok=True)  # already there when Python itself lives under /tmp (a CI venv)
    os.chmod(f"{new}/tmp", 0o1777)
    os.makedirs(new + workdir)
    if drop_to is not None:
        os.chown(new + workdir, drop_to, drop_to)
    for path in hidden:  # a protected folder inside a bound one (say, a course installed in site-packages)
        if os.path.isdir(new + path) and not _under(path, workdir):
            libc.mount("tmpfs", new + path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0")
    os.chdir(new)
    libc.pivot_root(".", ".")
    libc.umount(".", MNT_DETACH)
    os.chdir(workdir)


def _bind(libc: _Libc, path: str, new: str, *, read_only: bool) -> None:
    """Show ``path`` at the same place under ``new``: a symlink stays a symlink, the rest is bind-mounted."""
    target = new + os.path.abspath(path)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if os.path.islink(path):
        if not os.path.lexists(target):
            os.symlink(os.readlink(path), target)
        real = os.path.realpath(path)
        if real != os.path.abspath(path) and os.path.exists(real) and not os.path.lexists(new + real):
            _bind(libc, real, new, read_only=read_only)
        return
    if os.path.lexists(target):
        return  # already shown (a folder bound twice through two names)
    if os.path.isdir(path):
        os.makedirs(target)
    else:
        with open(target, "w"):
            pass
    libc.mount(path, target, None, MS_BIND | MS_REC)
    if read_only:
        locked = _mount_flags(path)
        libc.mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | locked)


def _mount_flags(path: str) -> int:
    """The flags of the mount ``path`` lies on that a remount must keep (a user namespace may not drop them)."""
    flag = os.statvfs(path).f_flag
    pairs = ((os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC), (os.ST_NOATIME, MS_NOATIME),
             (os.ST_NODIRATIME, MS_NODIRATIME), (os.ST_RELATIME, MS_RELATIME))
    return sum(ms for st, ms in pairs if flag & st)


def _drop_root(libc: _Libc) -> list[str]:
    """Become ``nobody``, with no capabilities, in a user namespace of its own."""
    try:
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)
    except OSError as exc:
        return [f"runs as root (could not drop privileges: {exc.strerror})"]
    set_parent_death_signal()  # a change of user clears it
    libc.prctl(_PR_SET_DUMPABLE, 1)  # and this, which /proc/self/uid_map's ownership follows
    layers = ["unprivileged user (nobody)"]
    try:
        libc.unshare(CLONE_NEWUSER)
        _map_user(NOBODY, NOBODY)
        layers.append("user namespace")
    except OSError as exc:
        layers.append(f"no user namespace ({exc.strerror})")
    return layers


# ---- cgroups -------------------------------------------------------------------------------------------
#
# One cgroup per zygote, not per sandbox: a zygote's sandboxes run one at a time, so the limits are still
# per sandbox. Moving a process into a cgroup costs about 20 ms (the kernel waits for an RCU grace
# period), so the zygote moves itself in once and every sandbox is born there; each sandbox offers itself
# to the OOM killer first (oom_score_adj 1000), so the zygote is never its choice. The zygote compares the
# OOM-kill count before and after each sandbox, and moves out and removes the cgroup when it exits.


def _cgroup_dirs(owner: int) -> dict[str, Path]:
    """Where zygote ``owner``'s sandbox cgroups go: under the caller's own cgroup, one per controller.

    cgroup v2 is used when its memory and pids controllers are delegated, otherwise v1's memory and pids
    hierarchies. Call it before moving into them (the judge, which never moves, finds the same folders).
    """
    dirs: dict[str, Path] = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return dirs
    name = f"{CGROUP_PREFIX}{owner}"
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            for mount in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
                base = Path(mount + path)
                try:
                    enabled = (base / "cgroup.subtree_control").read_text().split()
                except OSError:
                    continue
                if "memory" in enabled and "pids" in enabled:
                    return {"v2": base / name}
        for controller in ("memory", "pids"):
            if controller in controllers.split(","):
                dirs[controller] = Path(f"/sys/fs/cgroup/{controller}{path}") / name
    return dirs


class SandboxCgroups:
    """The zygote's side: the cgroups its sandboxes are born in."""

    def __init__(self, owner: int) -> None:
        """Find the folders (nothing is made until the first sandbox asks for limits)."""
        self.dirs = _cgroup_dirs(owner)
        self.joined: dict[str, Path] = {}

    def prepare(self, config: dict[str, Any]) -> list[str]:
        """Make the cgroups (once), write ``config``'s limits, move the zygote in; returns the limits in force."""
        memory = int(config.get("memory_bytes") or 0)
        processes = str(int(config.get("processes", 256)))
        layers: list[str] = []
        for kind, folder in self.dirs.items():
            try:
                folder.mkdir(exist_ok=True)
                if kind in ("v2", "pids"):
                    _write_if_changed(folder / "pids.max", processes)
                if kind == "v2" and memory:
                    _write_if_changed(folder / "memory.max", str(memory))
                    _try_write(folder / "memory.swap.max", "0")
                elif kind == "memory" and memory:
                    _write_if_changed(folder / "memory.limit_in_bytes", str(memory))
                    _try_write(folder / "memory.memsw.limit_in_bytes", str(memory))
                if kind not in self.joined:
                    # Sandboxes offer themselves first (oom_score_adj 1000); shielding the zygote as well
                    # needs CAP_SYS_RESOURCE, which a container's root may lack.
                    _try_write(Path("/proc/self/oom_score_adj"), "-1000")
                    (folder / "cgroup.procs").write_text("0")
                    self.joined[kind] = folder
            except OSError:
                continue
            if kind in ("v2", "memory") and memory:
                layers.append(f"cgroup memory {memory >> 20} MiB")
            if kind in ("v2", "pids"):
                layers.append(f"cgroup pids {processes}")
        return layers

    def oom_kills(self) -> int:
        """How many times the memory limit has killed one of this zygote's sandbox processes so far."""
        for kind, folder in self.joined.items():
            try:
                if kind == "v2":
                    events = dict(line.split() for line in (folder / "memory.events").read_text().splitlines())
                    return int(events.get("oom_kill", 0))
                if kind == "memory":
                    control = dict(line.split() for line in (folder / "memory.oom_control").read_text().splitlines())
                    # Kernels before 4.13 do not count kills: then any time the limit was hit counts.
                    return int(control.get("oom_kill", (folder / "memory.failcnt").read_text()))
            except (OSError, ValueError):
                continue
        return 0

    def leave(self) -> None:
        """Move the zygote back where it was and remove the cgroups (as it exits)."""
        for folder in self.joined.values():
            _try_write(folder.parent / "cgroup.procs", "0")
        remove_cgroups(self.dirs.values())


def _write_if_changed(path: Path, text: str) -> None:
    try:
        if path.read_text().strip() == text:
            return
    except OSError:
        pass
    path.write_text(text)


def _try_write(path: Path, text: str) -> None:
    try:
        path.write_text(text)
    except OSError:
        pass


def offer_to_oom_killer() -> None:
    """In a sandbox: be the OOM killer's first choice (undoing the zygote's shield, which children inherit)."""
    _try_write(Path("/proc/self/oom_score_adj"), "1000")


def zygote_cgroups(owner: int) -> list[Path]:
    """The folders of zygote ``owner``'s sandbox cgroups, as the process that started it sees them."""
    return list(_cgroup_dirs(owner).values())


def remove_cgroups(folders: Iterable[Path]) -> None:
    """Remove sandbox cgroups, giving a just-killed sandbox a moment (up to 3 s in all) to leave."""
    deadline = time.monotonic() + 3
    for folder in folders:
        while True:
            try:
                folder.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                if time.monotonic() > deadline:
                    break  # the next zygote's sweep removes it
                time.sleep(0.01)


def sweep_cgroups() -> None:
    """Remove every empty sandbox cgroup beside ours: what a grader killed with ``kill -9`` left behind.

    A cgroup that still holds a process (a sandbox of another grader, running now) cannot be removed,
    so this never disturbs one.
    """
    for folder in _cgroup_dirs(0).values():
        for stale in folder.parent.glob(CGROUP_PREFIX + "*"):
            try:
                stale.rmdir()
            except OSError:
                pass
