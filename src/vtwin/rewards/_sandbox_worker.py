"""The sandbox worker: a separate process that runs one untrusted reward function.

Started by :mod:`vtwin.rewards.sandbox` as ``python -I <this file> <config json>`` (inside
bubblewrap's namespaces where the machine allows it). It imports only the standard library
and numpy, never vtwin, so it starts fast and carries nothing of the trainer.

Order of events: import numpy; move the protocol off file descriptors 0/1 and point 0, 1
and 2 at /dev/null; drop to resource limits (address space, no file writes, no core dumps,
few descriptors, no new processes where the kernel honours it); set no-new-privileges and a
seccomp filter (no processes, exec, sockets, file writes, signals to others, limit changes)
where available; then serve requests: ``load`` compiles the candidate with restricted
builtins and namespaces holding only the allowed numpy/math functions, ``call`` runs it on
term arrays under a CPU-time alarm and checks its output before sending it back.

Messages both ways: an 8-byte little-endian length, then a JSON header line, then raw
little-endian array bytes. The parent never unpickles anything from here.
"""

from __future__ import annotations

import ctypes
import errno
import json
import math
import os
import resource
import signal
import struct
import sys
import types
from typing import Any

import numpy as np

_LEN = struct.Struct("<Q")
MAX_COMPONENTS = 16
MAX_NAME = 64


class CpuTimeExceeded(BaseException):
    """Raised in the candidate's frame by the CPU-time alarm (not catchable as Exception)."""


class BadOutputError(Exception):
    """The candidate returned something that is not (reward, components) of the right shape."""


def _read_exact(fd: int, n: int) -> bytes:
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _receive(fd: int) -> tuple[dict[str, Any], bytes]:
    (size,) = _LEN.unpack(_read_exact(fd, _LEN.size))
    blob = _read_exact(fd, size)
    head, _, body = blob.partition(b"\n")
    return json.loads(head), body


def _send(fd: int, header: dict[str, Any], body: bytes = b"") -> None:
    blob = json.dumps(header).encode() + b"\n" + body
    data = _LEN.pack(len(blob)) + blob
    while data:
        written = os.write(fd, data)
        data = data[written:]


# ----------------------------------------------------------------------------- isolation
def _private_pipes() -> tuple[int, int]:
    """Keep the protocol on fresh descriptors; 0, 1 and 2 become /dev/null."""
    rfd, wfd = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - lives as long as us
    return rfd, wfd


