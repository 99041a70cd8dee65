"""The sandbox for untrusted reward code: the attack corpus and the benign path.

Three groups of attacks:

* **static** — refused by the allow-list before any process starts;
* **runtime** — pass the allow-list but are contained while running (loops, memory and
  recursion bombs, bad outputs);
* **escape** — written in full Python with the allow-list switched off
  (``static_check=False``), starting from the classic escape out of restricted builtins
  (``().__class__.__base__.__subclasses__()`` → ``os`` → ``__import__``): they show that the
  process, resource, seccomp and namespace layers hold on their own.

After every attack a canary file and a canary environment variable of this (host) process
are checked untouched.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from vtwin.rewards.sandbox import (
    SandboxedReward,
    SandboxError,
    SandboxLimits,
    _bwrap_prefix,
    check_source,
    sandbox_layers,
)

NAMES = ("entropy_bits", "latency_s")
FAST = SandboxLimits(cpu_s=1.0, wall_s=4.0, memory_mb=768)
CANARY_ENV = "VTWIN_SANDBOX_CANARY_SECRET"
CANARY_TEXT = "canary: the host's own file\n"


def terms(B: int = 4, V: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    return {"entropy_bits": rng.random((B, V)) * 3, "latency_s": rng.random((B, V)) * 20}


@pytest.fixture
def canary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A host file and env var no attack may touch (checked after the test)."""
    path = tmp_path / "canary.txt"
    path.write_text(CANARY_TEXT)
    monkeypatch.setenv(CANARY_ENV, "s3cr3t-token")
    yield path
    assert path.read_text() == CANARY_TEXT
    assert sorted(p.name for p in tmp_path.iterdir()) == ["canary.txt"]
    assert os.environ[CANARY_ENV] == "s3cr3t-token"


# ----------------------------------------------------------------------------- static
def fn(body: str) -> str:
    """A reward function whose body is ``body`` (indented)."""
    lines = "\n".join("    " + line for line in body.strip().splitlines())
    return f"def reward(terms):\n{lines}\n"


