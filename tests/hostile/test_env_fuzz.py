"""Env fuzzing (issue 21, item 2): every env of papers A–D, batched and as its Gymnasium /
PettingZoo view, under random, extreme and invalid actions and extreme but valid configs.

What a "step" counts here: one **copy-step**, one slot of one copy of a batched env (a copy
holds all its vehicles / AVs / sensors and UAVs). The long fuzz runs step ``B = 64`` copies
at once until at least 10⁵ copy-steps have run per env (paper B counts only copies still
live at the step). Valid actions mix uniform draws with extreme ones (every agent on the
first or last index, radius 0 or r_max, the float32-rounded bounds, ±1 everywhere) and
other accepted encodings (whole floats, narrow int dtypes, float32).

After every step the env's promises are checked: observations, rewards and every numeric
``info`` entry finite and inside the declared spaces; queues, caches and loads within
[0, L_max]; positions inside the area; UAV batteries non-increasing (A); paper C's entropies
within [0, log2 |P|] and its posterior summing to 1; paper D's steps within the budget; the
action mask never empty when a satellite exists (B). Invalid actions must raise a one-line
ValueError/TypeError naming the action or agent and what is allowed, and leave the env as
it was: a twin env that never saw the refused action takes the same next step.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vtwin.config import ConfigError, load_config
from vtwin.envs.premigration import BatchedPreMigration, PreMigrationEnv
from vtwin.envs.privacy import BatchedCrossRealityPrivacy, CrossRealityPrivacyEnv
from vtwin.envs.routing import BatchedMigrationRouting, MigrationRoutingEnv
from vtwin.envs.twin_update import BatchedTwinUpdate, TwinUpdateEnv
from vtwin.world.adversary import posterior_entropy_bits

FUZZ_COPY_STEPS = 100_000
B_FUZZ = 64
TOL = 1e-9
C_FAST = ["horizon_slots=40", "privacy.candidate_grid=5"]  # |P| = 25: the long run stays cheap
FUZZ = settings(
    derandomize=True,
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
NUMPY_WORDS = (
    "reshape",
    "broadcast",
    "could not convert",
    "inhomogeneous",
    "sequence",
    "bounds for",
)


# ------------------------------------------------------------------ shared checks
def numeric_leaves(tree: Any, path: str = "") -> Iterator[tuple[str, np.ndarray]]:
    """Every numeric array or number in a (nested) dict, with its dotted path."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from numeric_leaves(value, f"{path}.{key}" if path else str(key))
    elif isinstance(tree, np.ndarray | float | int | np.number) and not isinstance(tree, bool):
        arr = np.asarray(tree)
        if arr.dtype.kind in "iuf":
            yield path, arr


def assert_finite(tree: Any, what: str) -> None:
    for path, arr in numeric_leaves(tree):
        assert np.all(np.isfinite(arr)), f"{what}: {path} holds NaN/inf"


def assert_within(arr: Any, lo: float, hi: float, what: str, tol: float = TOL) -> None:
    a = np.asarray(arr, dtype=np.float64)
    assert np.all(np.isfinite(a)), f"{what} holds NaN/inf"
    assert a.size == 0 or (a.min() >= lo - tol and a.max() <= hi + tol), (
        f"{what} spans [{a.min()}, {a.max()}], outside [{lo}, {hi}]"
    )


def assert_clear(err: BaseException, *names: str) -> None:
    """A one-line message naming the action/agent and what is allowed, no numpy internals."""
    text = str(err)
    assert "\n" not in text and text, f"not one line: {text!r}"
    assert any(n in text for n in names), f"names none of {names}: {text}"
    assert any(
        w in text
        for w in ("expected", "outside", "must", "allowed", "integer", "unknown", "no action")
    ), text
    for word in NUMPY_WORDS:
        assert word not in text.lower(), f"numpy's words in the message: {text}"


def assert_same_step(a: tuple[Any, ...], b: tuple[Any, ...]) -> None:
    """Two step results (obs, reward, terminated, truncated, info) are identical."""
    for x, y in zip(a[:4], b[:4], strict=True):
        if isinstance(x, dict):
            assert x.keys() == y.keys()
            for k in x:
                if isinstance(x[k], dict):
                    assert_same_step((x[k], 0, 0, 0), (y[k], 0, 0, 0))
                else:
                    np.testing.assert_array_equal(x[k], y[k])
        else:
            np.testing.assert_array_equal(x, y)


