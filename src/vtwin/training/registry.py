"""One registry of algorithms by name, across papers, and the kind of env each one serves.

Three env kinds exist. A **single-agent** batched env (paper A's ``BatchedPreMigration``)
hands out observation arrays ``[B, V, obs_dim]`` that the loop flattens into ``B·V``
independent rows for one shared policy (``obs_dim``, ``n_actions``). A **multi-agent** batched
env (paper B's ``BatchedMigrationRouting``) hands out observation dicts with a global
``state`` for centralised critics (``V``, ``obs_dim``, ``state_dim``, ``M``); having
``state_dim`` is what marks it. A **hybrid** batched env (paper C's
``BatchedCrossRealityPrivacy``, marked by ``action_kind = "hybrid"``) takes per-AV
continuous and discrete actions from one learner acting for all ``M`` AVs (``obs_dim``,
``S`` servers, ``r_max_deg``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, Literal

from vtwin.agents.common import AgentSizes
from vtwin.agents.protocol import Agent

__all__ = [
    "ALGORITHMS",
    "Algorithm",
    "EnvKind",
    "agent_sizes",
    "algorithm",
    "algorithm_names",
    "env_kind",
    "make_agent",
]

EnvKind = Literal["single_agent", "multi_agent", "hybrid", "heterogeneous"]

Factory = Callable[[Any, int, str, dict[str, Any]], Agent]
"""(env, seed, device, params) → agent sized for the env."""


@dataclass(frozen=True)
class Algorithm:
    """A named algorithm: the env kinds it serves and how to build it for an env."""

    name: str
    env_kinds: frozenset[EnvKind]
    build: Factory
    description: str


def env_kind(env: Any) -> EnvKind:
    """``hybrid`` for envs declaring ``action_kind = "hybrid"``, ``multi_agent`` for envs with
    a global state for centralised critics, else ``single_agent``."""
    if getattr(env, "action_kind", None) == "hybrid":
        return "hybrid"
    if getattr(env, "action_kind", None) == "heterogeneous":
        return "heterogeneous"
    return "multi_agent" if hasattr(env, "state_dim") else "single_agent"


def agent_sizes(env: Any) -> AgentSizes:
    """The sizes of a learner for ``env``: per-vehicle rows of a single-agent env, or the
    vehicles, observation, state and server counts of a multi-agent one."""
    kind = env_kind(env)
    if kind == "heterogeneous":
        from vtwin.agents.hatd3 import HeteroSizes, StepFill

        fill = (
            StepFill(
                budget=env.budget,
                deadline_s=env.deadline,
                z_min=env.z_min,
                z_scale=env.z_max_range[1],
                speed_scale=env.speed_range[1],
                weight_floor=env.weight_floor,
            )
            if hasattr(env, "budget")
            else None
        )
        return HeteroSizes.of(
            env.K,
            env.sensor_dim,
            env.U,
            env.uav_dim,
            env.uav_action_dim,
            getattr(env, "uav_slots", 0),
            getattr(env, "uav_slot_obs", 0),
            fill,
        )
    if kind == "hybrid":
        from vtwin.training.hybrid import hybrid_sizes

        return hybrid_sizes(env)
    if kind == "multi_agent":
        return AgentSizes(env.obs_dim, env.M, n_agents=env.V, state_dim=env.state_dim)
    return AgentSizes(env.obs_dim, env.n_actions, entity_layout=getattr(env, "entity_layout", None))


# Ranges of the learners' hyper-parameters, by name (the same name means the same thing in
# every config). Integers not listed in _MAY_BE_ZERO count something and must be ≥ 1; floats
# must be finite, and ≥ 0 unless listed below.
_MAY_BE_ZERO = frozenset(
    {"learning_starts", "lr_anneal_steps", "eval_chains", "anneal_steps", "noise_decay_steps"}
)
_AT_MOST = {"batch_size": 10_000_000, "minibatch_size": 10_000_000}
"""Sanity bounds: a sampled batch is allocated whole (a replay buffer's size is checked
against free memory when it is built)."""
_UNIT_INTERVAL = frozenset({"gamma", "gae_lambda"})  # [0, 1]
_POSITIVE_UNIT = frozenset({"tau", "sensor_share"})  # (0, 1]
_ANY_SIGN = frozenset({"init_log_std", "target_entropy_per_dim", "target_entropy_scale"})
_POSITIVE = frozenset(
    {"clip", "max_grad_norm", "reward_scale", "x0_clip", "discrete_x0_clip", "continuous_x0_clip"}
)


def _check_range(cls_name: str, name: str, value: Any) -> None:
    """Refuse a hyper-parameter outside its range (see the tables above), naming it."""
    where = f"{cls_name}.{name} = {value!r}"
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, tuple):
        if value and all(isinstance(v, int) for v in value) and min(value) < 1:
            raise ValueError(f"{where}: layer sizes must be ≥ 1")
        return
    if isinstance(value, int):
        least = 0 if name in _MAY_BE_ZERO else 1
        if value < least:
            raise ValueError(f"{where}: must be an integer ≥ {least}")
        most = _AT_MOST.get(name)
        if most is not None and value > most:
            raise ValueError(f"{where}: at most {most:,} (a sanity bound; the papers use ≤ 4,096)")
        return
    if not isinstance(value, float):
        return
    if not math.isfinite(value):
        raise ValueError(f"{where}: must be a finite number")
    if name in _ANY_SIGN:
        return
    if name in _UNIT_INTERVAL and not 0.0 <= value <= 1.0:
        raise ValueError(f"{where}: must be in [0, 1]")
    if name in _POSITIVE_UNIT and not 0.0 < value <= 1.0:
        raise ValueError(f"{where}: must be in (0, 1]")
    positive = name in _POSITIVE or name.startswith("lr") or name.endswith("_lr")
    if positive and value <= 0.0:
        raise ValueError(f"{where}: must be > 0")
    if value < 0.0:
        raise ValueError(f"{where}: must be ≥ 0")


def config_from_params(cls: Any, params: dict[str, Any]) -> Any:
    """Build a frozen dataclass config from user parameters (``-p name=value``).

    Unknown keys are refused with the valid ones listed; values are checked against the
    field's type by pydantic (``lr=abc``, ``epochs=2.5`` or an unknown option of a choice are
    errors naming the field; YAML lists become tuples) and against the range of its name
    (counts ≥ 1, finite rates, discounts in [0, 1]); the dataclass's own checks run last.
    """
    from pydantic import TypeAdapter, ValidationError

    valid = {f.name for f in fields(cls)}
    unknown = sorted(set(params) - valid)
    if unknown:
        raise ValueError(
            f"unknown {cls.__name__} parameter(s) {unknown}; valid: {', '.join(sorted(valid))}"
        )
    try:
        config = TypeAdapter(cls).validate_python(dict(params))
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"])
        value = params.get(str(first["loc"][0]), first.get("input")) if first["loc"] else None
        raise ValueError(f"{cls.__name__}.{name} = {value!r}: {first['msg']}") from None
    for f in fields(cls):
        _check_range(cls.__name__, f.name, getattr(config, f.name))
    return config


def _ppo(env: Any, seed: int, device: str, params: dict[str, Any]) -> Agent:
    from vtwin.agents.ppo import PPOAgent, PPOConfig

    cfg = config_from_params(PPOConfig, params)
    return PPOAgent(agent_sizes(env), cfg, device=device, seed=seed)


def _dsac(env: Any, seed: int, device: str, params: dict[str, Any]) -> Agent:
    from vtwin.agents.dsac import DSACAgent, DSACConfig

    cfg = config_from_params(DSACConfig, params)
    return DSACAgent(agent_sizes(env), cfg, device=device, seed=seed)


def _mappo(use_mask: bool) -> Factory:
    name = "dm_mappo" if use_mask else "mappo"

    def build(env: Any, seed: int, device: str, params: dict[str, Any]) -> Agent:
        from vtwin.agents.mappo import MAPPOAgent, MAPPOConfig

        if "use_mask" in params:
            raise ValueError(
                f"'{name}' fixes use_mask; pick 'dm_mappo' (mask) or 'mappo' (no mask) instead"
            )
        cfg = config_from_params(MAPPOConfig, {**params, "use_mask": use_mask})
        return MAPPOAgent(agent_sizes(env), cfg, device=device, seed=seed)

    return build


def _masac(env: Any, seed: int, device: str, params: dict[str, Any]) -> Agent:
    from vtwin.agents.masac import MASACAgent, MASACConfig

    cfg = config_from_params(MASACConfig, params)
    return MASACAgent(agent_sizes(env), cfg, device=device, seed=seed)


def _hybrid(module: str, agent: str, config: str) -> Factory:
    """A factory for the paper C learner ``agent`` with config class ``config`` of
    ``vtwin.agents.<module>``."""

    def build(env: Any, seed: int, device: str, params: dict[str, Any]) -> Agent:
        import importlib

        mod = importlib.import_module(f"vtwin.agents.{module}")
        cfg = config_from_params(getattr(mod, config), params)
        built: Agent = getattr(mod, agent)(agent_sizes(env), cfg, device=device, seed=seed)
        return built

    return build


def _greedy(env: Any, seed: int, device: str, params: dict[str, Any]) -> Agent:
    from vtwin.agents.marl_heuristics import GreedyRouting

    unknown = sorted(set(params) - {"epsilon"})
    if unknown:
        raise ValueError(f"unknown greedy parameter(s) {unknown}; valid: epsilon")
    has_sat = bool(getattr(env, "has_sat", True))
    return GreedyRouting(env.V, env.M, seed=seed, has_satellite=has_sat, **params)


def _td3_family(name: str) -> Factory:
    """A factory for paper D's ``name`` (one of :data:`vtwin.agents.hatd3.VARIANTS`)."""

    def build(env: Any, seed: int, device: str, params: dict[str, Any]) -> Agent:
        from vtwin.agents.hatd3 import VARIANTS, HATD3Agent, HATD3Config

        fixed = sorted(set(params) & set(VARIANTS[name]))
        if fixed:
            raise ValueError(
                f"'{name}' fixes {', '.join(fixed)}; pick another of {', '.join(VARIANTS)} instead"
            )
        cfg = config_from_params(HATD3Config, {**params, **VARIANTS[name]})
        return HATD3Agent(agent_sizes(env), cfg, device=device, seed=seed)  # type: ignore[return-value]

    return build