STATIC_ATTACKS = {
    "import": ("import os\n" + fn("return 0"), "Import"),
    "import_in_function": (fn("import os\nreturn os"), "Import is not allowed"),
    "from_import": (fn("from os import system\nreturn 0"), "ImportFrom"),
    "import_as": (fn("import subprocess as sp\nreturn 0"), "Import is not allowed"),
    "dunder_import": (fn("return __import__('os')"), "'_'"),
    "builtins_import": (fn("return __builtins__['__import__']('os')"), "'_'"),
    "builtins_attr_import": (fn("return __builtins__.__import__('os')"), "__import__"),
    "importlib": (fn("return importlib.import_module('os')"), "import_module"),
    "importlib_name": (fn("m = importlib\nreturn m"), "unknown name 'importlib'"),
    "np_dict_load": (fn("return np.__dict__['load']"), "__dict__"),
    "np_loader": (fn("return np.__loader__"), "__loader__"),
    "sys_modules": (fn("m = sys.modules\nreturn m"), "'.modules'"),
    "subclasses": (fn("return ().__class__.__base__.__subclasses__()"), "__subclasses__"),
    "terms_class": (fn("return terms.__class__"), "__class__"),
    "func_globals": (fn("return reward.__globals__"), "__globals__"),
    "getattr": (fn("return getattr(np, 'load')"), "unknown name 'getattr'"),
    "eval": (fn("return eval('1')"), "unknown name 'eval'"),
    "exec": (fn("exec('x = 1')\nreturn 0"), "unknown name 'exec'"),
    "compile": (fn("return compile('1', 'f', 'eval')"), "unknown name 'compile'"),
    "open_read": (fn("return open('/etc/passwd').read()"), "'.read'"),
    "open_bare": (fn("f = open\nreturn f('/etc/passwd')"), "unknown name 'open'"),
    "open_write": (fn("open('/tmp/x', 'w').write('x')\nreturn 0"), "'.write'"),
    "globals": (fn("return globals()"), "unknown name 'globals'"),
    "vars": (fn("return vars()"), "unknown name 'vars'"),
    "type": (fn("return type(terms)"), "unknown name 'type'"),
    "breakpoint": (fn("breakpoint()\nreturn 0"), "unknown name 'breakpoint'"),
    "os_system": (fn("os.system('touch /tmp/pwned')\nreturn 0"), "'.system'"),
    "os_name": (fn("return os"), "unknown name 'os'"),
    "sys_exit": (fn("sys.exit(0)"), "'.exit'"),
    "sys_name": (fn("m = sys\nreturn m"), "unknown name 'sys'"),
    "np_load_pickle": (fn("return np.load('x.npy', allow_pickle=True)"), "'.load'"),
    "np_save": (fn("np.save('/tmp/x.npy', terms)\nreturn 0"), "'.save'"),
    "np_fromfile": (fn("return np.fromfile('/etc/passwd')"), "'.fromfile'"),
    "np_ctypeslib": (fn("return np.ctypeslib"), "'.ctypeslib'"),
    "np_lib": (fn("return np.lib.npyio"), "not on the allow-list"),
    "array_tofile": (fn("terms['latency_s'].tofile('/tmp/x')\nreturn 0"), "'.tofile'"),
    "array_ctypes": (fn("return terms['latency_s'].ctypes"), "'.ctypes'"),
    "math_dict": (fn("return math.__dict__"), "__dict__"),
    "format_string": (fn("return '{0.__class__}'.format(terms)"), "'.format'"),
    "fstring": (fn("return f'{terms!r}'"), "JoinedStr"),
    "generator_frame": (fn("g = (x for x in range(3))\nreturn g.gi_frame"), "GeneratorExp"),
    "lambda": (fn("f = lambda: 0\nreturn f"), "Lambda"),
    "class": ("class A:\n    pass\n" + fn("return 0"), "ClassDef"),
    "try_traceback": (
        fn("try:\n    1 / 0\nexcept Exception as e:\n    return e.__traceback__"),
        "Try",
    ),
    "raise": (fn("raise SystemExit(0)"), "Raise"),
    "with": (fn("with terms:\n    pass\nreturn 0"), "With"),
    "global": (fn("global np\nreturn 0"), "Global"),
    "yield": (fn("yield terms"), "Yield"),
    "async": ("async def reward(terms):\n    return 0\n", "AsyncFunctionDef"),
    "decorator": ("@np.vectorize\n" + fn("return 0"), "decorators"),
    "walrus": (fn("return (y := 1)"), "NamedExpr"),
    "delete": (fn("del terms\nreturn 0"), "Delete"),
    "private_name": (fn("_x = 1\nreturn _x"), "'_'"),
    "top_level_call": (fn("return 0") + "reward({})\n", "top level"),
    "top_level_loop": ("while True:\n    pass\n" + fn("return 0"), "top level"),
    "star_args": (fn("return max(*terms)"), "Starred"),
    "syntax_error": (fn("return ((("), "does not parse"),
    "no_entry": ("def other(terms):\n    return 0\n", "no top-level function 'reward"),
    "wrong_signature": ("def reward(terms, extra):\n    return 0\n", "exactly one argument"),
    "huge_source": ("# " + "x" * 30_000 + "\n" + fn("return 0"), "characters"),
    "huge_string": (fn(f"s = '{'a' * 3000}'\nreturn 0"), "constant string"),
    "empty": ("   \n", "empty"),
}


@pytest.mark.parametrize("name", sorted(STATIC_ATTACKS))
def test_static_attack_is_refused_with_a_reason(name: str, canary: Path) -> None:
    code, reason = STATIC_ATTACKS[name]
    with pytest.raises(SandboxError) as err:
        check_source(code)
    assert err.value.kind == "static"
    assert reason in str(err.value), str(err.value)
    with pytest.raises(SandboxError):  # the reward object refuses it the same way
        SandboxedReward(code, NAMES, source="attack")