def _die_with_parent() -> None:
    """PR_SET_PDEATHSIG: the kernel kills us when the parent dies (Linux; else no-op)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _limits(memory_mb: int, max_fd: int) -> list[str]:
    """Resource limits; returns the ones in force."""
    done = []
    for name, value in (
        ("RLIMIT_AS", memory_mb * 2**20),
        ("RLIMIT_FSIZE", 0),
        ("RLIMIT_CORE", 0),
        ("RLIMIT_NOFILE", max_fd),
        ("RLIMIT_NPROC", 0),
    ):
        limit = getattr(resource, name, None)
        if limit is None:
            continue
        try:
            resource.setrlimit(limit, (value, value))
            done.append(name)
        except (ValueError, OSError):
            pass
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past FSIZE fails with EFBIG
    return done


_DENIED_SYSCALLS = (
    "fork", "vfork", "clone", "clone3", "execve", "execveat",
    "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
    "ptrace", "process_vm_readv", "process_vm_writev", "kill", "tkill", "tgkill",
    "rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_open", "pidfd_send_signal",
    "setrlimit", "prlimit64", "unshare", "setns", "mount", "umount2", "pivot_root", "chroot",
    "unlink", "unlinkat", "rename", "renameat", "renameat2", "mkdir", "mkdirat", "rmdir",
    "link", "linkat", "symlink", "symlinkat", "chmod", "fchmod", "fchmodat", "chown",
    "fchown", "lchown", "fchownat", "truncate", "ftruncate", "creat", "mknod", "mknodat",
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "personality", "seccomp",
    "memfd_create", "open_by_handle_at", "name_to_handle_at", "setuid", "setgid",
    "setreuid", "setregid", "setresuid", "setresgid", "setgroups", "setsid", "setpgid",
    "prctl", "ioctl",
)  # fmt: skip
_WRITE_FLAGS = (os.O_WRONLY, os.O_RDWR, os.O_CREAT, os.O_TRUNC, os.O_APPEND)


def _seccomp() -> str:
    """A seccomp filter refusing (EPERM) every syscall the reward never needs; returns
    'on' or why it is off."""
    try:
        import pyseccomp as sc
    except Exception as exc:  # not installed, or libseccomp missing
        return f"off ({type(exc).__name__}: pyseccomp/libseccomp unavailable)"
    try:
        filt = sc.SyscallFilter(sc.ALLOW)
        deny = sc.ERRNO(errno.EPERM)
        for name in _DENIED_SYSCALLS:
            try:
                filt.add_rule(deny, name)
            except Exception:  # a syscall this architecture lacks
                continue
        for name, arg in (("open", 1), ("openat", 2)):
            for flag in _WRITE_FLAGS:
                filt.add_rule(deny, name, sc.Arg(arg, sc.MASKED_EQ, flag, flag))
        filt.load()  # sets no-new-privileges first, as the kernel requires
    except Exception as exc:
        return f"off ({type(exc).__name__}: {exc})"
    return "on"


# ----------------------------------------------------------------------------- candidate
SAFE_BUILTINS = (
    "abs", "all", "any", "bool", "dict", "enumerate", "float", "int", "len", "list", "max",
    "min", "range", "reversed", "round", "sorted", "str", "sum", "tuple", "zip",
)  # fmt: skip
NUMPY_NAMES = (
    "abs", "absolute", "all", "any", "arccos", "arcsin", "arctan", "arctan2", "argmax",
    "argmin", "asarray", "clip", "cos", "cosh", "cumsum", "deg2rad", "divide", "e", "exp",
    "exp2", "expm1", "float64", "full_like", "hypot", "isfinite", "isnan", "log", "log10",
    "log1p", "log2", "max", "maximum", "mean", "median", "min", "minimum", "multiply", "nan",
    "inf", "nan_to_num", "ones_like", "pi", "power", "prod", "rad2deg", "sign", "sin", "sinh",
    "sqrt", "square", "std", "sum", "tan", "tanh", "var", "where", "zeros_like",
)  # fmt: skip
MATH_NAMES = (
    "atan", "atan2", "cos", "e", "exp", "fabs", "hypot", "inf", "isfinite", "log", "log10",
    "log1p", "log2", "pi", "sin", "sqrt", "tan", "tanh",
)  # fmt: skip


def _namespace(module: Any, names: tuple[str, ...]) -> types.SimpleNamespace:
    return types.SimpleNamespace(**{n: getattr(module, n) for n in names if hasattr(module, n)})


def _numpy_only_import(name: str, *args: Any, **kwargs: Any) -> Any:
    """numpy's C code imports its helpers lazily (``ndarray.sum`` → ``numpy._core._methods``)
    through the calling frame's builtins: allow those, already loaded, and nothing else."""
    module = sys.modules.get(name)
    if module is None or not (name == "numpy" or name.startswith("numpy.")):
        raise ImportError(f"import of {name!r} refused")
    return module


def _warm_up() -> None:
    """Run every allowed numpy function and array method once with full builtins, so the
    lazy imports behind them happen before any candidate runs."""
    x = np.linspace(0.1, 1.0, 6).reshape(2, 3)
    for name in NUMPY_NAMES:
        f = getattr(np, name, None)
        if callable(f) and not isinstance(f, type):
            for args in ((x,), (x, x), (x > 0.5, x, x)):
                try:
                    f(*args)
                    break
                except Exception:
                    continue
    for method in ("all", "any", "argmax", "argmin", "cumsum", "max", "mean", "min", "prod",
                   "std", "sum", "var"):  # fmt: skip
        getattr(x, method)()
        getattr(x, method)(axis=0)
    x.copy(), x.clip(0, 1), x.astype(np.float32), x.round(2), x.reshape(-1)


def _load(code: str, entry: str, recursion_limit: int) -> Any:
    import builtins

    safe = {name: getattr(builtins, name) for name in SAFE_BUILTINS}
    safe["__import__"] = _numpy_only_import
    scope: dict[str, Any] = {
        "__builtins__": safe,
        "np": _namespace(np, NUMPY_NAMES),
        "math": _namespace(math, MATH_NAMES),
    }
    compiled = compile(code, "<candidate>", "exec", dont_inherit=True)
    sys.setrecursionlimit(recursion_limit)
    exec(compiled, scope)  # the candidate's top level: only defs and constants (checked)
    fn = scope.get(entry)
    if not callable(fn):
        raise TypeError(f"the code defines no function '{entry}'")
    return fn