def _twin_rule(env: Any, seed: int, device: str, params: dict[str, Any]) -> Agent:
    from vtwin.agents.twin_rules import TwinUpdateRule

    unknown = sorted(set(params) - {"hover_radius"})
    if unknown:
        raise ValueError(f"unknown rule parameter(s) {unknown}; valid: hover_radius")
    return TwinUpdateRule(env.uav_action_dim, seed=seed, **params)  # type: ignore[return-value]


def _twin_greedy(env: Any, seed: int, device: str, params: dict[str, Any]) -> Agent:
    from vtwin.agents.twin_rules import TwinUpdateGreedy

    if params:
        raise ValueError(f"the greedy_steps rule takes no parameters, got {sorted(params)}")
    return TwinUpdateGreedy(  # type: ignore[return-value]
        env.uav_action_dim,
        budget=env.budget,
        deadline_s=env.deadline,
        z_min=env.z_min,
        z_scale=env.z_max_range[1],
        f_scale=env.f_max_range[1],
        speed_scale=env.speed_range[1],
        weight_floor=env.weight_floor,
        seed=seed,
    )


def _random(env: Any, seed: int, device: str, params: dict[str, Any]) -> Agent:
    from vtwin.agents.heuristics import RandomAgent
    from vtwin.agents.marl_heuristics import RandomRouting

    if params:
        raise ValueError(f"the random agent takes no parameters, got {sorted(params)}")
    if env_kind(env) == "heterogeneous":
        from vtwin.agents.twin_rules import RandomTwinUpdate

        return RandomTwinUpdate(env.uav_action_dim, seed=seed)  # type: ignore[return-value]
    if env_kind(env) == "multi_agent":
        return RandomRouting(env.V, env.M, seed=seed)
    return RandomAgent(env.obs_dim, env.n_actions, seed=seed)