# ----------------------------------------------------------------------------- runtime
RUNTIME_ATTACKS = {
    "infinite_loop": (fn("while True:\n    pass"), "timeout"),
    "big_integer": (fn("x = 10 ** (10 ** 9)\nreturn x"), "timeout"),
    "memory_bomb": (fn("s = 'a' * (4 * 10 ** 9)\nreturn s"), "memory"),
    "list_bomb": (fn("x = [0] * (10 ** 10)\nreturn x"), "memory"),
    "deep_recursion": (
        "def down(n):\n    return down(n + 1)\n" + fn("return down(0)"),
        "runtime",
    ),
    "division_by_zero": (fn("return 1 / 0"), "runtime"),
    "nan": (fn("x = terms['latency_s'] * np.nan\nreturn x, {}"), "output"),
    "inf": (fn("x = np.log(terms['latency_s'] * 0)\nreturn x, {}"), "output"),
    "wrong_shape": (fn("return terms['latency_s'].sum(), {}"), "output"),
    "huge_output": (fn("return list(range(10 ** 6)), {}"), "output"),
    "not_a_tuple": (fn("return terms['latency_s']"), "output"),
    "components_not_dict": (fn("x = terms['latency_s']\nreturn x, [x]"), "output"),
    "too_many_components": (
        fn("x = terms['latency_s']\nreturn x, {'c' + str(i): x for i in range(40)}"),
        "output",
    ),
    "component_bad_name": (fn("x = terms['latency_s']\nreturn x, {'a b;': x}"), "output"),
    "component_nan": (fn("x = terms['latency_s']\nreturn x, {'bad': x * np.nan}"), "output"),
    "unknown_term": (fn("x = terms['password']\nreturn x, {}"), "runtime"),
    "string_reward": (fn("return 'high', {}"), "output"),
    "nested_lists": (fn("return [[[1]]], {}"), "output"),
}


@pytest.mark.parametrize("name", sorted(RUNTIME_ATTACKS))
def test_runtime_attack_is_contained_with_a_reason(name: str, canary: Path) -> None:
    code, kind = RUNTIME_ATTACKS[name]
    reward = SandboxedReward(code, NAMES, limits=FAST, source="attack")
    t0 = time.monotonic()
    with pytest.raises(SandboxError) as err:
        reward(terms())
    assert err.value.kind == kind, f"{err.value.kind}: {err.value}"
    assert str(err.value).startswith("attack: ")
    assert time.monotonic() - t0 < FAST.wall_s + 5
    reward.close()


def test_a_failed_call_leaves_the_worker_serving_later_calls() -> None:
    code = fn("x = terms['latency_s']\nreturn x / x.sum() * 0 + 1 / x.min(), {}")
    bad = fn("return 1 / 0")
    with SandboxedReward(bad, NAMES) as reward:
        for _ in range(2):
            with pytest.raises(SandboxError, match="ZeroDivisionError"):
                reward(terms())
    with SandboxedReward(code, NAMES) as reward:
        assert np.isfinite(reward(terms())[0]).all()


# ----------------------------------------------------------------------------- escape
ESCAPE = """
def host():
    for c in ().__class__.__base__.__subclasses__():
        if c.__name__ == "_wrap_close":
            return c.__init__.__globals__
    raise RuntimeError("no escape")


def imp(name):
    return host()["__builtins__"]["__import__"](name)


def builtin(name):
    return host()["__builtins__"][name]


"""


LAYERS = sandbox_layers(FAST)
needs_seccomp = pytest.mark.skipif(
    LAYERS["seccomp"] != "on",
    reason=f"seccomp layer {LAYERS['seccomp']} (pip install pyseccomp; Debian libseccomp2): "
    "the escape attacks would run unconfined",
)


def escape(body: str) -> str:
    """Candidate code in full Python that first escapes the restricted builtins."""
    return ESCAPE + fn(body)


OK = "x = terms['latency_s'] * 0\n"


def run_escape(body: str, limits: SandboxLimits = FAST) -> tuple[np.ndarray, SandboxError | None]:
    """Run an escaping candidate; its reward (or None) and its error (or None)."""
    reward = SandboxedReward(escape(body), NAMES, limits=limits, static_check=False)
    try:
        return reward(terms())[0], None
    except SandboxError as exc:
        return np.array([]), exc
    finally:
        reward.close()


def test_the_escape_itself_works_so_the_deeper_layers_are_really_tested() -> None:
    out, err = run_escape(OK + "os = imp('os')\nreturn x + os.getpid() * 0 + 1, {}")
    assert err is None and (out == 1).all()


