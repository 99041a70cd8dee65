"""Multi-agent training loop and baselines: Greedy / Random, history, metrics, determinism."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "agents"))
from fake_routing import FakeRouting

from vtwin.agents.marl_heuristics import GreedyRouting, RandomRouting
from vtwin.training import algorithm_names, evaluate_policy, make_agent, train_agent
from vtwin.training.metrics import EpisodeMetrics

TINY_PPO = {"hidden": [16, 16], "critic_hidden": [16, 16], "rollout_slots": 8, "epochs": 2}
TINY_SAC = {"hidden": [16, 16], "batch_size": 32, "learning_starts": 100}


def _obs(dist: list[list[float]], mask: list[list[bool]]) -> dict[str, np.ndarray]:
    d = np.array(dist, dtype=np.float32)[None]  # one copy, V vehicles, M − 1 distances
    V = d.shape[1]
    extra = np.full((1, V, 3), 0.01, dtype=np.float32)  # other features must not matter
    return {
        "observation": np.concatenate([d, extra], axis=-1),
        "action_mask": np.array(mask, dtype=bool)[None],
        "state": np.zeros((1, 4), dtype=np.float32),
        "active": np.ones((1, V), dtype=bool),
    }


def test_greedy_takes_the_nearest_allowed_ground_server_else_the_satellite() -> None:
    obs = _obs(
        [[0.5, 0.1, 0.3], [0.5, 0.1, 0.3], [0.2, 0.4, 0.6]],
        [[1, 1, 1, 1], [1, 0, 1, 1], [0, 0, 0, 1]],
    )
    agent = GreedyRouting(3, 4, epsilon=0.0)
    np.testing.assert_array_equal(agent.act(obs), [[1, 2, 3]])
    np.testing.assert_array_equal(agent.act(obs, deterministic=True), [[1, 2, 3]])


def test_greedy_explores_with_probability_epsilon_and_random_is_uniform() -> None:
    rng = np.random.default_rng(0)
    B, V, M = 2000, 5, 6
    obs = {
        "observation": rng.random((B, V, M - 1 + 3)).astype(np.float32),
        "action_mask": np.ones((B, V, M), dtype=bool),
        "state": np.zeros((B, 1), dtype=np.float32),
        "active": np.ones((B, V), dtype=bool),
    }
    greedy = GreedyRouting(V, M, seed=1)
    off = (greedy.act(obs) != greedy.greedy(obs)).mean()
    assert off == pytest.approx(0.1 * (M - 1) / M, abs=0.01)  # a random pick may hit greedy's
    obs["action_mask"][..., :3] = False  # Random ignores the mask
    counts = np.bincount(RandomRouting(V, M, seed=2).act(obs).ravel(), minlength=M) / (B * V)
    np.testing.assert_allclose(counts, 1 / M, atol=0.01)
    r1, r2 = RandomRouting(V, M, seed=3), RandomRouting(V, M, seed=4)
    r2.restore(r1.checkpoint())
    np.testing.assert_array_equal(r1.act(obs), r2.act(obs))
    with pytest.raises(ValueError, match="epsilon"):
        GreedyRouting(V, M, epsilon=1.5)


def test_greedy_is_sane_on_the_fake_env() -> None:
    env = FakeRouting()
    res = {
        name: evaluate_policy(make_agent(algo, env, params=p), env, seed=5, episodes=3)
        for name, algo, p in [
            ("pure", "greedy", {"epsilon": 0.0}),
            ("greedy", "greedy", None),
            ("random", "random", None),
        ]
    }
    assert res["pure"]["infeasible_share"] == 0.0 and res["pure"]["packet_loss"] == 0.0
    assert 0.0 < res["greedy"]["infeasible_share"] < 0.1
    assert res["random"]["infeasible_share"] > 0.3
    assert (
        res["pure"]["reward_per_step"]
        > res["greedy"]["reward_per_step"]
        > res["random"]["reward_per_step"] + 1.0
    )
    assert res["pure"]["latency_s"] < res["random"]["latency_s"]


def test_evaluate_marl_metrics_match_a_hand_loop() -> None:
    env = FakeRouting(B=3, V=2)
    got = evaluate_policy(RandomRouting(2, env.M, seed=0), env, seed=11, episodes=2)
    agent = RandomRouting(2, env.M, seed=0)
    rew, lat, fail, inf, var, q_v, returns = [], [], [], [], [], [], []
    for ep in range(2):
        obs, _ = env.reset([11 + ep * 3 + b for b in range(3)])
        fails, slots, ret = np.zeros((3, 2)), np.zeros((3, 2)), np.zeros((3, 2))
        running, ep_var = np.ones(3, dtype=bool), []
        while running.any():
            nxt, r, term, trunc, info = env.step(agent.act(obs))
            act = obs["active"]
            rew += list(r[act])
            lat += list(info["latency_s"][act])
            fail += list(info["failure"][act])
            inf += list(info["infeasible"][act])
            ep_var += list(info["workload_variance"][running])
            fails += info["failure"] * act
            slots += act
            ret += r
            running &= ~(term | trunc)
            obs = nxt
        q_v += list((fails / slots).ravel())  # eq. (15) per vehicle (all drove here)
        returns.append(ret.mean())
        var.append(np.mean(ep_var))
    assert got["episodes"] == 2 and got["agent_steps"] == len(rew)
    assert got["reward_per_step"] == pytest.approx(np.mean(rew))
    assert got["latency_s"] == pytest.approx(np.mean(lat))
    ok = np.asarray(fail) == 0
    assert got["latency_ok_s"] == pytest.approx(np.mean(np.asarray(lat)[ok]))
    assert got["packet_loss"] == pytest.approx(np.mean(fail))
    assert got["infeasible_share"] == pytest.approx(np.mean(inf))
    assert got["workload_variance"] == pytest.approx(np.mean(var))
    assert got["packet_loss_per_vehicle"] == pytest.approx(np.mean(q_v))
    assert got["return"] == pytest.approx(np.mean(returns))


@pytest.mark.parametrize("algo", algorithm_names("multi_agent"))
def test_every_algo_trains_and_writes_one_row_per_episode(algo: str) -> None:
    params = {"dm_mappo": TINY_PPO, "mappo": TINY_PPO, "masac": TINY_SAC}.get(algo)
    calls: list[tuple[int, int]] = []
    rows: list[dict[str, float]] = []
    agent, hist = train_agent(
        FakeRouting,
        algo,
        600,
        seed=0,
        params=params,
        progress=lambda d, t: calls.append((d, t)),
        on_episode=lambda row: rows.append(dict(row)),
    )
    per_episode = FakeRouting().B * FakeRouting().V * FakeRouting().horizon  # 288
    assert list(hist["episode"]) == [1, 2, 3]
    assert list(hist["steps"]) == [per_episode, 2 * per_episode, 3 * per_episode]
    assert calls[-1] == (600, 600) and len(calls) == 3
    # on_episode sees each episode's row as it ends: the live return of `vtwin train`'s bar
    assert [r["return"] for r in rows] == pytest.approx(list(hist["return"]))
    for col in ("reward_per_step", "latency_s", "packet_loss", "workload_variance", "wall_s"):
        assert hist[col].notna().all()
    if algo in ("dm_mappo", "mappo"):
        assert hist["policy_loss"].notna().any()
    if algo == "masac":
        assert hist["critic_loss"].notna().any()
    res = evaluate_policy(agent, FakeRouting(), seed=1)
    assert res["agent_steps"] > 0 and res["latency_s"] > 0


def _drop_wall(h: pd.DataFrame) -> pd.DataFrame:
    return h.drop(columns=["wall_s"])


@pytest.mark.parametrize(("algo", "params"), [("dm_mappo", TINY_PPO), ("masac", TINY_SAC)])
def test_training_is_deterministic_per_seed(algo: str, params: dict[str, object]) -> None:
    a, ha = train_agent(FakeRouting(), algo, 800, seed=3, params=params, device="cpu")
    b, hb = train_agent(FakeRouting(), algo, 800, seed=3, params=params, device="cpu")
    c, hc = train_agent(FakeRouting(), algo, 800, seed=4, params=params, device="cpu")
    pd.testing.assert_frame_equal(_drop_wall(ha), _drop_wall(hb))
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=0, atol=0)
    assert not _drop_wall(ha).equals(_drop_wall(hc))
    assert any(
        not torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters(), strict=True)
    )


def test_parameters_are_checked() -> None:
    env = FakeRouting()
    with pytest.raises(ValueError, match=r"unknown MAPPOConfig parameter\(s\) \['lr'\]; valid"):
        make_agent("dm_mappo", env, params={"lr": 1e-3})
    with pytest.raises(ValueError, match="fixes use_mask"):
        make_agent("mappo", env, params={"use_mask": True})
    with pytest.raises(ValueError, match="unknown MASACConfig"):
        make_agent("masac", env, params={"clip": 0.2})
    with pytest.raises(ValueError, match="valid: epsilon"):
        make_agent("greedy", env, params={"eps": 0.2})
    with pytest.raises(ValueError, match="no parameters"):
        make_agent("random", env, params={"seed": 1})
    with pytest.raises(ValueError, match="unknown algo 'qmix'"):
        make_agent("qmix", env)
    assert make_agent("mappo", env).config.use_mask is False
    assert make_agent("dm_mappo", env, params={"hidden": [8]}).config.hidden == (8,)


def test_latency_without_failure_is_nan_when_every_step_failed() -> None:
    stats = EpisodeMetrics(1, 2, FakeRouting.episode_metrics)
    info = {
        "failure": np.ones((1, 2)),
        "latency_s": np.full((1, 2), 3.0),
        "infeasible": np.zeros((1, 2)),
        "workload_variance": np.zeros(1),
    }
    stats.add(np.ones((1, 2), dtype=bool), np.ones(1, dtype=bool), np.zeros((1, 2)), info)
    summary = stats.summary()
    assert np.isnan(summary["latency_ok_s"]) and summary["latency_s"] == 3.0


@pytest.mark.parametrize(("algo", "params"), [("dm_mappo", TINY_PPO), ("masac", TINY_SAC)])
def test_resumed_run_equals_uninterrupted_run(
    tmp_path: Path, algo: str, params: dict[str, object]
) -> None:
    kw: dict[str, Any] = {"seed": 5, "params": params, "device": "cpu"}
    straight, h_straight = train_agent(FakeRouting, algo, 1100, out_dir=tmp_path / "a", **kw)
    # interrupted after two episodes (MAPPO's rollout is then part full and was flushed)
    _, h_short = train_agent(FakeRouting, algo, 500, out_dir=tmp_path / "b", **kw)
    assert len(h_short) == 2
    resumed, h_resumed = train_agent(FakeRouting, algo, 1100, out_dir=tmp_path / "b", **kw)
    pd.testing.assert_frame_equal(_drop_wall(h_straight), _drop_wall(h_resumed))
    for pa, pb in zip(straight.parameters(), resumed.parameters(), strict=True):  # type: ignore[attr-defined]
        torch.testing.assert_close(pa, pb, rtol=0, atol=0)
    # the folder's metrics and trained agent are the run's; a finished run resumes to itself
    stored = pd.read_csv(tmp_path / "b" / "metrics.csv")
    assert list(stored["episode"]) == list(h_resumed["episode"])
    again, h_again = train_agent(FakeRouting, algo, 1100, out_dir=tmp_path / "b", **kw)
    pd.testing.assert_frame_equal(h_again, h_resumed)
    for pa, pb in zip(again.parameters(), resumed.parameters(), strict=True):  # type: ignore[attr-defined]
        torch.testing.assert_close(pa, pb, rtol=0, atol=0)


class _Undeclared(FakeRouting):
    episode_metrics = None  # type: ignore[assignment]


def test_an_env_without_declared_metrics_gets_every_info_array_by_key() -> None:
    declared = evaluate_policy(RandomRouting(3, 6, seed=0), FakeRouting(), seed=4, episodes=2)
    generic = evaluate_policy(RandomRouting(3, 6, seed=0), _Undeclared(), seed=4, episodes=2)
    assert generic["failure"] == pytest.approx(declared["packet_loss"])
    assert generic["infeasible"] == pytest.approx(declared["infeasible_share"])
    assert generic["workload_variance"] == pytest.approx(declared["workload_variance"])
    assert generic["latency_s"] == declared["latency_s"]
    assert "packet_loss" not in generic and "load_mb" in generic


def test_a_bad_metric_declaration_is_refused() -> None:
    env = FakeRouting()
    env.episode_metrics = {"latency_s": ("median", "latency_s")}  # type: ignore[misc]
    with pytest.raises(ValueError, match=r"episode_metrics\['latency_s'\].*reduction in"):
        evaluate_policy(RandomRouting(3, 6), env, seed=0)


def test_vtwin_train_and_evaluate_on_paper_b(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from vtwin.cli import app

    out = tmp_path / "run"
    args = ["train", "--env", "paper-b-tiny", "--algo", "dm_mappo", "--steps", "200"]
    args += ["--batch-envs", "2", "--out", str(out), "-p", "hidden=[8, 8]", "--device", "cpu"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "final_return" in result.stdout and "final_packet_loss" in result.stdout
    assert (out / "checkpoint.pt").exists() and (out / "metrics.csv").exists()
    result = CliRunner().invoke(app, ["evaluate", str(out), "--episodes", "1"])
    assert result.exit_code == 0, result.output
    assert "reward_per_step" in result.stdout and "infeasible_share" in result.stdout
    bad = CliRunner().invoke(app, [*args[:4], "ppo", *args[5:]])
    assert bad.exit_code == 2 and "'ppo' does not serve multi-agent envs" in bad.stderr
    # the name is refused before anything runs: one error line, no progress bar, no folder
    bad = CliRunner().invoke(app, [*args[:4], "dqn", *args[5:9], "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and bad.stderr.strip().splitlines() == [
        "error: unknown algo 'dqn'; valid: dm_mappo, mappo, masac, greedy, random"
    ]
    assert not (tmp_path / "x").exists()