# ------------------------------------------------------------------ valid actions per paper
def index_actions(env: Any, rng: np.random.Generator) -> Any:
    """Random or extreme server/action indices [B, V] in an accepted encoding."""
    B, V, n = env.B, env.V, env.n_actions
    mode = rng.integers(6)
    if mode == 0:
        return np.zeros((B, V), dtype=np.int64)
    if mode == 1:
        return np.full((B, V), n - 1, dtype=np.int64)
    act = rng.integers(0, n, (B, V))
    if mode == 2:
        return act.astype(np.float64)  # whole floats are accepted
    if mode == 3:
        return act.astype(np.int16)
    return act


def privacy_actions(env: BatchedCrossRealityPrivacy, rng: np.random.Generator) -> dict[str, Any]:
    B, M, r_max = env.B, env.M, env.r_max_deg
    shape = (B, M)
    radius = rng.uniform(0.0, r_max, shape)
    angle = rng.uniform(0.0, 2 * np.pi, shape)
    server = rng.integers(0, env.S, shape)
    mode = rng.integers(6)
    if mode == 0:  # the bounds, as float32 rounds them (absorbed, not refused)
        radius = np.full(shape, np.float32(r_max))
        angle = np.full(shape, np.float32(2 * np.pi))
    elif mode == 1:
        radius, angle, server = np.zeros(shape), np.zeros(shape), np.full(shape, env.S - 1)
    elif mode == 2:
        radius = np.where(rng.random(shape) < 0.5, 0.0, r_max)
        server = server.astype(np.float64)
    return {"radius_deg": radius, "angle_rad": angle, "server": server}


def twin_actions(env: BatchedTwinUpdate, rng: np.random.Generator) -> dict[str, Any]:
    act = env.random_actions(rng)
    mode = rng.integers(5)
    if mode == 0:
        return {k: np.sign(v) + (v == 0) for k, v in act.items()}  # ±1 everywhere
    if mode == 1:
        return {k: np.full_like(v, -1.0) for k, v in act.items()}
    if mode == 2:
        return {k: v.astype(np.float32) for k, v in act.items()}
    return act


# ------------------------------------------------------------------ invariants per paper
class PremigrationInvariants:
    """Paper A: queues in [0, L_max], UAVs inside the area with batteries that never grow."""

    def __init__(self, env: BatchedPreMigration) -> None:
        self.env = env
        self.energy = env.uav_energy_j.copy()

    def check(self, obs: Any, reward: Any, info: dict[str, Any]) -> None:
        env = self.env
        assert_within(obs, 0.0, 1.0, "A observation")
        assert obs.shape == (env.B, env.V, env.obs_dim)
        assert_finite(reward, "A reward")
        assert_finite(info, "A info")
        assert_within(info["rsu_load_frac"], 0.0, 1.0, "A RSU queue / L_max")
        assert_within(info["uav_load_frac"], 0.0, 1.0, "A UAV queue / L_max")
        assert_within(env.load / env.capacity_cycles, 0.0, 1.0, "A queues / L_max")
        assert np.all(info["dropped_cycles"] >= 0.0)
        for key in ("latency_s", "uplink_s", "premigration_s", "processing_s", "downlink_s"):
            assert np.all(info[key] >= 0.0), key
        assert np.all(info["latency_s"] >= info["processing_s"] - TOL)
        # the serving RSU as target processes the whole task there: α = 0
        assert np.isin(info["alpha"], [*env.alpha_levels, 0.0]).all()
        assert_within(info["serving_rsu"], 0, env.E - 1, "A serving RSU")
        area = env.area_m
        assert_within(info["uav_xy"] / area, 0.0, 1.0, "A UAV position / area")
        assert_within(env._vehicle_xy / area, 0.0, 1.0, "A vehicle position / area")
        energy = info["uav_energy_j"]
        assert np.all(energy >= 0.0) and np.all(energy <= env.uav_battery_j)
        assert np.all(energy <= self.energy), "A: a UAV battery grew"
        assert_within(info["uav_flight_s"], 0.0, env.slot_s, "A flight seconds")
        self.energy = energy.copy()

    def reset(self) -> None:
        self.energy = self.env.uav_energy_j.copy()