@needs_seccomp
def test_escape_cannot_read_host_environment_variables(canary: Path) -> None:
    body = OK + f"os = imp('os')\nreturn x + float('{CANARY_ENV}' in os.environ), {{}}"
    out, err = run_escape(body)
    assert err is None and (out == 0).all()
    out, err = run_escape(OK + "os = imp('os')\nreturn x + len(os.environ), {}")
    assert err is None and out.max() <= 8  # only the worker's own few variables


@needs_seccomp
def test_escape_cannot_write_the_host_file(canary: Path) -> None:
    body = f"open = host()['__builtins__']['open']\nopen({str(canary)!r}, 'w').write('pwned')"
    _, err = run_escape(body + "\n" + OK + "return x, {}")
    assert err is not None and err.kind == "runtime", err
    assert "Error" in str(err)


@needs_seccomp
def test_escape_cannot_create_files_anywhere(canary: Path) -> None:
    for target in ("/tmp/pwned", str(canary.parent / "pwned"), "pwned"):
        body = f"open = host()['__builtins__']['open']\nopen({target!r}, 'w').write('x')"
        _, err = run_escape(body + "\n" + OK + "return x, {}")
        assert err is not None and err.kind == "runtime", (target, err)
    assert not Path("/tmp/pwned").exists()


@needs_seccomp
def test_escape_cannot_run_a_shell_command(canary: Path) -> None:
    marker = canary.parent / "shell_ran"
    body = OK + f"os = imp('os')\ncode = os.system('touch {marker}')\nreturn x + code, {{}}"
    out, err = run_escape(body)
    assert not marker.exists()
    assert err is not None or (out != 0).all()  # system() failed: no shell could start


@needs_seccomp
def test_escape_cannot_start_a_subprocess(canary: Path) -> None:
    marker = canary.parent / "subprocess_ran"
    body = f"sp = imp('subprocess')\nsp.run(['touch', {str(marker)!r}])\n" + OK + "return x, {}"
    _, err = run_escape(body)
    assert err is not None and "PermissionError" in str(err), err
    assert not marker.exists()


@needs_seccomp
def test_escape_fork_bomb_is_refused(canary: Path) -> None:
    body = "os = imp('os')\nwhile True:\n    os.fork()\n" + OK + "return x, {}"
    _, err = run_escape(body)
    assert err is not None and "PermissionError" in str(err), err


@needs_seccomp
def test_escape_cannot_reach_the_network(canary: Path) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.5)
    port = server.getsockname()[1]
    body = f"sk = imp('socket')\ns = sk.create_connection(('127.0.0.1', {port}), 1)\n"
    _, err = run_escape(body + OK + "return x, {}")
    assert err is not None and err.kind == "runtime", err
    with pytest.raises(TimeoutError):
        server.accept()  # nobody connected
    server.close()


@needs_seccomp
def test_escape_cannot_signal_the_host(canary: Path) -> None:
    hits: list[int] = []
    previous = signal.signal(signal.SIGUSR1, lambda *_: hits.append(1))
    try:
        body = f"os = imp('os')\nos.kill({os.getpid()}, 10)\n" + OK + "return x, {}"
        _, err = run_escape(body)
        time.sleep(0.2)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert hits == []
    assert err is not None and err.kind == "runtime", err


@needs_seccomp
def test_escape_cannot_raise_its_own_limits(canary: Path) -> None:
    body = "rs = imp('resource')\nrs.setrlimit(rs.RLIMIT_AS, (-1, -1))\n" + OK + "return x, {}"
    _, err = run_escape(body)
    assert err is not None and err.kind == "runtime", err


@needs_seccomp
def test_escape_through_ctypes_cannot_run_a_command(canary: Path) -> None:
    marker = canary.parent / "ctypes_ran"
    body = f"ct = imp('ctypes')\ncode = ct.CDLL(None).system(b'touch {marker}')\n"
    out, err = run_escape(body + OK + "return x + code, {}")
    assert not marker.exists()
    assert err is not None or (out != 0).all()


