"""The reward protocol, user rewards (loaded by path or given as callables) and their checks."""

from __future__ import annotations

import copy
import importlib
import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from vtwin.config import BUILTIN_REWARDS

if TYPE_CHECKING:
    from vtwin.config import VTwinConfig
    from vtwin.rewards.paper_b import EnvFactory

__all__ = [
    "FunctionReward",
    "Reward",
    "RewardFn",
    "RewardOutput",
    "RewardTerms",
    "TermSpec",
    "builtin_weights",
    "load_reward",
    "make_reward",
    "reward_info",
    "validate_reward",
]

RewardTerms = Mapping[str, NDArray[Any]]
"""An env's named raw terms of one slot, each batched ``[B, V]`` (``active``: a bool mask of
the vehicles that drive, where the env has one)."""

RewardOutput = tuple[NDArray[np.float64], dict[str, NDArray[np.float64]]]
"""The reward ``[B, V]`` and its named components (each ``[B, V]``)."""

RewardFn = Callable[..., RewardOutput]
"""A plain user reward: ``fn(terms)``, or ``fn(terms, weights)`` to get ``reward.weights``."""

TermSpec = Mapping[str, type]
"""The terms an env provides: name → ``float`` or ``bool`` (for sample terms)."""

_EXPECTED = (
    "expected reward(terms) or reward(terms, weights) -> (reward, components): a finite float "
    "array [B, V] and a dict of named finite [B, V] arrays"
)


@runtime_checkable
class Reward(Protocol):
    """A reward object: ``names`` of the terms it reads, ``components`` it returns, a
    per-episode ``reset(B)`` for its state, and ``__call__(terms)`` once per slot."""

    names: tuple[str, ...]
    components: tuple[str, ...]

    def reset(self, B: int) -> None:
        """Start episodes of ``B`` copies (a stateless reward does nothing)."""
        ...

    def __call__(self, terms: RewardTerms) -> RewardOutput:
        """Reward [B, V] and named components of one slot."""
        ...


def builtin_weights(kind: str, weights: Mapping[str, float] | None) -> dict[str, float]:
    """A built-in reward's weights as floats: defaults filled in, unknown names an error."""
    defaults = BUILTIN_REWARDS[kind]
    given = dict(weights or {})
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ValueError(
            f"reward.weights: unknown weight(s) {', '.join(unknown)} for reward kind '{kind}'; "
            f"valid weights: {', '.join(sorted(defaults))}"
        )
    return {k: float(given.get(k, v)) for k, v in defaults.items()}


def reward_info(reward: Reward) -> dict[str, Any]:
    """Extra per-copy diagnostics a reward offers for the env's info (its ``info()``), or {}."""
    info = getattr(reward, "info", None)
    return dict(info()) if callable(info) else {}


class FunctionReward:
    """A plain function as a stateless :class:`Reward`; ``weights`` (when not None) go to
    its ``weights`` argument."""

    def __init__(
        self,
        fn: RewardFn,
        names: tuple[str, ...],
        components: tuple[str, ...] = (),
        weights: Mapping[str, float] | None = None,
    ) -> None:
        """``names``: the terms it is given; ``components``: the names it returns."""
        self.fn = fn
        self.names = names
        self.components = components
        self._kwargs = {"weights": dict(weights)} if weights is not None else {}

    def reset(self, B: int) -> None:
        """Nothing to reset (a plain function holds no state)."""

    def __call__(self, terms: RewardTerms) -> RewardOutput:
        """The function's reward and components, as float arrays."""
        reward, components = self.fn(terms, **self._kwargs)
        return np.asarray(reward, dtype=np.float64), {
            k: np.asarray(v, dtype=np.float64) for k, v in components.items()
        }