class RoutingInvariants:
    """Paper B: caches in [0, L_max], mask never empty with a satellite, positions inside."""

    def __init__(self, env: BatchedMigrationRouting) -> None:
        self.env = env
        self.done = np.zeros(env.B, dtype=bool)

    def check(self, obs: Any, reward: Any, info: dict[str, Any]) -> None:
        env = self.env
        assert_finite(obs, "B observation")
        assert_finite(reward, "B reward")
        assert_finite(info, "B info")
        assert obs["observation"].min() >= 0.0 and obs["state"].min() >= 0.0
        mask = obs["action_mask"]
        if env.has_sat:
            assert mask[..., env.sat].all(), "B: the satellite is masked"
            assert mask.any(axis=-1).all(), "B: an empty action mask with a satellite"
        assert_within(env.cache_bits / env.capacity_bits, 0.0, 1.0, "B caches / L_max")
        for key in ("latency_s", "uplink_s", "downlink_s", "compute_s", "migration_s", "load_mb"):
            assert np.all(info[key] >= 0.0), key
        assert np.isin(info["failure"], (0.0, 1.0)).all()
        assert_within(info["packet_loss_rate"], 0.0, 1.0, "B packet loss")
        assert np.all(info["workload_variance"] >= 0.0)
        assert_within(info["server"], -1, env.M - 1, "B host")
        area = env.area_m
        if env.U:
            assert_within(env._uav_xy / area, 0.0, 1.0, "B UAV position / area")
        assert_within(env._veh_xy[env.t] / area, 0.0, 1.0, "B vehicle position / area")


class PrivacyInvariants:
    """Paper C: entropies in [0, log2 |P|], a normalised posterior, AVs inside the area."""

    def __init__(self, env: BatchedCrossRealityPrivacy) -> None:
        self.env = env
        self.calls = 0

    def check(self, obs: Any, reward: Any, info: dict[str, Any]) -> None:
        env = self.env
        assert_within(obs, -1.0, 1.0, "C observation")
        assert_finite(reward, "C reward")
        assert_finite(info, "C info")
        P = env.adversary.n_candidates
        top = math.log2(P)
        for key in ("entropy_bits", "geo_i_entropy_bits", "migration_entropy_bits"):
            assert_within(info[key], 0.0, top, f"C {key}", tol=1e-9)
        assert_within(info["confidence"], 1.0 / P, 1.0, "C confidence", tol=1e-9)
        assert_within(info["included_angle_rad"], 0.0, math.pi, "C included angle")
        assert_within(info["qos_loss_norm"], 0.0, 1.0, "C normalised QoS loss", tol=1e-6)
        for key in ("latency_s", "uplink_s", "downlink_s", "backhaul_s", "migration_s"):
            assert np.all(info[key] >= 0.0), key
        assert np.all(info["latency_by_server_s"] >= 0.0)
        assert np.all(info["attacker_error_m"] >= 0.0)
        assert_within(info["connected"], 0, env.S - 1, "C connected server")
        assert_within(info["true_xy"] / env.area_m, 0.0, 1.0, "C AV position / area")
        self.calls += 1
        if self.calls % 25 == 1:  # the full posterior (not in info): sums to 1, same entropy
            view = env.adversary_view(
                info["true_xy"], info["perturbed_xy"], info["agent_server"], info["radius_deg"]
            )
            assert view.posterior.min() >= 0.0
            np.testing.assert_allclose(view.posterior.sum(axis=-1), 1.0, atol=1e-12)
            np.testing.assert_allclose(view.entropy_bits, posterior_entropy_bits(view.posterior))

    def reset(self) -> None:
        return None


