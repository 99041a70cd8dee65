"""The Stable-Baselines3 views of ``vtwin.interop.sb3``: env checkers, agreement with the
batched envs, masks, seeds, option errors, and SB3 PPO / sb3-contrib MaskablePPO training a
few thousand steps on paper A and both paper B views (tiny presets)."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env

from vtwin.envs.premigration import PreMigrationEnv
from vtwin.envs.routing import BatchedMigrationRouting
from vtwin.envs.twin_update import BatchedTwinUpdate
from vtwin.interop.sb3 import (
    VIEWS,
    InfoActionMasks,
    PrivacyBoxEnv,
    RoutingJointEnv,
    RoutingVehicleEnv,
    TwinUpdateCentralEnv,
    effective_mask,
    make_sb3_env,
    premigration_env,
)

TINY = {
    "premigration": "paper-a-tiny",
    "routing-vehicle": "paper-b-tiny",
    "routing-joint": "paper-b-tiny",
    "privacy": "paper-c-synth",
    "twin-update": "paper-d-tiny",
}
SHORT = {"privacy": ["horizon_slots=12"], "twin-update": []}
"""Overrides that keep a view's episodes short in these tests."""
KNOWN_WARNINGS = (
    "maximum value is infinity",  # paper B's loads / L_max have no upper bound
    "is different from the unwrapped version",  # premigration_env is a wrapper over gym.make
)
INSTALL = "Stable-Baselines3 / sb3-contrib not installed: pip install 'vtwin[sb3]'"
SRC = str(Path(__file__).resolve().parents[2] / "src")


def _sb3() -> Any:
    return pytest.importorskip("stable_baselines3", reason=INSTALL)


def _contrib() -> Any:
    _sb3()
    return pytest.importorskip("sb3_contrib", reason=INSTALL)


def _view(view: str, **options: Any) -> gym.Env[Any, Any]:
    if view in SHORT:
        options.setdefault("overrides", SHORT[view])
    return make_sb3_env(view, TINY[view], **options)


def _rollout(env: gym.Env[Any, Any], seed: int, act_seed: int = 0) -> list[Any]:
    """Observations and rewards of one episode of uniform actions."""
    env.action_space.seed(act_seed)
    obs, _ = env.reset(seed=seed)
    out: list[Any] = [obs]
    done = False
    while not done:
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        out += [obs, reward]
        done = terminated or truncated
    return out


# ---------------------------------------------------------------------------- checkers
@pytest.mark.parametrize("view", list(VIEWS))
def test_gymnasium_env_checker_passes(view: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gym_check_env(_view(view), skip_render_check=True)
    other = [str(w.message) for w in caught if not any(k in str(w.message) for k in KNOWN_WARNINGS)]
    assert other == []


@pytest.mark.parametrize("view", list(VIEWS))
def test_sb3_env_checker_passes(view: str) -> None:
    _sb3()
    from stable_baselines3.common import env_checker as from_sb3

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from_sb3.check_env(_view(view), warn=True)
    other = [str(w.message) for w in caught if not any(k in str(w.message) for k in KNOWN_WARNINGS)]
    assert other == []


@pytest.mark.parametrize("view", list(VIEWS))
def test_same_seed_same_episode(view: str) -> None:
    a, b = _rollout(_view(view), seed=7), _rollout(_view(view), seed=7)
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    c = _rollout(_view(view), seed=8)
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=False))


def test_module_does_not_import_sb3() -> None:
    code = (
        "import sys, vtwin.interop.sb3; "
        "print([m for m in ('stable_baselines3', 'sb3_contrib') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": SRC, "PATH": ""},
    )
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------------- paper A
def test_premigration_view_is_the_registered_env_with_masks() -> None:
    env = premigration_env("paper-a-tiny")
    assert env.spec is not None and env.spec.id == "vtwin/PreMigration-v1"
    bare = PreMigrationEnv("paper-a-tiny")
    obs, _ = env.reset(seed=3)
    ref, _ = bare.reset(seed=3)
    np.testing.assert_array_equal(obs, ref)
    assert env.action_masks().shape == (bare.batched.n_actions,)
    assert env.action_masks().all()  # paper A masks nothing
    for a in (0, 4, 14):
        o1, r1, *_ = env.step(a)
        o2, r2, *_ = bare.step(a)
        np.testing.assert_array_equal(o1, o2)
        assert r1 == r2