_SINGLE: frozenset[EnvKind] = frozenset({"single_agent"})
_MULTI: frozenset[EnvKind] = frozenset({"multi_agent"})
_HYBRID: frozenset[EnvKind] = frozenset({"hybrid"})
_HETERO: frozenset[EnvKind] = frozenset({"heterogeneous"})

ALGORITHMS: dict[str, Algorithm] = {
    a.name: a
    for a in (
        Algorithm("ppo", _SINGLE, _ppo, "PPO, clipped surrogate (Schulman et al. 2017)"),
        Algorithm("dsac", _SINGLE, _dsac, "diffusion soft actor-critic (paper A Sec. III)"),
        Algorithm("dm_mappo", _MULTI, _mappo(True), "MAPPO with the dynamic mask (paper B)"),
        Algorithm("mappo", _MULTI, _mappo(False), "MAPPO without mask (paper B baseline)"),
        Algorithm("masac", _MULTI, _masac, "multi-agent discrete SAC (paper B baseline)"),
        Algorithm("greedy", _MULTI, _greedy, "nearest feasible server, ε-random (paper B)"),
        Algorithm("random", _SINGLE | _MULTI | _HETERO, _random, "uniformly random actions"),
        Algorithm(
            "hppo",
            _HYBRID,
            _hybrid("hppo", "HPPOAgent", "HPPOConfig"),
            "H-PPO, parallel discrete and continuous PPO heads (paper C baseline)",
        ),
        Algorithm(
            "hdppo",
            _HYBRID,
            _hybrid("hdppo", "HDPPOAgent", "HDPPOConfig"),
            "HDPPO / LHDPPO, PPO with two diffusion actors (paper C Sec. 5.2.2)",
        ),
        Algorithm(
            "ghppo",
            _HYBRID,
            _hybrid("ghppo", "GHPPOAgent", "GHPPOConfig"),
            "GHPPO, diffusion discrete actor + Gaussian continuous head (paper C baseline)",
        ),
        Algorithm(
            "ppo_relaxed",
            _HYBRID,
            _hybrid("ppo_relaxed", "PPORelaxedAgent", "PPORelaxedConfig"),
            "PPO-relaxed, the server relaxed to a continuous value and rounded (paper C)",
        ),
        Algorithm(
            "hgdm",
            _HYBRID,
            _hybrid("hgdm", "HGDMAgent", "HGDMConfig"),
            "HGDM, diffusion SAC on a continuous latent of the hybrid action (paper C)",
        ),
        Algorithm(
            "su_hatd3",
            _HETERO,
            _td3_family("su_hatd3"),
            "SU-HATD3, heterogeneous TD3 with sequential actor updates (paper D)",
        ),
        Algorithm("haddpg", _HETERO, _td3_family("haddpg"), "HADDPG, sequential (paper D)"),
        Algorithm("matd3", _HETERO, _td3_family("matd3"), "MATD3, simultaneous (paper D)"),
        Algorithm("maddpg", _HETERO, _td3_family("maddpg"), "MADDPG, simultaneous (paper D)"),
        Algorithm(
            "rule", _HETERO, _twin_rule, "nearest UAV, even split, fly to the queue (paper D)"
        ),
        Algorithm(
            "greedy_steps",
            _HETERO,
            _twin_greedy,
            "the rule with steps filled by fidelity per step (ours, paper D)",
        ),
    )
}
"""Every algorithm by name."""