class TwinInvariants:
    """Paper D: observations in [0, 1], steps within the budget, UAVs inside the area."""

    def __init__(self, env: BatchedTwinUpdate) -> None:
        self.env = env

    def check(self, obs: Any, reward: Any, info: dict[str, Any]) -> None:
        env = self.env
        for key in ("sensor", "uav", "state"):
            assert_within(obs[key], 0.0, 1.0, f"D observation {key}")
        assert_finite(reward, "D reward")
        assert_finite(info, "D info")
        steps = info["steps"]
        assert np.all(steps >= 0.0), "D: negative steps"
        assert np.all(steps.sum(axis=-1) <= env.budget * (1 + 1e-9)), "D: over the step budget"
        assert np.all(info["c3_over_budget"] == 0)
        assert_within(info["task_fidelity"], 0.0, env.f_max_range[1], "D fidelity")
        assert np.all(info["task_delay_s"] >= 0.0)
        area = np.array([env.width, env.height])
        assert_within(info["uav_xy"] / area, 0.0, 1.0, "D UAV position / area")
        assert_within(info["choice"], -1, env.U - 1, "D offload choice")
        assert np.all(info["served"] <= env.U * env.K_max)
        for key in ("c1_dropped", "c2_low_fidelity", "c4_late", "c5_border"):
            assert np.all(info[key] >= 0), key

    def reset(self) -> None:
        return None


PAPERS: dict[str, tuple[type, str, list[str], Callable[..., Any], type]] = {
    "A": (BatchedPreMigration, "paper-a-tiny", [], index_actions, PremigrationInvariants),
    "B": (BatchedMigrationRouting, "paper-b-tiny", [], index_actions, RoutingInvariants),
    "C": (BatchedCrossRealityPrivacy, "paper-c-synth", C_FAST, privacy_actions, PrivacyInvariants),
    "D": (BatchedTwinUpdate, "paper-d-tiny", [], twin_actions, TwinInvariants),
}


def fuzz(paper: str, overrides: list[str], B: int, copy_steps: int, seed: int = 0) -> int:
    """Step ``B`` copies with valid random/extreme actions, checking every invariant after
    every step, until ``copy_steps`` copy-steps ran; returns the copy-steps run."""
    cls, preset, base, actions, invariants = PAPERS[paper]
    env = cls(load_config(preset, [*base, *overrides]), B)
    rng = np.random.default_rng(seed)
    done = episode = 0
    while done < copy_steps:
        obs, info = env.reset(seed + 1000 * episode)
        assert_finite(obs, f"{paper} reset observation")
        assert_finite(info, f"{paper} reset info")
        check = invariants(env)
        ended = np.zeros(B, dtype=bool)
        for _ in range(env.horizon):
            live = int((~ended).sum())
            obs, reward, terminated, truncated, info = env.step(actions(env, rng))
            assert reward.shape[0] == B and terminated.shape == truncated.shape == (B,)
            assert np.all((terminated | truncated) >= ended), f"{paper}: a finished copy restarted"
            check.check(obs, reward, info)
            done += live
            ended = terminated | truncated
            if ended.all():
                break
        assert ended.all(), f"{paper}: copies still running after the horizon"
        episode += 1
    return done


# ------------------------------------------------------------------ 1. long valid fuzz runs
@pytest.mark.parametrize("paper", ["A", "B", "C", "D"])
def test_valid_random_and_extreme_actions_keep_every_invariant(paper: str) -> None:
    assert fuzz(paper, [], B_FUZZ, FUZZ_COPY_STEPS) >= FUZZ_COPY_STEPS


