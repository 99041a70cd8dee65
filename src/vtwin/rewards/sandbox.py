"""Untrusted reward code (an LLM's, a colleague's paste) run safely, in layers.

1. **Static allow-list** (:func:`check_source`, in this process, before anything runs): the
   code must parse and hold only function definitions and constants at its top level;
   inside, plain statements and expressions (no imports, classes, lambdas, generators,
   ``try``/``with``/``raise``, ``global``, f-strings); no name beginning with ``_``; only
   attributes from a fixed list (numpy/math functions and array methods); and only names it
   defines, ``np``, ``math`` and a few builtins (``abs``, ``min``, ``len`` …; never
   ``open``, ``eval``, ``exec``, ``getattr``, ``type``, ``__import__``).
2. **A separate worker process** (``_sandbox_worker.py``, numpy + stdlib only) runs the
   code with those builtins only, and ``np``/``math`` namespaces holding only the allowed
   functions; the trainer never executes candidate code.
3. **Resource limits** in the worker: address space (``memory_mb``), no file writes
   (RLIMIT_FSIZE = 0), no core dumps, few descriptors, no new processes (RLIMIT_NPROC,
   ignored by the kernel for root); a CPU-time alarm per call and a wall-clock timeout
   enforced by this process, which kills the worker on expiry.
4. **seccomp** (``pyseccomp`` over libseccomp, where available): no-new-privileges and
   EPERM for process creation, exec, sockets, file writes and renames, signals to other
   processes, ptrace and limit changes.
5. **Namespaces** (bubblewrap, where the kernel lets it run): a read-only view of only the
   interpreter, its libraries, numpy and the worker (no home, data or project folders), an
   empty ``/tmp`` as working directory, no network (own network namespace), own PID, IPC
   and UTS namespaces, all capabilities dropped, a cleared environment, killed with its
   parent. Without bubblewrap the worker still gets an empty temporary working directory
   and an environment holding no variable of ours.

:func:`sandbox_layers` says which layers are active on this machine. The worker answers
with a small JSON header and raw float64 bytes; nothing it sends is unpickled, and every
reply is checked (shape, finite values, sizes) before anyone uses it.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import weakref
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from vtwin.rewards import _sandbox_worker as _worker
from vtwin.rewards.base import RewardOutput, RewardTerms

__all__ = [
    "ALLOWED_ATTRIBUTES",
    "LIBRARY_ENV",
    "SandboxError",
    "SandboxLimits",
    "SandboxedReward",
    "check_source",
    "resolve_reward_file",
    "reward_library",
    "sandbox_layers",
]

_WORKER = Path(_worker.__file__)
_LEN = struct.Struct("<Q")
_MAX_HEADER = 1 << 16

ARRAY_METHODS = (
    "all", "any", "argmax", "argmin", "astype", "clip", "copy", "cumsum", "get", "items",
    "keys", "max", "mean", "min", "ndim", "prod", "reshape", "round", "shape", "size", "std",
    "sum", "values", "var", "T",
)  # fmt: skip
ALLOWED_ATTRIBUTES = frozenset(_worker.NUMPY_NAMES + _worker.MATH_NAMES + ARRAY_METHODS)
"""Every attribute name candidate code may use (on ``np``, ``math``, arrays and dicts)."""
_GLOBALS = frozenset({"np", "math", *_worker.SAFE_BUILTINS, "True", "False", "None"})
_ALLOWED_NODES = (
    ast.Module, ast.FunctionDef, ast.arguments, ast.arg, ast.Return, ast.Assign,
    ast.AugAssign, ast.AnnAssign, ast.For, ast.While, ast.If, ast.Break, ast.Continue,
    ast.Pass, ast.Expr, ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.Compare, ast.IfExp, ast.Call,
    ast.keyword, ast.Constant, ast.Name, ast.Load, ast.Store, ast.Attribute, ast.Subscript,
    ast.Slice, ast.Tuple, ast.List, ast.Dict, ast.ListComp, ast.DictComp, ast.comprehension,
    ast.operator, ast.boolop, ast.unaryop, ast.cmpop, ast.expr_context,
)  # fmt: skip
_MAX_STRING = 2_000


class SandboxError(ValueError):
    """Candidate code refused or failed; ``kind`` says at which layer: ``static``, ``load``,
    ``runtime``, ``timeout``, ``memory``, ``output``, ``crashed`` or ``protocol``."""

    def __init__(self, kind: str, message: str) -> None:
        """A one-line ``message`` for the layer ``kind``."""
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class SandboxLimits:
    """What one candidate may use. Times in s, memory in MiB (the worker's address space,
    numpy included: ~400 MiB of it is the interpreter and numpy)."""

    cpu_s: float = 5.0
    wall_s: float = 20.0
    memory_mb: int = 1024
    startup_s: float = 30.0
    max_source_chars: int = 20_000
    recursion_limit: int = 300
    namespaces: bool = True
    seccomp: bool = True

    def __post_init__(self) -> None:
        for name in ("cpu_s", "wall_s", "startup_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"SandboxLimits.{name} = {getattr(self, name)}: must be > 0 s")
        if self.memory_mb < 256:
            raise ValueError(f"SandboxLimits.memory_mb = {self.memory_mb}: must be ≥ 256 MiB")


# ----------------------------------------------------------------------------- layer 1
def check_source(code: str, entry: str = "reward", *, max_chars: int = 20_000) -> None:
    """Refuse code outside the allow-list (module docstring, layer 1) with a one-line
    :class:`SandboxError` (kind ``static``) naming the line and the construct; ``entry``
    must be a top-level ``def entry(terms)``."""
    if not isinstance(code, str) or not code.strip():
        raise SandboxError("static", "the code is empty")
    if len(code) > max_chars:
        raise SandboxError("static", f"the code has {len(code)} characters; at most {max_chars}")
    try:
        tree = ast.parse(code, mode="exec")
    except SyntaxError as exc:
        raise SandboxError("static", f"line {exc.lineno}: does not parse: {exc.msg}") from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise SandboxError("static", f"does not parse: {type(exc).__name__}") from None
    for stmt in tree.body:
        is_doc = isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
        if not isinstance(stmt, ast.FunctionDef | ast.Assign | ast.AnnAssign) and not is_doc:
            raise SandboxError(
                "static",
                f"line {stmt.lineno}: only function definitions and constants may stand at "
                f"the top level, not {type(stmt).__name__}",
            )
    defined = set(_GLOBALS)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            defined.add(node.name)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
    for node in ast.walk(tree):
        _check_node(node, defined)
    entries = [s for s in tree.body if isinstance(s, ast.FunctionDef) and s.name == entry]
    if not entries:
        raise SandboxError("static", f"no top-level function '{entry}(terms)'")
    args = entries[-1].args
    n_positional = len(args.posonlyargs) + len(args.args)
    if n_positional - len(args.defaults) != 1 or args.vararg or args.kwonlyargs or args.kwarg:
        raise SandboxError(
            "static", f"'{entry}' must take exactly one argument (terms), as {entry}(terms)"
        )


def _check_node(node: ast.AST, defined: set[str]) -> None:
    line = getattr(node, "lineno", "?")
    if not isinstance(node, _ALLOWED_NODES):
        raise SandboxError("static", f"line {line}: {type(node).__name__} is not allowed")
    if isinstance(node, ast.FunctionDef) and (node.decorator_list or node.returns):
        raise SandboxError("static", f"line {line}: decorators and annotations are not allowed")
    if isinstance(node, ast.arg) and node.annotation is not None:
        raise SandboxError("static", f"line {line}: annotations are not allowed")
    name = (
        node.id
        if isinstance(node, ast.Name)
        else node.name
        if isinstance(node, ast.FunctionDef)
        else node.arg
        if isinstance(node, ast.arg)
        else None
    )
    if name is not None and name.startswith("_"):
        raise SandboxError("static", f"line {line}: names starting with '_' ({name}) are refused")
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and name not in defined:
        raise SandboxError(
            "static",
            f"line {line}: unknown name '{name}' (allowed: np, math, "
            f"{', '.join(_worker.SAFE_BUILTINS)} and names the code defines)",
        )
    if isinstance(node, ast.Attribute) and node.attr not in ALLOWED_ATTRIBUTES:
        raise SandboxError(
            "static", f"line {line}: attribute '.{node.attr}' is not on the allow-list"
        )
    if isinstance(node, ast.Constant):
        if isinstance(node.value, str | bytes) and len(node.value) > _MAX_STRING:
            raise SandboxError("static", f"line {line}: a constant string over {_MAX_STRING}")
        if not isinstance(node.value, int | float | complex | str | bool | type(None)):
            raise SandboxError(
                "static", f"line {line}: constant of type {type(node.value).__name__}"
            )


# ----------------------------------------------------------------------------- layers 4-5
def _visible_paths() -> list[str]:
    """What the worker must see, read-only: the interpreter, its libraries, numpy,
    pyseccomp and the worker file (nothing else of the host: no home, data or project)."""
    import importlib.util

    paths = {"/usr", sys.prefix, sys.base_prefix, sys.exec_prefix, str(_WORKER.parent)}
    paths.add(str(Path(os.path.realpath(sys.executable)).parent.parent))
    for module in ("numpy", "pyseccomp"):
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.origin:
            origin = Path(spec.origin)
            paths.add(str(origin.parent.parent if origin.name == "__init__.py" else origin.parent))
    real = sorted({os.path.realpath(p) for p in paths} | paths)
    kept: list[str] = []
    for path in real:  # drop paths inside one already kept
        if os.path.exists(path) and not any(path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return kept


@lru_cache(maxsize=1)
def _bwrap_prefix() -> tuple[str, ...] | None:
    """bubblewrap's command prefix when it works on this machine, else None."""
    exe = shutil.which("bwrap")
    if exe is None:
        return None
    view: list[str] = []
    for top in ("/bin", "/lib", "/lib64", "/sbin"):
        if os.path.islink(top):
            view += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            view += ["--ro-bind", top, top]
    for path in _visible_paths():
        view += ["--ro-bind", path, path]
    prefix = (
        exe, *view, "--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache",
        "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--chdir", "/tmp",
        "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
        "--clearenv",
    )  # fmt: skip
    try:
        done = subprocess.run(
            [*prefix, sys.executable, "-I", "-c", "import numpy"],
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return prefix if done.returncode == 0 else None


def sandbox_layers(limits: SandboxLimits | None = None) -> dict[str, str]:
    """Which layers are active here (``on`` or ``off (why)``), as reported at start-up."""
    limits = limits or SandboxLimits()
    worker = _SandboxProcess(limits)
    try:
        hello = worker.hello
    finally:
        worker.close()
    return {
        "static allow-list": "on",
        "separate process, restricted builtins": "on",
        "resource limits": "on (" + ", ".join(hello.get("rlimits", [])) + ")",
        "cpu/wall timeouts": f"on ({limits.cpu_s:g} s CPU, {limits.wall_s:g} s wall per call)",
        "seccomp": str(hello.get("seccomp", "off")),
        "namespaces (read-only minimal view, no network)": worker.namespaces,
    }


def _clean_env() -> dict[str, str]:
    """The worker's whole environment: nothing of ours (no keys, no tokens)."""
    return {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


class _SandboxProcess:
    """One worker process and the pipe protocol to it."""

    def __init__(self, limits: SandboxLimits) -> None:
        self.limits = limits
        settings = json.dumps(
            {
                "memory_mb": limits.memory_mb,
                "cpu_s": limits.cpu_s,
                "recursion_limit": limits.recursion_limit,
                "seccomp": limits.seccomp,
            }
        )
        command = [sys.executable, "-I", str(_WORKER), settings]
        prefix = _bwrap_prefix() if limits.namespaces else None
        self.namespaces = "on (bubblewrap)" if prefix else "off (bubblewrap unavailable)"
        if not limits.namespaces:
            self.namespaces = "off (not asked)"
        env = _clean_env()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if prefix:
            sets = [a for k, v in env.items() for a in ("--setenv", k, v)]
            command = [*prefix, *sets, *command]
            cwd = "/"
        else:
            self._tmp = tempfile.TemporaryDirectory(prefix="vtwin-sandbox-")
            cwd = self._tmp.name
        self.proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=cwd,
            env=env,
            close_fds=True,
            start_new_session=True,
        )
        self._finalizer = weakref.finalize(self, _kill, self.proc, self._tmp)
        self.hello = self._reply(limits.startup_s, "starting")[0]

    def alive(self) -> bool:
        return self.proc.poll() is None

    def request(
        self, header: dict[str, Any], body: bytes, timeout_s: float, max_body: int = 0
    ) -> tuple[dict, bytes]:
        """Send one request and wait for its reply of at most ``max_body`` payload bytes
        (the worker dies on any failure)."""
        blob = json.dumps(header).encode() + b"\n" + body
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(_LEN.pack(len(blob)) + blob)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self._fail("crashed", "the sandbox worker is gone")
        return self._reply(timeout_s, header.get("op", "?"), max_body)

    def _reply(self, timeout_s: float, what: str, max_body: int = 0) -> tuple[dict, bytes]:
        deadline = time.monotonic() + timeout_s
        size_bytes = self._read(_LEN.size, deadline, what)
        (size,) = _LEN.unpack(size_bytes)
        limit = _MAX_HEADER + max_body  # nothing bigger is read, let alone kept
        if size > limit:
            self._fail("protocol", f"the sandbox worker sent a {size}-byte reply")
        blob = self._read(size, deadline, what)
        head, sep, body = blob.partition(b"\n")
        if not sep or len(head) > _MAX_HEADER:
            self._fail("protocol", "the sandbox worker sent a malformed reply")
        try:
            header = json.loads(head)
        except ValueError:
            self._fail("protocol", "the sandbox worker sent a malformed reply")
        if not isinstance(header, dict):
            self._fail("protocol", "the sandbox worker sent a malformed reply")
        return header, body

    def _read(self, n: int, deadline: float, what: str) -> bytes:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        chunks: list[bytes] = []
        while n:
            left = deadline - time.monotonic()
            ready = select.select([fd], [], [], max(left, 0.0))[0] if left > 0 else []
            if not ready:
                self._fail("timeout", f"no answer within {self._budget(what)} ({what})")
            chunk = os.read(fd, min(n, 1 << 20))
            if not chunk:
                code = self.proc.wait(timeout=5)
                self._fail("crashed", f"the sandbox worker died ({_exit_reason(code)}) ({what})")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def _budget(self, what: str) -> str:
        seconds = self.limits.startup_s if what == "starting" else self.limits.wall_s
        return f"{seconds:g} s"

    def _fail(self, kind: str, message: str) -> Any:
        self.close()
        raise SandboxError(kind, message)

    def close(self) -> None:
        self._finalizer()


def _kill(proc: subprocess.Popen[bytes], tmp: tempfile.TemporaryDirectory[str] | None) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, 9)
        except (ProcessLookupError, PermissionError):
            proc.kill()
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    if tmp is not None:
        tmp.cleanup()