def algorithm_names(kind: EnvKind | None = None) -> tuple[str, ...]:
    """The names of the algorithms serving ``kind`` (all when None), in registry order."""
    return tuple(n for n, a in ALGORITHMS.items() if kind is None or kind in a.env_kinds)


def algorithm(name: str, kind: EnvKind | None = None) -> Algorithm:
    """The algorithm called ``name``; with ``kind``, it must serve that env kind."""
    if name not in ALGORITHMS:
        raise ValueError(f"unknown algo '{name}'; valid: {', '.join(algorithm_names(kind))}")
    algo = ALGORITHMS[name]
    if kind is not None and kind not in algo.env_kinds:
        raise ValueError(
            f"algo '{name}' does not serve {kind.replace('_', '-')} envs; "
            f"valid: {', '.join(algorithm_names(kind))}"
        )
    return algo


def make_agent(
    algo: str,
    env: Any,
    *,
    seed: int = 0,
    device: str = "auto",
    params: dict[str, Any] | None = None,
) -> Agent:
    """An agent by name (see :data:`ALGORITHMS`) sized for ``env``, with its parameters.

    ``ppo``/``dsac``/``masac`` take their config's fields, ``dm_mappo``/``mappo`` those of
    ``MAPPOConfig`` except ``use_mask`` (the name decides it), ``greedy`` takes ``epsilon``,
    ``random`` none. Unknown names and keys are refused with the valid ones listed.
    """
    return algorithm(algo, env_kind(env)).build(env, seed, device, dict(params or {}))