# ------------------------------------------------------------------ 2. extreme, valid configs
EXTREME: list[tuple[str, list[str]]] = [
    ("A", ["servers.rsu.count=1", "servers.rsu.grid_cols=1", "servers.uav.count=0"]),
    ("A", ["servers.rsu.count=1", "servers.rsu.grid_cols=1", "servers.uav.count=1"]),
    ("A", ["servers.uav.count=4", "vehicles.count=1"]),
    ("A", ["premigration.background_utilisation=0", "workload.mean_fraction=0"]),
    ("A", ["premigration.background_utilisation=5", "premigration.task_mb=1e6"]),
    ("A", ["premigration.alpha_levels=[1.0]", "servers.uav.battery_kj=1e-6"]),
    ("A", ["servers.rsu.bandwidth_mhz=1e-3", "servers.uav.bandwidth_mhz=1e-3"]),
    ("A", ["servers.rsu.capacity_mb=1e-6", "servers.uav.capacity_mb=1e-6", "horizon_slots=1"]),
    ("A", ["servers.uav.speed_mps=1e4", "premigration.uav_planner=random_walk"]),
    ("B", ["servers.sat.count=0"]),
    ("B", ["servers.rsu.count=1", "servers.uav.count=0", "servers.sat.count=0"]),
    ("B", ["servers.rsu.count=0", "servers.uav.count=0", "servers.sat.count=1"]),
    ("B", ["servers.rsu.count=1", "servers.uav.count=0", "vehicles.count=1"]),
    ("B", ["routing.generated_mbps=0", "routing.background_mb_per_vehicle=0"]),
    ("B", ["routing.generated_mbps=1e6", "routing.background_mb_per_vehicle=1e6"]),
    ("B", ["routing.zscore_scope=env", "routing.generated_mbps=0"]),
    ("B", ["routing.migration_bandwidth_mhz=1e-3", "servers.rsu.bandwidth_mhz=1e-3"]),
    ("B", ["routing.trip_fraction=[0.01,0.01]", "horizon_slots=1"]),
    ("B", ["servers.rsu.capacity_mb=1e-6", "servers.uav.capacity_mb=1e-6"]),
    ("B", ["routing.distance_scale_km=1e-6", "routing.zscore_scope=episode"]),
    ("C", ["servers.rsu.count=1", "vehicles.count=1"]),
    ("C", ["privacy.candidate_grid=1"]),
    ("C", ["privacy.upload_mb=[0,0]", "privacy.download_mb=[0,0]", "privacy.twin_mb=[0,0]"]),
    ("C", ["privacy.upload_mb=[1e6,1e6]", "privacy.twin_mb=[1e6,1e6]"]),
    ("C", ["privacy.cycles_per_bit=[0,0]", "privacy.backhaul_per_hop_s=[0,0]"]),
    ("C", ["privacy.r_max_deg=1e-9", "privacy.adversary_history_slots=0"]),
    ("C", ["privacy.r_max_deg=10"]),  # the adversary's lattice would need 133 GiB
    ("C", ["privacy.adversary_distance_m=1e-3", "privacy.sigma_floor_m=1e-6"]),
    ("C", ["privacy.observation=servers", "privacy.adversary_sigma=r_max"]),
    ("C", ["servers.rsu.bandwidth_mhz=1e-3", "servers.sat.uplink_mbps=1e-3"]),
    ("D", ["sensors.count=1", "servers.uav.count=1", "twin_update.max_tasks_per_uav=1"]),
    ("D", ["sensors.data_kb=[0,0]"]),
    ("D", ["sensors.data_kb=[1e9,1e9]", "twin_update.deadline_s=1e-9"]),
    ("D", ["twin_update.uav_speed_mps=[0,0]", "twin_update.fidelity_max=[0,1e-9]"]),
    ("D", ["twin_update.fidelity_shape=concave", "twin_update.delay_aggregate=max_per_uav"]),
    ("D", ["servers.uav.bandwidth_mhz=1e-6", "twin_update.step_budget=1"]),
    ("D", ["geography.width_m=1", "geography.height_m=1", "twin_update.z_max=[1,1]"]),
]


@pytest.mark.parametrize(
    ("paper", "overrides"), EXTREME, ids=[f"{p}-{'-'.join(o)}" for p, o in EXTREME]
)
def test_extreme_but_valid_configs_keep_every_invariant(paper: str, overrides: list[str]) -> None:
    horizon = ["horizon_slots=8"] if paper == "C" and "horizon_slots=1" not in overrides else []
    fuzz(paper, [*horizon, *overrides], B=4, copy_steps=1, seed=7)


DEGENERATE_D = [
    ("twin_update.steps_per_s=[0,0]", "steps_per_s"),  # was: NaN observations, inf delays
    ("twin_update.fidelity_max=[0,0]", "fidelity_max"),  # was: NaN observations
    ("twin_update.z_max=[0,0]", "z_max"),  # was: NaN observations
    ("twin_update.z_min=500", "z_min"),  # was: a ValueError from the first served task
]


@pytest.mark.parametrize(("override", "field"), DEGENERATE_D)
def test_degenerate_paper_d_ranges_are_refused_at_load(override: str, field: str) -> None:
    with pytest.raises(ConfigError, match=field) as err:
        load_config("paper-d-tiny", [override])
    assert "twin_update" in str(err.value)