def _exit_reason(code: int) -> str:
    if code < 0:
        import signal

        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        return f"killed by {name}"
    return f"exit status {code}"


# ----------------------------------------------------------------------------- the reward
class SandboxedReward:
    """A :class:`~vtwin.rewards.Reward` whose function is untrusted code run in a sandbox
    worker (one persistent process per object, started on first use, restarted after a
    failure only by a new object).

    ``code`` defines ``entry(terms) -> (reward, components)``: ``terms`` a dict of the env's
    term arrays ``[B, V]`` (``names``), reward a ``[B, V]`` array, components a dict of
    ``[B, V]`` arrays. Pickles as its code and settings (a copy starts its own worker).
    """

    def __init__(
        self,
        code: str,
        names: tuple[str, ...],
        *,
        entry: str = "reward",
        limits: SandboxLimits | None = None,
        source: str = "candidate",
        static_check: bool = True,
    ) -> None:
        """Check the code statically (unless ``static_check`` is False, which only the
        sandbox's own tests of the deeper layers use) and remember it."""
        self.code = code
        self.names = tuple(names)
        self.entry = entry
        self.limits = limits or SandboxLimits()
        self.source = source
        self.static_check = static_check
        if static_check:
            try:
                check_source(code, entry, max_chars=self.limits.max_source_chars)
            except SandboxError as exc:
                raise SandboxError(exc.kind, f"{source}: {exc}") from None
        self.components: tuple[str, ...] = ()
        self._proc: _SandboxProcess | None = None
        self._load_error: SandboxError | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Code and settings only: a copy starts its own worker."""
        return {k: v for k, v in self.__dict__.items() if k != "_proc"} | {"_proc": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __deepcopy__(self, memo: dict[int, Any]) -> SandboxedReward:
        new = SandboxedReward.__new__(SandboxedReward)
        new.__setstate__(self.__getstate__())
        return new

    @property
    def layers(self) -> dict[str, str]:
        """The active layers of this object's worker (starts it)."""
        proc = self._process()
        return {
            "resource limits": ", ".join(proc.hello.get("rlimits", [])),
            "seccomp": str(proc.hello.get("seccomp", "off")),
            "namespaces": proc.namespaces,
        }

    def _process(self) -> _SandboxProcess:
        if self._load_error is not None:
            raise self._load_error
        if self._proc is None or not self._proc.alive():
            if self._proc is not None:
                raise SandboxError("crashed", f"{self.source}: the sandbox worker died")
            self._proc = _SandboxProcess(self.limits)
            header, _ = self._proc.request(
                {"op": "load", "code": self.code, "entry": self.entry}, b"", self.limits.wall_s
            )
            if not header.get("ok"):
                self.close()
                self._load_error = SandboxError(
                    "load", f"{self.source}: {header.get('error', '?')}"
                )
                raise self._load_error
        return self._proc

    def reset(self, B: int) -> None:
        """Nothing to reset (a candidate is a stateless function of the slot's terms)."""

    def __call__(self, terms: RewardTerms) -> RewardOutput:
        """Run the candidate on one slot's terms; its checked reward and components."""
        arrays = [np.ascontiguousarray(terms[n]) for n in self.names]
        if not arrays:
            raise SandboxError("output", f"{self.source}: no terms to give the reward")
        shape = arrays[0].shape
        if len(shape) != 2 or any(a.shape != shape for a in arrays):
            raise SandboxError("output", f"{self.source}: terms must all be [B, V] arrays")
        arrays = [a.astype("<f8") if a.dtype != np.bool_ else a.astype("|b1") for a in arrays]
        header = {
            "op": "call",
            "B": int(shape[0]),
            "V": int(shape[1]),
            "names": list(self.names),
            "dtypes": [a.dtype.str for a in arrays],
        }
        proc = self._process()
        most = 8 * shape[0] * shape[1] * (1 + _worker.MAX_COMPONENTS)  # reward + components
        body_in = b"".join(a.tobytes() for a in arrays)
        reply, body = proc.request(header, body_in, self.limits.wall_s, most)
        if not reply.get("ok"):
            kind = str(reply.get("kind", "runtime"))
            raise SandboxError(kind, f"{self.source}: {reply.get('error', '?')}")
        names = reply.get("components")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            proc.close()
            raise SandboxError("protocol", f"{self.source}: malformed component names")
        n = shape[0] * shape[1]
        if len(body) != 8 * n * (1 + len(names)):
            proc.close()
            raise SandboxError("protocol", f"{self.source}: reply of the wrong size")
        flat = np.frombuffer(body, dtype="<f8").reshape(1 + len(names), *shape).copy()
        if not np.isfinite(flat).all():  # checked in the worker too; never trust it
            raise SandboxError("output", f"{self.source}: non-finite values")
        self.components = tuple(names)
        return flat[0], {name: flat[i + 1] for i, name in enumerate(names)}

    def close(self) -> None:
        """Stop the worker (also done when the object is collected)."""
        if self._proc is not None:
            self._proc.close()

    def __enter__(self) -> SandboxedReward:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @classmethod
    def from_file(cls, path: str | Path, names: tuple[str, ...], **kwargs: Any) -> SandboxedReward:
        """The candidate in ``path`` (a ``.py`` file, or a reward-design run folder's
        ``best_reward.py``), checked statically; a missing file is a one-line ValueError."""
        p = Path(path)
        if p.is_dir():
            p = p / "best_reward.py"
        try:
            code = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ValueError(f"reward file '{p}' does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"reward file '{p}': cannot read it ({type(exc).__name__})") from None
        return cls(code, names, source=f"reward file '{p}'", **kwargs)


LIBRARY_ENV = "VTWIN_REWARD_LIBRARY"
"""Environment variable: the folder of saved rewards (default ``~/.local/share/vtwin/rewards``)."""


def reward_library() -> Path:
    """The folder where ``vtwin reward-design --save-as NAME`` keeps rewards by name."""
    raw = os.environ.get(LIBRARY_ENV)
    return Path(raw) if raw else Path.home() / ".local" / "share" / "vtwin" / "rewards"


def resolve_reward_file(target: str, where: str) -> Path:
    """The code file of ``sandbox:TARGET``: a ``.py`` file, a reward-design run folder (its
    ``best_reward.py``) or a name in :func:`reward_library`; else a one-line ValueError."""
    path = Path(target).expanduser()
    if path.is_dir():
        path = path / "best_reward.py"
        if not path.is_file():
            raise ValueError(f"{where}: run folder '{path.parent}' has no best_reward.py yet")
        return path
    if path.is_file():
        return path
    library = reward_library()
    named = library / f"{target}.py"
    if "/" not in target and named.is_file():
        return named
    saved = sorted(p.stem for p in library.glob("*.py")) if library.is_dir() else []
    raise ValueError(
        f"{where}: '{target}' is no file, run folder or saved reward name (saved in "
        f"{library}: {', '.join(saved) or 'none'})"
    )


def limits_dict(limits: SandboxLimits) -> dict[str, Any]:
    """The limits as plain data (for run folders)."""
    return asdict(limits)