@needs_seccomp
def test_escape_disabling_the_cpu_alarm_still_meets_the_wall_clock(canary: Path) -> None:
    body = "sg = imp('signal')\nsg.signal(sg.SIGPROF, sg.SIG_IGN)\nwhile True:\n    pass"
    t0 = time.monotonic()
    _, err = run_escape(body)
    assert err is not None and err.kind == "timeout", err
    assert time.monotonic() - t0 < FAST.wall_s + 5


@needs_seccomp
def test_escape_sleeping_past_the_timeout_is_killed(canary: Path) -> None:
    t0 = time.monotonic()
    _, err = run_escape("tm = imp('time')\ntm.sleep(600)")
    assert err is not None and err.kind == "timeout", err
    assert time.monotonic() - t0 < FAST.wall_s + 5


@needs_seccomp
def test_escape_writing_garbage_into_the_protocol_is_caught(canary: Path) -> None:
    body = (
        "os = imp('os')\nfailed = builtin('OSError')\nfor fd in range(3, 12):\n"
        "    try:\n        os.write(fd, b'\\xff' * 64)\n    except failed:\n        pass\n"
    )
    _, err = run_escape(body + OK + "return x, {}")
    assert err is not None and err.kind in ("protocol", "timeout", "crashed"), err


@needs_seccomp
def test_escape_forging_a_huge_reply_is_refused(canary: Path) -> None:
    body = (
        "os = imp('os')\nst = imp('struct')\nfailed = builtin('OSError')\n"
        "for fd in range(3, 12):\n    try:\n        os.write(fd, st.pack('<Q', 1 << 60))\n"
        "    except failed:\n        pass\n"
    )
    _, err = run_escape(body + OK + "return x, {}")
    assert err is not None and err.kind in ("protocol", "timeout", "crashed"), err


@needs_seccomp
def test_escape_patching_the_worker_checks_is_caught_by_the_host(canary: Path) -> None:
    body = (
        "sys = imp('sys')\nw = sys.modules['__main__']\n"
        "w._as_output = lambda out, shape: (out[0], {})\n"
        "return terms['latency_s'] * float('nan'), {}"
    )
    reward = SandboxedReward(escape(body), NAMES, limits=FAST, static_check=False)
    with pytest.raises(SandboxError, match="non-finite") as err:
        reward(terms())
    assert err.value.kind == "output"
    reward.close()


@needs_seccomp
def test_escape_memory_bomb_hits_the_address_space_limit(canary: Path) -> None:
    _, err = run_escape("b = builtin('bytearray')(8 * 10 ** 9)\nreturn b")
    assert err is not None and err.kind == "memory", err


@needs_seccomp
def test_escape_deep_recursion_past_the_limit_is_contained(canary: Path) -> None:
    body = (
        "sys = imp('sys')\nsys.setrecursionlimit(10 ** 6)\n\n"
        "def down(n):\n    return down(n + 1)\n\nreturn down(0)"
    )
    _, err = run_escape(body)
    assert err is not None and err.kind in ("runtime", "crashed", "memory", "timeout"), err


needs_namespaces = pytest.mark.skipif(
    _bwrap_prefix() is None,
    reason="bubblewrap cannot create namespaces here (install Debian's 'bubblewrap'; .ci/run does)",
)


@needs_namespaces
@needs_seccomp
def test_escape_sees_none_of_the_host_files(canary: Path) -> None:
    project = Path(__file__).resolve().parents[2]
    host_files = [canary, Path("/etc/passwd"), Path(__file__), project / "pyproject.toml"]
    for path in [str(p) for p in host_files if p.exists()]:
        body = f"os = imp('os')\nos.stat({path!r})\n" + OK + "return x, {}"
        _, err = run_escape(body)
        assert err is not None and "FileNotFoundError" in str(err), (path, err)


@needs_namespaces
@needs_seccomp
def test_escape_finds_no_network_interface_but_loopback(canary: Path) -> None:
    body = OK + "sk = imp('socket')\nreturn x + len(sk.if_nameindex()), {}"
    out, err = run_escape(body, SandboxLimits(cpu_s=1, wall_s=4, seccomp=False))
    assert err is None and (out == 1).all()  # only 'lo' in the sandbox's network namespace