# ------------------------------------------------------------------ 3. invalid actions
class Lockstep:
    """Two envs reset alike: ``probe`` is offered refused actions, ``twin`` never is; after
    each refusal both take the same valid step and must agree (nothing changed)."""

    def __init__(self, make: Callable[[], Any], reset: Callable[[Any, int], Any]) -> None:
        self.probe, self.twin = make(), make()
        self._reset = reset

    def ready(self, seed: int) -> Any:
        """Both envs freshly reset with ``seed`` (so every example starts alike)."""
        self._reset(self.probe, seed)
        self._reset(self.twin, seed)
        return self.probe

    def refused(self, action: Any, *names: str) -> None:
        with pytest.raises((ValueError, TypeError)) as err:
            self.probe.step(action)
        assert_clear(err.value, *names)

    def step_both(self, action: Any) -> None:
        assert_same_step(self.probe.step(action), self.twin.step(action))


def _bad_scalar(bools: bool = True) -> st.SearchStrategy[Any]:
    """Values no action slot accepts: non-finite, fractional, bool, text, None, complex.

    ``bools=False`` leaves out bools: inside a list of numbers numpy reads them as 0 and 1
    (an array of bools is refused)."""
    return st.one_of(
        st.sampled_from([math.nan, math.inf, -math.inf, 0.5, -0.25, 1e300]),
        st.booleans() if bools else st.just(math.nan),
        st.text(max_size=3),
        st.none(),
        st.complex_numbers(allow_nan=False, allow_infinity=False, min_magnitude=1e-3),
        st.lists(st.integers(0, 2), min_size=3, max_size=4),  # one value too many
    )


BAD_INDEX = st.one_of(st.integers(max_value=-1), st.integers(min_value=10**6), _bad_scalar(False))


def _with_bad_cell(
    shape: tuple[int, ...], fill: Any, value: Any, where: tuple[int, ...]
) -> list[Any]:
    """A nested list of ``shape`` holding ``fill`` everywhere but ``value`` at ``where``."""
    grid = np.full(shape, fill, dtype=object)
    grid[where] = value
    return grid.tolist()


@pytest.fixture(scope="module")
def index_pairs() -> dict[str, Lockstep]:
    a_cfg = load_config("paper-a-tiny", ["horizon_slots=20", "vehicles.count=2"])
    b_cfg = load_config("paper-b-tiny")
    return {
        "A": Lockstep(lambda: BatchedPreMigration(a_cfg, 3), lambda e, s: e.reset(s)),
        "B": Lockstep(lambda: BatchedMigrationRouting(b_cfg, 3), lambda e, s: e.reset(s)),
    }


@pytest.mark.parametrize("paper", ["A", "B"])
@FUZZ
@given(data=st.data())
def test_batched_index_envs_refuse_bad_actions_and_stay_unchanged(
    index_pairs: dict[str, Lockstep], paper: str, data: st.DataObject
) -> None:
    pair = index_pairs[paper]
    env = pair.ready(data.draw(st.integers(0, 9)))
    B, V, n = env.B, env.V, env.n_actions
    kind = data.draw(st.sampled_from(["cell", "shape", "whole"]))
    if kind == "cell":
        where = (data.draw(st.integers(0, B - 1)), data.draw(st.integers(0, V - 1)))
        bad = data.draw(st.one_of(BAD_INDEX, st.just(n)))
        action: Any = _with_bad_cell((B, V), 0, bad, where)
    elif kind == "shape":
        shape = data.draw(
            st.lists(st.integers(0, 4), min_size=0, max_size=3).filter(lambda s: tuple(s) != (B, V))
        )
        action = np.zeros(shape, dtype=np.int64)
    else:
        action = data.draw(st.one_of(_bad_scalar(), st.just({"x": 1}), st.just(object())))
    pair.refused(action, "action")
    pair.step_both(index_actions(env, np.random.default_rng(data.draw(st.integers(0, 99)))))


@pytest.fixture(scope="module")
def privacy_pair() -> Lockstep:
    cfg = load_config("paper-c-synth", [*C_FAST, "vehicles.count=2"])
    return Lockstep(lambda: BatchedCrossRealityPrivacy(cfg, 2), lambda e, s: e.reset(s))


