"""vtwin.rewards: built-ins equal the envs' rewards by hand, user rewards load and are checked,
weights come from config, the z-score scopes behave."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pytest

from vtwin.config import ConfigError, RewardConfig, load_config
from vtwin.envs.premigration import REWARD_TERMS as A_TERMS
from vtwin.envs.premigration import BatchedPreMigration
from vtwin.envs.routing import BatchedMigrationRouting
from vtwin.rewards import (
    FunctionReward,
    PaperAReward,
    PaperBReward,
    Reward,
    load_reward,
    make_reward,
    validate_reward,
)

HERE = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def _user_module_on_path() -> Iterator[None]:
    sys.path.insert(0, str(HERE))
    yield
    sys.path.remove(str(HERE))


def paper_a(*overrides: str, batch: int = 2, **kwargs: object) -> BatchedPreMigration:
    cfg = load_config("paper-a-tiny", ["horizon_slots=6", *overrides])
    return BatchedPreMigration(cfg, batch, **kwargs)  # type: ignore[arg-type]


# ------------------------------------------------------------------ built-ins by hand


def test_paper_a_reward_equals_hand_computation_in_the_env() -> None:
    env = paper_a("reward.weights.latency=2.5", "reward.weights.overload=4.0")
    assert isinstance(env.reward, PaperAReward) and isinstance(env.reward, Reward)
    env.reset(0)
    rng = np.random.default_rng(0)
    for _ in range(env.horizon):
        _, reward, _, _, info = env.step(rng.integers(0, env.n_actions, (env.B, env.V)))
        expected = -2.5 * info["latency_s"] - 4.0 * info["violated"]
        np.testing.assert_array_equal(reward, expected)
        np.testing.assert_array_equal(
            info["reward_components"]["latency"], -2.5 * info["latency_s"]
        )
        np.testing.assert_array_equal(
            info["reward_components"]["overload"], -4.0 * info["violated"]
        )


def test_paper_b_reward_equals_eq_22_by_hand() -> None:
    reward = PaperBReward({"latency": 2.0, "load": 0.5, "failure": 3.0}, "episode")
    reward.reset(2)
    active = np.array([[True, True, False], [True, False, False]])
    lat = np.array([[1.0, 3.0, 9.0], [2.0, 7.0, 7.0]])
    load = np.array([[10.0, 30.0, 0.0], [5.0, 1.0, 1.0]])
    fail = np.array([[0.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    r, comp = reward({"latency_s": lat, "load_mb": load, "failure": fail, "active": active})
    # copy 0: two values each, z = ±1; copy 1: one value, std 0 → floor, z = 0
    np.testing.assert_allclose(comp["latency"], [[-2.0, 2.0, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(comp["load"], [[-0.5, 0.5, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(comp["failure"], [[0.0, 3.0, 0.0], [3.0, 0.0, 0.0]])
    np.testing.assert_allclose(r, -(comp["latency"] + comp["load"] + comp["failure"]))
    assert np.all(r[~active] == 0.0)


def test_paper_b_reference_scope_uses_the_fixed_moments() -> None:
    ref = {"latency": (2.0, 4.0), "load": (10.0, 0.0)}
    reward = PaperBReward(None, "reference", ref)
    reward.reset(1)
    terms = {
        "latency_s": np.array([[6.0, 2.0]]),
        "load_mb": np.array([[10.0, 11.0]]),
        "failure": np.zeros((1, 2)),
        "active": np.array([[True, True]]),
    }
    _, comp = reward(terms)
    np.testing.assert_allclose(comp["latency"], [[1.0, 0.0]])
    np.testing.assert_allclose(comp["load"], [[0.0, 1e6]])  # std 0: divided by the floor
    assert reward.info()["zscore"]["latency_std"].tolist() == [4.0]


def test_zscore_scopes_episode_restarts_env_keeps() -> None:
    terms = {
        "latency_s": np.array([[1.0, 3.0]]),
        "load_mb": np.array([[1.0, 1.0]]),
        "failure": np.zeros((1, 2)),
        "active": np.ones((1, 2), dtype=bool),
    }
    episode, env = PaperBReward(scope="episode"), PaperBReward(scope="env")
    for reward in (episode, env):
        reward.reset(1)
        reward(terms)
        reward.reset(1)
    assert episode.moments("latency")[0].tolist() == [0.0]
    assert env.moments("latency")[0].tolist() == [2.0] and env.moments("latency")[1] == [1.0]
    with pytest.raises(ValueError, match="needs reference moments"):
        PaperBReward(scope="reference")
    with pytest.raises(ValueError, match="scope = 'year'"):
        PaperBReward(scope="year")  # type: ignore[arg-type]


# ------------------------------------------------------------------ weights in config


def test_weights_config_defaults_names_and_errors() -> None:
    a = load_config("paper-a-tiny", ["reward.weights.overload=3"])
    assert a.reward.kind == "paper-a" and a.reward.weights == {"latency": 1.0, "overload": 3.0}
    assert load_config("paper-b-tiny").reward.weights == {
        "latency": 1.0,
        "load": 1.0,
        "failure": 1.0,
    }
    with pytest.raises(
        ConfigError, match=r"unknown weight\(s\) load .*valid weights: latency, overload"
    ):
        load_config("paper-a-tiny", ["reward.weights.load=1"])
    with pytest.raises(ConfigError, match=r"reward.kind = 'no module'"):
        load_config("paper-a-tiny", ["reward.kind=no module"])
    with pytest.raises(ValueError, match=r"unknown weight\(s\) speed .*valid weights: failure"):
        PaperBReward({"speed": 1.0})


def test_a_builtin_reward_on_the_wrong_env_names_the_missing_terms() -> None:
    cfg = load_config("paper-a-tiny")
    cfg = cfg.model_copy(update={"reward": RewardConfig(kind="paper-b")})
    with pytest.raises(ValueError, match=r"needs term\(s\) load_mb, failure, active"):
        BatchedPreMigration(cfg, 1)


# ------------------------------------------------------------------ user rewards


def test_user_reward_by_path_with_weights() -> None:
    env = paper_a("reward.kind=user_rewards:weighted_latency", "reward.weights.scale=2.0")
    assert isinstance(env.reward, FunctionReward)
    env.reset(1)
    _, reward, _, _, info = env.step(np.zeros((env.B, env.V), dtype=int))
    np.testing.assert_array_equal(reward, -2.0 * info["latency_s"])
    assert set(info["reward_components"]) == {"latency"}


def test_user_reward_by_callable_in_both_envs() -> None:
    def fn(terms: Mapping[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        r = -np.asarray(terms["latency_s"]) * np.asarray(terms["active"])
        return r, {"latency": r}

    routing = BatchedMigrationRouting(load_config("paper-b-tiny"), 2, reward=fn)
    routing.reset(0)
    _, reward, _, _, info = routing.step(np.zeros((2, routing.V), dtype=int))
    np.testing.assert_array_equal(reward, -info["latency_s"])
    assert "zscore" not in info  # only the eq. (22) reward adds its moments
    single = paper_a(reward=load_reward("user_rewards:negative_latency"))
    single.reset(0)
    _, reward, _, _, info = single.step(np.zeros((2, 1), dtype=int))
    np.testing.assert_array_equal(reward, -info["latency_s"])


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("user_rewards:wrong_shape", r"the reward has shape \(2,\), not \(2, 1\); expected"),
        ("user_rewards:with_nan", r"the reward has non-finite values .*; expected"),
        ("user_rewards:no_arguments", r"signature \(\) .*does not fit; expected reward\(terms\)"),
        ("user_rewards:NOT_CALLABLE", r"'NOT_CALLABLE' is a int, not a callable"),
        ("user_rewards:missing", r"module 'user_rewards' has no attribute 'missing'"),
        ("no_such_module.sub:fn", r"no module named 'no_such_module'"),
    ],
)
def test_bad_user_rewards_are_one_line_errors(kind: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as err:
        paper_a(f"reward.kind={kind}")
    text = str(err.value)
    assert "\n" not in text and text.startswith(f"reward.kind = '{kind}'")


def test_bad_callable_is_named_and_weights_go_only_where_accepted() -> None:
    def bad(terms: Mapping[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return np.zeros((2, 1)), {"latency": np.zeros(3)}

    with pytest.raises(ValueError, match=r"callable '.*bad': component 'latency' has shape"):
        paper_a(reward=bad)
    env = paper_a("reward.kind=user_rewards:negative_latency", "reward.weights.scale=2.0")
    assert env.reward._kwargs == {}  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match=r"components are a list, not a dict"):
        validate_reward(lambda t: (np.zeros((1, 1)), []), A_TERMS, 1, 1)


def test_a_reward_object_keeps_its_state_through_validation() -> None:
    class Counting:
        names = ("latency_s",)
        components = ("latency",)

        def __init__(self) -> None:
            self.calls = 0

        def reset(self, B: int) -> None:
            self.calls = 0

        def __call__(self, terms: Mapping[str, np.ndarray]):  # type: ignore[no-untyped-def]
            self.calls += 1
            r = -np.asarray(terms["latency_s"])
            return r, {"latency": r}

    obj = Counting()
    obj.calls = 7
    checked = validate_reward(obj, A_TERMS, 2, 1)
    assert checked is obj and obj.calls == 7  # the trial ran on a copy
    env = paper_a(reward=obj)
    env.reset(0)
    env.step(np.zeros((2, 1), dtype=int))
    assert obj.calls == 1


def test_make_reward_needs_a_kind_when_none_is_set() -> None:
    from vtwin.config import RewardConfig

    config = load_config("paper-d").model_copy(update={"reward": RewardConfig()})
    with pytest.raises(ValueError, match=r"paper D has no built-in reward; set reward.kind"):
        make_reward(config, A_TERMS, 1, 1)


def test_paper_d_reward_is_utility_minus_penalties() -> None:
    from vtwin.rewards import PaperDReward

    terms = {
        "fidelity_sum": np.array([[300.0], [0.0]]),
        "delay_s": np.array([[12.5], [0.0]]),
        "violations": np.array([[2.0], [1.0]]),
    }
    reward, parts = PaperDReward({"violation": 7.0})(terms)
    assert reward[:, 0].tolist() == [300.0 - 12.5 - 14.0, -7.0]
    assert set(parts) == {"fidelity", "delay", "violation"}
    assert np.array_equal(sum(parts.values()), reward)


def test_paper_c_rewards_are_eq_20_and_eq_21() -> None:
    from vtwin.rewards import PaperCLLMReward, PaperCReward

    rng = np.random.default_rng(0)
    terms = {
        "entropy_bits": rng.uniform(0, 6, (2, 5)),
        "latency_s": rng.uniform(1, 60, (2, 5)),
        "qos_loss": rng.uniform(0, 0.1, (2, 5)),
        "qos_loss_norm": rng.uniform(0, 1, (2, 5)),
        "server_distance_km": rng.uniform(0, 10, (2, 5)),
        "included_angle_rad": rng.uniform(0, np.pi, (2, 5)),
    }
    manual, parts = PaperCReward()(terms)
    util = terms["entropy_bits"] - 0.02 * terms["latency_s"] - 0.2 * terms["qos_loss"]
    np.testing.assert_allclose(manual, util, rtol=1e-12)
    assert set(parts) == {"entropy", "latency", "qos"}
    llm, parts = PaperCLLMReward({"angle": 0.0})(terms)
    expected = (
        terms["entropy_bits"]
        - 0.5 * np.log1p(terms["latency_s"])
        - 0.2 * terms["qos_loss_norm"]
        - 0.1 * np.log1p(terms["server_distance_km"])
    )
    np.testing.assert_allclose(llm, expected, rtol=1e-12)
    np.testing.assert_array_equal(parts["angle"], 0.0)
    cfg = load_config("paper-c-synth")
    assert cfg.reward.kind == "paper-c"  # the paper's own reward by default
    assert isinstance(make_reward(cfg, terms, 2, 5), PaperCReward)
    with pytest.raises(ValueError, match="unknown weight"):
        load_config("paper-c-synth", ["reward.kind=paper-c-llm", "reward.weights.speed=1"])