def test_the_host_process_tree_has_no_sandbox_leftovers() -> None:
    reward = SandboxedReward(fn("return terms['latency_s'], {}"), NAMES)
    reward(terms())
    pid = reward._proc.proc.pid  # type: ignore[union-attr]
    reward.close()
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()


# ----------------------------------------------------------------------------- benign
BENIGN = """
W_LATENCY = 0.5


def shaped(x, scale):
    return np.tanh(x / scale)


def reward(terms):
    e = terms["entropy_bits"]
    lat = -W_LATENCY * np.log1p(terms["latency_s"])
    bonus = shaped(e, 2.0) * 0.1
    total = e + lat + bonus
    return total, {"entropy": e, "latency": lat, "bonus": bonus}
"""


def test_a_benign_candidate_equals_the_same_function_in_process_bit_for_bit() -> None:
    scope: dict = {"np": np}
    exec(compile(BENIGN, "<trusted test copy>", "exec"), scope)  # the test's own trusted copy
    for B, V in ((1, 1), (8, 5), (64, 5)):
        t = terms(B, V)
        with SandboxedReward(BENIGN, NAMES) as reward:
            got, got_parts = reward(t)
        want, want_parts = scope["reward"](t)
        assert got.tobytes() == want.tobytes()
        assert list(got_parts) == ["entropy", "latency", "bonus"]
        for k in want_parts:
            assert got_parts[k].tobytes() == np.asarray(want_parts[k]).tobytes()


def test_bool_terms_arrive_as_bools_and_the_candidate_may_modify_its_copy() -> None:
    code = fn("a = terms['active']\nx = terms['latency_s']\nx[0] = 5.0\nreturn x * a, {}")
    t = terms() | {"active": np.ones((4, 3), dtype=bool)}
    before = t["latency_s"].copy()
    with SandboxedReward(code, (*NAMES, "active")) as reward:
        out, _ = reward(t)
    assert (out[0] == 5.0).all() and np.array_equal(t["latency_s"], before)


def test_sandboxed_reward_pickles_as_code_and_starts_its_own_worker() -> None:
    import copy
    import pickle

    reward = SandboxedReward(BENIGN, NAMES)
    first = reward(terms())[0]
    clone = pickle.loads(pickle.dumps(reward))
    other = copy.deepcopy(reward)
    assert clone._proc is None and other._proc is None
    assert np.array_equal(clone(terms())[0], first) and np.array_equal(other(terms())[0], first)
    for r in (reward, clone, other):
        r.close()


def test_layers_are_reported() -> None:
    layers = sandbox_layers(FAST)
    assert layers["static allow-list"] == "on"
    assert layers["resource limits"].startswith("on (RLIMIT_AS")
    assert set(layers) >= {"seccomp", "namespaces (read-only minimal view, no network)"}


def test_concurrent_callers_each_get_their_own_worker() -> None:
    results: list[np.ndarray] = []

    def work() -> None:
        with SandboxedReward(BENIGN, NAMES) as reward:
            results.append(reward(terms())[0])

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 3 and all(np.array_equal(r, results[0]) for r in results)


def test_bad_limits_name_the_field() -> None:
    with pytest.raises(ValueError, match=r"SandboxLimits.wall_s = 0"):
        SandboxLimits(wall_s=0)
    with pytest.raises(ValueError, match=r"SandboxLimits.memory_mb = 10"):
        SandboxLimits(memory_mb=10)


def test_a_missing_reward_file_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"reward file '.*nope.py' does not exist"):
        SandboxedReward.from_file(tmp_path / "nope.py", NAMES)
    (tmp_path / "best_reward.py").write_text(BENIGN)
    with SandboxedReward.from_file(tmp_path, NAMES) as reward:
        assert reward(terms())[0].shape == (4, 3)


# ----------------------------------------------------------------------------- in an env
EQ20 = """
def reward(terms):
    e = 1.0 * terms["entropy_bits"]
    lat = -0.02 * terms["latency_s"]
    qos = -0.2 * terms["qos_loss"]
    return e + lat + qos, {"entropy": e, "latency": lat, "qos": qos}
"""