@FUZZ
@given(data=st.data())
def test_batched_privacy_env_refuses_bad_actions_and_stays_unchanged(
    privacy_pair: Lockstep, data: st.DataObject
) -> None:
    env = privacy_pair.ready(data.draw(st.integers(0, 9)))
    good = privacy_actions(env, np.random.default_rng(data.draw(st.integers(0, 99))))
    key = data.draw(st.sampled_from(["radius_deg", "angle_rad", "server"]))
    kind = data.draw(st.sampled_from(["cell", "shape", "keys", "whole"]))
    action: Any = {k: np.asarray(v).tolist() for k, v in good.items()}
    if kind == "cell":
        too_big = {"radius_deg": env.r_max_deg * 1.01, "angle_rad": 7.0, "server": env.S}[key]
        bad = data.draw(st.one_of(_bad_scalar(False), st.just(too_big), st.just(-1)))
        if key == "angle_rad" and bad in (0.5, -0.25 + 2 * math.pi):
            bad = -0.25
        if key == "radius_deg" and isinstance(bad, float) and 0 <= bad <= env.r_max_deg:
            bad = -bad - 1e-3
        where = (data.draw(st.integers(0, env.B - 1)), data.draw(st.integers(0, env.M - 1)))
        action[key] = _with_bad_cell((env.B, env.M), 0, bad, where)
    elif kind == "shape":
        shape = data.draw(
            st.lists(st.integers(0, 3), max_size=3).filter(lambda s: tuple(s) != (env.B, env.M))
        )
        action[key] = np.zeros(shape)
    elif kind == "keys":
        extra = data.draw(st.booleans())
        action = (
            {**action, "speed": 1.0} if extra else {k: v for k, v in action.items() if k != key}
        )
    else:
        action = data.draw(st.one_of(_bad_scalar(), st.just([0.0, 0.0, 0])))
    privacy_pair.refused(action, "action")
    privacy_pair.step_both(good)


@pytest.fixture(scope="module")
def twin_pair() -> Lockstep:
    cfg = load_config("paper-d-tiny", ["sensors.count=3"])
    return Lockstep(lambda: BatchedTwinUpdate(cfg, 2), lambda e, s: e.reset(s))


@FUZZ
@given(data=st.data())
def test_batched_twin_env_refuses_bad_actions_and_stays_unchanged(
    twin_pair: Lockstep, data: st.DataObject
) -> None:
    env = twin_pair.ready(data.draw(st.integers(0, 9)))
    good = env.random_actions(np.random.default_rng(data.draw(st.integers(0, 99))))
    part = data.draw(st.sampled_from(["sensor", "uav"]))
    kind = data.draw(st.sampled_from(["cell", "shape", "keys", "whole"]))
    action: Any = {k: v.tolist() for k, v in good.items()}
    shape = good[part].shape
    if kind == "cell":
        bad = data.draw(st.one_of(_bad_scalar(False), st.floats(1.01, 1e9), st.floats(-1e9, -1.01)))
        if isinstance(bad, float) and abs(bad) <= 1.0:
            bad = 2.0
        where = tuple(data.draw(st.integers(0, s - 1)) for s in shape)
        action[part] = _with_bad_cell(shape, 0.0, bad, where)
    elif kind == "shape":
        new = data.draw(st.lists(st.integers(0, 4), max_size=4).filter(lambda s: tuple(s) != shape))
        action[part] = np.zeros(new)
    elif kind == "keys":
        action = {k: v for k, v in action.items() if k != part}
    else:
        action = data.draw(st.one_of(_bad_scalar(), st.just([0.0, 0.0])))
    twin_pair.refused(action, "action")
    twin_pair.step_both(good)


# ------------------------------------------------------------------ 4. the single-copy views
def _gym_reset(env: Any, seed: int) -> Any:
    return env.reset(seed=seed)


@pytest.fixture(scope="module")
def view_pairs() -> dict[str, Lockstep]:
    return {
        "A": Lockstep(
            lambda: PreMigrationEnv("paper-a-tiny", overrides=["vehicles.count=2"]), _gym_reset
        ),
        "C": Lockstep(
            lambda: CrossRealityPrivacyEnv(overrides=[*C_FAST, "vehicles.count=2"]), _gym_reset
        ),
        "B": Lockstep(lambda: MigrationRoutingEnv("paper-b-tiny"), _gym_reset),
        "D": Lockstep(lambda: TwinUpdateEnv("paper-d-tiny", ["sensors.count=2"]), _gym_reset),
    }