def test_info_mask_wrapper_flattens_multidiscrete_and_refuses_envs_without_a_mask() -> None:
    env = premigration_env("paper-a-tiny", overrides=["vehicles.count=3"])
    assert isinstance(env.action_space, gym.spaces.MultiDiscrete)
    env.reset(seed=0)
    assert env.action_masks().shape == (3 * 15,)
    with pytest.raises(RuntimeError, match="reset"):
        premigration_env("paper-a-tiny").action_masks()
    plain = InfoActionMasks(gym.make("CartPole-v1"))
    with pytest.raises(ValueError, match=r"CartPole-v1 reports no info\['action_mask'\]"):
        plain.reset(seed=0)
    with pytest.raises(ValueError, match="only Discrete and MultiDiscrete"):
        InfoActionMasks(gym.make("Pendulum-v1"))


# ---------------------------------------------------------------------------- paper B
def test_vehicle_view_matches_the_batched_env_with_greedy_others() -> None:
    env = RoutingVehicleEnv("paper-b-tiny", vehicle=1, others="greedy", others_params={})
    ref = BatchedMigrationRouting(env.batched.config, 1)
    obs, info = env.reset(seed=5)
    ref_obs, _ = ref.reset([5])
    np.testing.assert_array_equal(obs[:-1], ref_obs["observation"][0, 1])
    assert obs[-1] == 1.0 and info["active"]
    np.testing.assert_array_equal(info["action_mask"], effective_mask(ref_obs["action_mask"][0, 1]))
    rng = np.random.default_rng(0)
    done, slots = False, 0
    while not done:
        own = int(rng.integers(0, ref.M))
        obs, reward, terminated, truncated, info = env.step(own)
        actions = info["others"]  # what the greedy rule chose for the others this slot
        assert actions[1] == own
        ref_obs, ref_reward, ref_term, _, ref_info = ref.step(actions[None])
        assert reward == ref_reward[0, 1]
        assert info["latency_s"] == ref_info["latency_s"][0, 1]
        np.testing.assert_array_equal(obs[:-1], ref_obs["observation"][0, 1])
        assert terminated == bool(ref_info["arrived"][0, 1] or ref_term[0])
        done, slots = terminated or truncated, slots + 1
    assert 1 <= slots <= ref.horizon


def test_vehicle_view_others_follow_the_episode_seed_and_a_callable() -> None:
    def others_of(env: RoutingVehicleEnv, seed: int) -> list[np.ndarray]:
        env.reset(seed=seed)
        return [env.step(0)[4]["others"] for _ in range(5)]

    random_env = RoutingVehicleEnv("paper-b-tiny", others="random")
    a, b = others_of(random_env, 1), others_of(random_env, 1)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, others_of(random_env, 2))

    calls: list[tuple[int, ...]] = []

    def always_satellite(obs: dict[str, np.ndarray]) -> np.ndarray:
        calls.append(obs["observation"].shape)
        return np.full(obs["active"].shape[1], obs["action_mask"].shape[-1] - 1)

    env = RoutingVehicleEnv("paper-b-tiny", vehicle=2, others=always_satellite)
    for others in others_of(env, 0):
        np.testing.assert_array_equal(others, [8, 8, 0])  # the learner (vehicle 2) chose 0
    assert calls[0] == (1, 3, env.batched.obs_dim)


def test_joint_view_matches_the_batched_env() -> None:
    env = RoutingJointEnv("paper-b-tiny", overrides=["servers.sat.count=0"])
    ref = BatchedMigrationRouting(env.batched.config, 1)
    obs, _ = env.reset(seed=4)
    ref_obs, _ = ref.reset([4])
    V, M, D = ref.V, ref.M, ref.obs_dim
    rng = np.random.default_rng(1)
    done, saw_empty_row = False, False
    while not done:
        rows = obs.reshape(V, D + 1)
        np.testing.assert_array_equal(rows[:, :D], ref_obs["observation"][0])
        np.testing.assert_array_equal(rows[:, D], ref_obs["active"][0])
        mask = env.action_masks()
        np.testing.assert_array_equal(mask, effective_mask(ref_obs["action_mask"][0]).ravel())
        assert mask.reshape(V, M).any(axis=1).all()
        saw_empty_row |= not ref_obs["action_mask"][0].any(axis=1).all()
        action = rng.integers(0, M, V)
        obs, reward, terminated, truncated, info = env.step(action)
        ref_obs, ref_reward, ref_term, ref_trunc, _ = ref.step(action[None])
        assert reward == ref_reward[0].mean()
        assert (terminated, truncated) == (bool(ref_term[0]), bool(ref_trunc[0]))
        assert info["latency_s"].shape == (V,)
        done = terminated or truncated
    assert saw_empty_row  # without a satellite some vehicle had no feasible server