def load_reward(path: str) -> RewardFn:
    """The callable at ``'package.module:function'``, or a one-line ValueError."""
    where = f"reward.kind = '{path}'"
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"{where}: expected 'package.module:function'")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ValueError(
            f"{where}: no module named '{exc.name}'; expected 'package.module:function' "
            "importable from sys.path"
        ) from None
    except Exception as exc:  # the user's module failed while importing
        raise ValueError(
            f"{where}: importing '{module_name}' raised {type(exc).__name__}: "
            f"{' '.join(str(exc).split())}"
        ) from None
    fn = getattr(module, attr, None)
    if fn is None:
        raise ValueError(f"{where}: module '{module_name}' has no attribute '{attr}'")
    if not callable(fn):
        raise ValueError(f"{where}: '{attr}' is a {type(fn).__name__}, not a callable")
    return fn


def sample_terms(terms: TermSpec, B: int, V: int) -> dict[str, NDArray[Any]]:
    """Random terms [B, V] of the given kinds (bool: half True; float: uniform in [0, 1))."""
    rng = np.random.default_rng(0)
    return {
        name: (rng.random((B, V)) < 0.5) if kind is bool else rng.random((B, V))
        for name, kind in terms.items()
    }


def validate_reward(
    reward: Reward | RewardFn,
    terms: TermSpec,
    B: int,
    V: int,
    *,
    weights: Mapping[str, float] | None = None,
    source: str = "reward",
) -> Reward:
    """Check a user reward by calling it once on sample terms; return it as a :class:`Reward`.

    Checked: the signature takes ``(terms)`` (a function with a ``weights`` parameter is
    given ``weights`` too), the terms it names exist, the output is ``(reward, components)``
    with a finite ``[B, V]`` reward and a dict of finite ``[B, V]`` arrays. A failure is a
    one-line ValueError starting with ``source`` (the config path or the callable's name).
    Objects with ``reset`` and ``names`` are used as they are (tried on a copy, so their
    state is untouched).
    """
    expected = _EXPECTED
    is_object = isinstance(reward, Reward)
    fn: Callable[..., Any] = reward
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # builtins without a signature: trust the call below
        signature = None
    takes_weights = not is_object and signature is not None and "weights" in signature.parameters
    kwargs = {"weights": dict(weights or {})} if takes_weights else {}
    if signature is not None:
        try:
            signature.bind({}, **kwargs)
        except TypeError:
            raise ValueError(f"{source}: signature {signature} does not fit; {expected}") from None
    names = tuple(getattr(reward, "names", ())) if is_object else tuple(terms)
    missing = [n for n in names if n not in terms]
    if missing:
        raise ValueError(
            f"{source}: needs term(s) {', '.join(missing)} the env does not provide "
            f"(it provides {', '.join(terms)})"
        )
    sample = sample_terms(terms, B, V)
    trial = copy.deepcopy(reward) if is_object else reward
    if is_object:
        trial.reset(B)  # type: ignore[union-attr]
    try:
        out = trial(sample, **kwargs)
    except Exception as exc:
        raise ValueError(
            f"{source}: raised {type(exc).__name__}: {' '.join(str(exc).split())} on sample "
            f"terms [{B}, {V}] ({', '.join(terms)}); {expected}"
        ) from None
    components = _check_output(out, B, V, source, expected)
    if is_object:
        return reward  # type: ignore[return-value]
    return FunctionReward(reward, names, components, kwargs.get("weights"))


def _check_output(out: Any, B: int, V: int, source: str, expected: str) -> tuple[str, ...]:
    """The component names of a valid output, else a ValueError saying what is wrong."""
    if not isinstance(out, tuple | list) or len(out) != 2:
        raise ValueError(f"{source}: returned a {type(out).__name__}; {expected}")
    reward, components = out
    _check_array(reward, "the reward", B, V, source, expected)
    if not isinstance(components, Mapping):
        raise ValueError(
            f"{source}: components are a {type(components).__name__}, not a dict; {expected}"
        )
    for name, value in components.items():
        if not isinstance(name, str):
            raise ValueError(f"{source}: component name {name!r} is not a string; {expected}")
        _check_array(value, f"component '{name}'", B, V, source, expected)
    return tuple(components)