def test_a_sandboxed_copy_of_eq20_gives_the_builtin_rewards_bit_for_bit(tmp_path: Path) -> None:
    from vtwin.config import load_config
    from vtwin.envs.privacy import BatchedCrossRealityPrivacy
    from vtwin.envs.privacy_policies import RandomHybridPolicy

    (tmp_path / "eq20.py").write_text(EQ20)
    rewards = []
    for kind in ("paper-c", f"sandbox:{tmp_path / 'eq20.py'}"):
        config = load_config("paper-c-synth", [f"reward.kind={kind}", "horizon_slots=8"])
        env = BatchedCrossRealityPrivacy(config, 3)
        env.reset(seed=5)
        policy = RandomHybridPolicy(seed=5)
        got = []
        for _ in range(8):
            _, r, _, _, info = env.step(policy.act(env))
            got.append((r, info["reward_components"]))
        rewards.append(got)
    for (r1, c1), (r2, c2) in zip(*rewards, strict=True):
        assert r1.tobytes() == r2.tobytes()
        assert all(c1[k].tobytes() == c2[k].tobytes() for k in c1)


def test_sandbox_reward_kinds_resolve_files_folders_and_saved_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vtwin.config import load_config
    from vtwin.envs.privacy import BatchedCrossRealityPrivacy

    library = tmp_path / "library"
    library.mkdir()
    (library / "designed_v1.py").write_text(EQ20)
    monkeypatch.setenv("VTWIN_REWARD_LIBRARY", str(library))
    run = tmp_path / "run"
    run.mkdir()
    (run / "best_reward.py").write_text(EQ20)
    for target in ("designed_v1", str(run), str(library / "designed_v1.py")):
        config = load_config("paper-c-synth", [f"reward.kind=sandbox:{target}"])
        env = BatchedCrossRealityPrivacy(config, 2)
        assert env.reward.components == ("entropy", "latency", "qos")
    with pytest.raises(
        ValueError, match=r"'nothing' is no file, run folder or saved reward name .*designed_v1"
    ):
        BatchedCrossRealityPrivacy(load_config("paper-c-synth", ["reward.kind=sandbox:nothing"]), 2)
    (run / "best_reward.py").unlink()
    with pytest.raises(ValueError, match=r"has no best_reward.py yet"):
        BatchedCrossRealityPrivacy(load_config("paper-c-synth", [f"reward.kind=sandbox:{run}"]), 2)


def test_bad_sandboxed_reward_files_are_one_line_errors(tmp_path: Path) -> None:
    from pydantic import ValidationError as PydanticError

    from vtwin.config import RewardConfig, load_config
    from vtwin.envs.privacy import BatchedCrossRealityPrivacy

    cases = {
        "hostile.py": ("import os\n" + fn("return 0"), r"reward file '.*hostile.py': line 1"),
        "nan.py": (fn("x = terms['latency_s'] * np.nan\nreturn x, {}"), r"non-finite"),
        "name.py": (fn("return terms['nope'], {}"), r"KeyError: 'nope'"),
        "binary.py": (None, r"cannot read it"),
    }
    for name, (code, message) in cases.items():
        path = tmp_path / name
        if code is None:
            path.write_bytes(b"\xff\xfe\x00garbage")
        else:
            path.write_text(code)
        config = load_config("paper-c-synth", [f"reward.kind=sandbox:{path}"])
        with pytest.raises(ValueError, match=message) as err:
            BatchedCrossRealityPrivacy(config, 2)
        assert "\n" not in str(err.value)
    with pytest.raises(PydanticError, match="needs a reward file"):
        RewardConfig(kind="sandbox:")


@needs_seccomp
def test_escape_announcing_a_reply_just_over_the_expected_size_is_refused(canary: Path) -> None:
    # reward + 16 components of [4, 3] float64 is at most 8 · 12 · 17 bytes; claim a bit more
    body = (
        "os = imp('os')\nst = imp('struct')\nfailed = builtin('OSError')\n"
        "for fd in range(3, 12):\n    try:\n"
        "        os.write(fd, st.pack('<Q', 70000 + 8 * 12 * 17))\n"
        "    except failed:\n        pass\n"
    )
    _, err = run_escape(body + OK + "return x, {}")
    assert err is not None and err.kind in ("protocol", "timeout", "crashed"), err