def _as_output(out: Any, shape: tuple[int, int]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The candidate's (reward, components) as float64 arrays of ``shape``, else BadOutputError."""
    if not isinstance(out, tuple | list) or len(out) != 2:
        raise BadOutputError(f"returned a {type(out).__name__}, not (reward, components)")
    reward, components = out
    if not isinstance(components, dict):
        raise BadOutputError(f"components are a {type(components).__name__}, not a dict")
    if len(components) > MAX_COMPONENTS:
        raise BadOutputError(f"{len(components)} components; at most {MAX_COMPONENTS}")
    arrays = {"reward": reward}
    for name, value in components.items():
        if not isinstance(name, str) or not name.isidentifier() or len(name) > MAX_NAME:
            raise BadOutputError(
                f"component name {str(name)[:MAX_NAME]!r} is not a short identifier"
            )
        if name == "reward":
            raise BadOutputError("'reward' cannot be a component name")
        arrays[name] = value
    checked = {}
    for name, value in arrays.items():
        if isinstance(value, np.ndarray) and value.dtype == object:
            raise BadOutputError(f"{name} is an object array")
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            raise BadOutputError(f"{name} is not numeric") from None
        if arr.shape != shape:
            raise BadOutputError(f"{name} has shape {arr.shape}, not {shape}")
        if not np.isfinite(arr).all():
            raise BadOutputError(f"{name} has non-finite values (NaN or inf)")
        checked[name] = np.ascontiguousarray(arr, dtype="<f8")
    reward_arr = checked.pop("reward")
    return reward_arr, checked


def _on_cpu_alarm(signum: int, frame: Any) -> None:
    raise CpuTimeExceeded


def _call(fn: Any, header: dict[str, Any], body: bytes, cpu_s: float) -> tuple[dict, bytes]:
    B, V = int(header["B"]), int(header["V"])
    terms: dict[str, np.ndarray] = {}
    offset = 0
    for name, dtype in zip(header["names"], header["dtypes"], strict=True):
        size = B * V * np.dtype(dtype).itemsize
        terms[name] = np.frombuffer(body, dtype=dtype, count=B * V, offset=offset).reshape(B, V)
        terms[name] = terms[name].copy()  # writable, the candidate's own
        offset += size
    signal.setitimer(signal.ITIMER_PROF, cpu_s)
    try:
        out = fn(terms)
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
    reward, components = _as_output(out, (B, V))
    payload = reward.tobytes() + b"".join(a.tobytes() for a in components.values())
    return {"ok": True, "components": list(components)}, payload


def main() -> None:
    """Serve load/call requests until the parent closes the pipe."""
    settings = json.loads(sys.argv[1])
    np.seterr(all="ignore")
    _warm_up()
    rfd, wfd = _private_pipes()
    _die_with_parent()
    limits = _limits(int(settings["memory_mb"]), max(rfd, wfd) + 8)
    sec = _seccomp() if settings.get("seccomp", True) else "off (not asked)"
    signal.signal(signal.SIGPROF, _on_cpu_alarm)
    _send(wfd, {"ok": True, "ready": True, "rlimits": limits, "seccomp": sec})
    fn = None
    while True:
        try:
            header, body = _receive(rfd)
        except EOFError:
            return
        try:
            if header["op"] == "load":
                fn = _load(header["code"], header["entry"], int(settings["recursion_limit"]))
                _send(wfd, {"ok": True})
            elif header["op"] == "call":
                if fn is None:
                    raise RuntimeError("no candidate loaded")
                reply, payload = _call(fn, header, body, float(settings["cpu_s"]))
                _send(wfd, reply, payload)
            else:
                raise RuntimeError(f"unknown op {header['op']!r}")
        except CpuTimeExceeded:
            _send(wfd, {"ok": False, "kind": "timeout", "error": "CPU time limit exceeded"})
        except MemoryError:
            _send(wfd, {"ok": False, "kind": "memory", "error": "memory limit exceeded"})
        except RecursionError:
            _send(wfd, {"ok": False, "kind": "runtime", "error": "recursion too deep"})
        except Exception as exc:  # the candidate's error, reported in one line
            kind = "output" if isinstance(exc, BadOutputError) else "runtime"
            message = " ".join(str(exc).split())[:300]
            _send(wfd, {"ok": False, "kind": kind, "error": f"{type(exc).__name__}: {message}"})


if __name__ == "__main__":
    main()