def _check_array(value: Any, what: str, B: int, V: int, source: str, expected: str) -> None:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{source}: {what} is not a numeric array; {expected}") from None
    if arr.shape != (B, V):
        raise ValueError(f"{source}: {what} has shape {arr.shape}, not ({B}, {V}); {expected}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{source}: {what} has non-finite values (NaN or inf); {expected}")


def make_reward(
    config: VTwinConfig,
    terms: TermSpec,
    B: int,
    V: int,
    *,
    reward: Reward | RewardFn | None = None,
    env_factory: EnvFactory | None = None,
    reference: VTwinConfig | None = None,
) -> Reward:
    """The reward an env uses: ``reward`` when given (a callable, checked), else the one of
    ``config.reward`` (a built-in kind or a ``module:function`` path, checked).

    ``terms`` names the terms the env provides; ``env_factory`` and ``reference`` serve the
    paper-b reward's reference calibration (:func:`vtwin.rewards.reference_moments`).
    """
    from vtwin.rewards.paper_a import PaperAReward
    from vtwin.rewards.paper_b import PaperBReward
    from vtwin.rewards.paper_c import PaperCLLMReward, PaperCReward
    from vtwin.rewards.paper_d import PaperDReward

    rc = config.reward
    # a user reward gets the configured weights unless they are a built-in kind's
    weights = None if rc.kind in BUILTIN_REWARDS else rc.weights
    stateless: dict[str, type[Any]] = {
        "paper-a": PaperAReward,
        "paper-c": PaperCReward,
        "paper-c-llm": PaperCLLMReward,
        "paper-d": PaperDReward,
    }
    builtins: dict[str, type[Any]] = {**stateless, "paper-b": PaperBReward}
    builtin = builtins.get(rc.kind or "")
    if reward is None and builtin is not None:
        missing = [n for n in builtin.names if n not in terms]
        if missing:
            raise ValueError(
                f"reward.kind = '{rc.kind}': needs term(s) {', '.join(missing)} the env does "
                f"not provide (it provides {', '.join(terms)})"
            )
    built: Reward
    if reward is not None:
        name = getattr(reward, "__qualname__", type(reward).__qualname__)
        built = validate_reward(
            reward, terms, B, V, weights=weights, source=f"reward callable '{name}'"
        )
    elif rc.kind is None:
        raise ValueError(
            f"config '{config.name}': paper {config.paper} has no built-in reward; set "
            f"reward.kind ({', '.join(BUILTIN_REWARDS)} or 'package.module:function')"
        )
    elif rc.kind in stateless:
        built = stateless[rc.kind](rc.weights)
    elif rc.kind == "paper-b":
        if env_factory is None:
            raise ValueError("reward.kind = 'paper-b' needs an env factory for its calibration")
        built = PaperBReward.from_config(config, env_factory, reference)
    elif rc.kind.startswith("sandbox:"):
        built = _sandboxed(rc.kind, terms, B, V)
    else:
        built = validate_reward(
            load_reward(rc.kind), terms, B, V, weights=weights, source=f"reward.kind = '{rc.kind}'"
        )
    built.reset(B)
    return built


def _sandboxed(kind: str, terms: TermSpec, B: int, V: int) -> Reward:
    """Untrusted reward code (``sandbox:FILE|RUN_DIR|NAME``) in a sandbox worker, tried once
    on sample terms; failures are one-line ValueErrors naming the file."""
    from vtwin.rewards.sandbox import SandboxedReward, SandboxError, resolve_reward_file

    where = f"reward.kind = '{kind}'"
    path = resolve_reward_file(kind[len("sandbox:") :], where)
    reward = SandboxedReward.from_file(path, tuple(terms))
    try:
        out = reward(sample_terms(terms, B, V))
    except SandboxError as exc:
        reward.close()
        raise ValueError(f"{where}: {exc}") from None
    _check_output(out, B, V, where, _EXPECTED)
    return reward