def test_bad_options_are_one_line_errors() -> None:
    cases: list[tuple[Any, str]] = [
        (lambda: RoutingVehicleEnv("paper-b-tiny", vehicle=3), r"vehicle = 3: .*\[0, 3\)"),
        (lambda: RoutingVehicleEnv("paper-b-tiny", vehicle=True), "vehicle = True"),
        (lambda: RoutingVehicleEnv("paper-b-tiny", others="mappo"), "others = 'mappo': allowed"),
        (lambda: RoutingVehicleEnv("paper-b-tiny", others=3), "others = 3: allowed"),  # type: ignore[arg-type]
        (
            lambda: RoutingVehicleEnv("paper-b-tiny", others_params={"epsilon": 2}),
            "epsilon = 2",
        ),
        (
            lambda: RoutingVehicleEnv("paper-b-tiny", others_params={"eps": 0.0}),
            "valid: epsilon",
        ),
        (
            lambda: RoutingVehicleEnv("paper-b-tiny", others=lambda o: 0, others_params={"a": 1}),
            "only the named policies",
        ),
        (lambda: RoutingVehicleEnv("paper-a-tiny"), "paper B preset"),
        (lambda: make_sb3_env("routing"), "view = 'routing': allowed are premigration"),
        (lambda: TwinUpdateCentralEnv("paper-d-tiny", view="sensor"), "view = 'sensor'"),
        (lambda: TwinUpdateCentralEnv("paper-d-tiny", reward_scale=0.0), "reward_scale = 0.0"),
        (lambda: TwinUpdateCentralEnv("paper-d-tiny", stride=0), "stride = 0"),
    ]
    for build, message in cases:
        with pytest.raises(ValueError, match=message) as err:
            build()
        assert "\n" not in str(err.value)

    env = RoutingVehicleEnv("paper-b-tiny", others=lambda o: np.zeros(2))
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(2,\); expected \(3,\) or \(1, 3\)"):
        env.step(0)
    with pytest.raises(ValueError, match=r"action 9 of vehicle 0 is outside \[0, 9\)"):
        env.step(9)
    env = RoutingVehicleEnv("paper-b-tiny", others=lambda o: np.zeros(3))
    env.reset(seed=0)
    with pytest.raises(ValueError, match="dtype float64; expected integer server indices"):
        env.step(0)