def _valid_view_action(paper: str, env: Any, rng: np.random.Generator) -> Any:
    if paper in "AC":
        space = env.action_space
        space.seed(int(rng.integers(1 << 30)))
        return space.sample()
    out = {}
    for agent in env.agents:
        space = env.action_space(agent)
        space.seed(int(rng.integers(1 << 30)))
        out[agent] = space.sample()
    return out


@pytest.mark.parametrize("paper", ["A", "B", "C", "D"])
@FUZZ
@given(data=st.data())
def test_views_refuse_bad_actions_and_stay_unchanged(
    view_pairs: dict[str, Lockstep], paper: str, data: st.DataObject
) -> None:
    pair = view_pairs[paper]
    env = pair.ready(data.draw(st.integers(0, 9)))
    rng = np.random.default_rng(data.draw(st.integers(0, 99)))
    good = _valid_view_action(paper, env, rng)
    kind = data.draw(st.sampled_from(["value", "shape", "agents", "whole"]))
    names: tuple[str, ...] = ("action",)
    if paper == "A":
        n = env.batched.n_actions
        if kind in ("value", "agents"):
            bad = data.draw(st.one_of(BAD_INDEX, st.just(n)))
            action: Any = _with_bad_cell((2,), 0, bad, (data.draw(st.integers(0, 1)),))
        elif kind == "shape":
            action = np.zeros(data.draw(st.sampled_from([(3,), (1, 2), (2, 2), (0,)])), dtype=int)
        else:
            action = data.draw(st.one_of(_bad_scalar(), st.just({"x": 1})))
    elif paper == "C":
        key = data.draw(st.sampled_from(sorted(good)))
        action = {k: np.asarray(v).tolist() for k, v in good.items()}
        if kind == "value":
            action[key] = _with_bad_cell((2,), 0, data.draw(_bad_scalar(False)), (1,))
            if key != "server" and action[key][1] in (0.5, -0.25):
                action[key][1] = -1.0
        elif kind == "shape":
            action[key] = np.zeros(data.draw(st.sampled_from([(3,), (1, 3), (2, 2), ()])))
        elif kind == "agents":
            action = {k: v for k, v in action.items() if k != key}
        else:
            action = data.draw(st.one_of(_bad_scalar(), st.just([0.0, 0.0, 0])))
    else:
        agent = data.draw(st.sampled_from(sorted(good)))
        action = dict(good)
        names = (agent, "agent", "action")
        if kind == "value":
            if paper == "B":
                bad = data.draw(st.one_of(BAD_INDEX, st.just(env.batched.M)))
            else:
                size = good[agent].size
                value = data.draw(st.one_of(_bad_scalar(), st.floats(1.01, 1e9)))
                bad = value if isinstance(value, list) or size == 1 else [value] * size
                if isinstance(value, float) and abs(value) <= 1.0:
                    bad = np.full(size, 5.0).tolist()
            action[agent] = bad
        elif kind == "shape":
            action[agent] = np.zeros(data.draw(st.sampled_from([(0,), (2, 2), (40,)])))
        elif kind == "agents":
            drop = data.draw(st.booleans())
            action = {k: v for k, v in good.items() if k != agent} if drop else {**good, "ghost": 0}
        else:
            action = data.draw(st.one_of(_bad_scalar(), st.just([0, 1])))
            names = ("action",)
    pair.refused(action, *names)
    pair.step_both(good)


def test_premigration_view_passes_gymnasium_check_env() -> None:
    # (paper C's view is checked in tests/envs; B's and D's by parallel_api_test there)
    check_env(PreMigrationEnv("paper-a-tiny"), skip_render_check=True)
    check_env(
        PreMigrationEnv("paper-a-tiny", overrides=["vehicles.count=3"]), skip_render_check=True
    )


def test_stepping_past_the_horizon_is_an_error_for_every_batched_env() -> None:
    for paper, (cls, preset, base, actions, _) in PAPERS.items():
        env = cls(load_config(preset, [*base, "horizon_slots=2"]), 2)
        env.reset(0)
        rng = np.random.default_rng(0)
        for _ in range(2):
            env.step(actions(env, rng))
        if paper == "B":  # finished copies stay finished: frozen, zero rewards
            _, reward, term, trunc, _ = env.step(actions(env, rng))
            assert (term | trunc).all() and not reward.any()
            continue
        with pytest.raises(RuntimeError, match=r"call reset\(\)"):
            env.step(actions(env, rng))