# ---------------------------------------------------------------------------- papers C, D
def test_privacy_box_decodes_to_the_hybrid_action() -> None:
    env = PrivacyBoxEnv("paper-c-synth", overrides=SHORT["privacy"])
    b = env.batched
    low = env.decode(np.full(3 * b.M, -1.0))
    high = env.decode(np.full(3 * b.M, 1.0))
    np.testing.assert_array_equal(low["radius_deg"], 0.0)
    np.testing.assert_array_equal(low["server"], 0)
    np.testing.assert_allclose(high["radius_deg"], b.r_max_deg)
    np.testing.assert_allclose(high["angle_rad"], 2 * np.pi)
    np.testing.assert_array_equal(high["server"], b.S - 1)
    middle = env.decode(np.zeros(3 * b.M))["server"]
    np.testing.assert_array_equal(middle, b.S // 2)
    with pytest.raises(ValueError, match="non-finite"):
        env.decode(np.full(3 * b.M, np.nan))
    with pytest.raises(ValueError, match="has 4 values; expected 15"):
        env.decode(np.zeros(4))


def test_twin_update_uav_view_plays_the_rule_for_the_sensors() -> None:
    from vtwin.training import make_agent

    env = TwinUpdateCentralEnv("paper-d-tiny", view="uav", reward_scale=1.0)
    ref = BatchedTwinUpdate(env.batched.config, 1)
    rule = make_agent("rule", ref, seed=0, device="cpu", params={})
    state, info = env.reset(seed=11)
    obs, _ = ref.reset([11])
    assert info["seed"] == 11
    for _ in range(ref.horizon):
        act = rule.act(obs, deterministic=True)
        state, reward, _, truncated, _ = env.step(np.asarray(act["uav"]).reshape(-1))
        obs, ref_reward, _, ref_trunc, _ = ref.step(act)
        np.testing.assert_array_equal(state, obs["state"][0])
        assert reward == ref_reward[0, 0] and truncated == bool(ref_trunc[0])
    assert truncated
    assert env.reset()[1]["seed"] == 12  # the next episode follows with stride 1


# ---------------------------------------------------------------------------- training
def _masked_predictions(model: Any, env: Any, seed: int, slots: int) -> tuple[int, int]:
    """(masked-out entries seen, actions outside the mask) over ``slots`` of deterministic
    MaskablePPO actions."""
    obs, _ = env.reset(seed=seed)
    masked, broken = 0, 0
    for _ in range(slots):
        mask = env.action_masks()
        action, _ = model.predict(obs, deterministic=True, action_masks=mask)
        space = env.action_space
        nvec = space.nvec if isinstance(space, gym.spaces.MultiDiscrete) else [space.n]
        rows = np.split(mask, np.cumsum(nvec)[:-1])
        chosen = np.atleast_1d(action)
        broken += sum(not row[a] for row, a in zip(rows, chosen, strict=True))
        masked += int((~mask).sum())
        obs, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            obs, _ = env.reset()
    return masked, broken


class CountInfeasible(gym.Wrapper[Any, Any, Any, Any]):
    """Counts the infeasible (masked) servers the learner picked (paper B's
    ``info["infeasible"]``; paper A has none)."""

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        super().__init__(env)
        self.infeasible = 0

    def step(self, action: Any) -> Any:
        out = self.env.step(action)
        self.infeasible += int(np.sum(out[4].get("infeasible", 0)))
        return out


@pytest.mark.parametrize("view", ["premigration", "routing-vehicle", "routing-joint"])
def test_ppo_and_maskable_ppo_train_and_respect_masks(view: str) -> None:
    ppo_cls = _sb3().PPO
    maskable_cls = _contrib().MaskablePPO
    settings = {"n_steps": 256, "batch_size": 64, "n_epochs": 2, "seed": 0, "device": "cpu"}
    models, infeasible = [], []
    for cls in (ppo_cls, maskable_cls):
        env = CountInfeasible(_view(view))
        model = cls("MlpPolicy", env, **settings)
        model.learn(total_timesteps=2048)
        assert model.num_timesteps == 2048
        models.append(model)
        infeasible.append(env.infeasible)
    masked, broken = _masked_predictions(models[1], _view(view), seed=900, slots=60)
    assert broken == 0  # the trained MaskablePPO's actions respect the masks
    assert infeasible[1] == 0  # and so did every action it sampled while training
    if view != "premigration":  # paper B's masks bind (PPO, unmasked, hits them); A's do not
        assert masked > 0 and infeasible[0] > 0


def test_maskable_ppo_training_is_deterministic_per_seed() -> None:
    maskable_cls = _contrib().MaskablePPO

    def weights(seed: int) -> list[np.ndarray]:
        model = maskable_cls(
            "MlpPolicy", _view("routing-joint"), n_steps=128, batch_size=64, seed=seed
        )
        model.learn(total_timesteps=256)
        return [p.detach().numpy().copy() for p in model.policy.parameters()]

    a, b, c = weights(3), weights(3), weights(4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


@pytest.mark.parametrize("view", ["privacy", "twin-update"])
def test_ppo_trains_on_the_box_views(view: str) -> None:
    ppo_cls = _sb3().PPO
    model = ppo_cls("MlpPolicy", _view(view), n_steps=128, batch_size=64, n_epochs=1, seed=0)
    model.learn(total_timesteps=256)
    env = _view(view)
    obs, _ = env.reset(seed=900)
    action, _ = model.predict(obs, deterministic=True)
    assert env.action_space.contains(np.asarray(action, dtype=np.float32).clip(-1, 1))
    env.step(action)
