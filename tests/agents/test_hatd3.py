"""Paper D's TD3 family: sizes, the sequential update, determinism, checkpoints, registry."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vtwin.agents.buffers import Transition
from vtwin.agents.hatd3 import VARIANTS, HATD3Agent, HATD3Config, HeteroSizes
from vtwin.config import load_config
from vtwin.envs.twin_update import BatchedTwinUpdate, sensor_choice
from vtwin.training import evaluate_policy, train_agent
from vtwin.training.registry import agent_sizes, make_agent

TINY = [
    "horizon_slots=6",
    "sensors.count=4",
    "servers.uav.count=2",
    "twin_update.max_tasks_per_uav=3",
]
FAST = {"learning_starts": 8, "batch_size": 16, "hidden": (16, 16), "buffer_size": 500}


def env(B: int = 2) -> BatchedTwinUpdate:
    return BatchedTwinUpdate(load_config("paper-d", TINY), B)


def filled(agent: HATD3Agent, e: BatchedTwinUpdate, slots: int = 12):
    buffer = agent.make_buffer()
    obs, _ = e.reset(0)
    for t in range(slots):
        action = agent.act(obs)
        nxt, r, _, trunc, _ = e.step(action)
        agent.store(buffer, Transition(obs["state"], agent.joint_action(action), r[:, 0],
                                       nxt["state"], np.zeros(e.B, dtype=bool)))  # fmt: skip
        obs = nxt if not trunc.all() else e.reset(t)[0]
    return buffer


def test_sizes_keep_each_agent_type_in_its_own_size() -> None:
    sizes = agent_sizes(env())
    assert isinstance(sizes, HeteroSizes)
    assert (sizes.sensors, sizes.uavs, sizes.uav_action) == (4, 2, 5)
    assert sizes.n_actions == 4 + 2 * 5  # the joint action: nothing padded
    state = torch.arange(sizes.state_dim, dtype=torch.float32)[None]
    s_obs, u_obs = sizes.split_state(state)
    assert s_obs.shape == (1, 4, sizes.sensor_obs) and u_obs.shape == (1, 2, sizes.uav_obs)
    assert torch.equal(torch.cat([s_obs.reshape(1, -1), u_obs.reshape(1, -1)], 1), state)


@pytest.mark.parametrize("sequential", [True, False])
def test_the_uav_loss_sees_post_update_sensor_actions_only_when_sequential(
    sequential: bool,
) -> None:
    e = env()
    cfg = HATD3Config(**FAST, sequential=sequential, policy_delay=1)
    agent = HATD3Agent(agent_sizes(e), cfg, seed=0)
    buffer = filled(agent, e)
    batch = buffer.sample(16, np.random.default_rng(0), agent.device)
    sensor_obs, _ = agent.sizes.split_state(batch["obs"].float())
    with torch.no_grad():
        before = agent.policy("sensor", sensor_obs)
    agent.update(batch)
    with torch.no_grad():
        after = agent.policy("sensor", sensor_obs)
    assert not torch.allclose(before, after)  # the sensor actor did move
    used = agent.last_joint["uav"]["sensor"]
    assert torch.allclose(used, after if sequential else before)
    assert not torch.allclose(used, before if sequential else after)


def test_variants_are_the_four_algorithms() -> None:
    e = env()
    for name, fixed in VARIANTS.items():
        agent = make_agent(name, e, params=FAST)
        assert isinstance(agent, HATD3Agent)
        for key, value in fixed.items():
            assert getattr(agent.config, key) == value
        assert len(agent.critics) == (2 if fixed["twin"] else 1)
    with pytest.raises(ValueError, match=r"'maddpg' fixes sequential"):
        make_agent("maddpg", e, params={"sequential": True})
    with pytest.raises(ValueError, match=r"unknown HATD3Config parameter\(s\) \['lr'\]"):
        make_agent("su_hatd3", e, params={"lr": 0.1})


def test_same_seed_same_weights_and_history() -> None:
    def run(seed: int):
        agent, hist = train_agent(env(), "su_hatd3", 48, seed=seed, params=FAST, device="cpu")
        return agent.checkpoint()["model"], hist.drop(columns=["wall_s"])

    (w1, h1), (w2, h2), (w3, _) = run(3), run(3), run(4)
    assert all(torch.equal(w1[k], w2[k]) for k in w1)
    assert h1.equals(h2)
    assert not all(torch.equal(w1[k], w3[k]) for k in w1)


def test_checkpoint_round_trip_acts_identically() -> None:
    e = env()
    agent = HATD3Agent(agent_sizes(e), HATD3Config(**FAST), seed=1)
    buffer = filled(agent, e)
    agent.learn(buffer, np.random.default_rng(0))
    clone = HATD3Agent(agent_sizes(e), HATD3Config(**FAST), seed=99)
    clone.restore(agent.checkpoint())
    obs, _ = e.reset(5)
    a, b = agent.act(obs), clone.act(obs)  # exploration noise too: same generator state
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_the_rule_and_random_references_evaluate() -> None:
    e = env(3)
    for name in ("rule", "random"):
        out = evaluate_policy(make_agent(name, e), e, seed=100, episodes=1)
        assert np.isfinite(out["utility"]) and out["episodes"] == 1
    rule = evaluate_policy(make_agent("rule", e), e, seed=100)
    assert rule["violations"] == 0 and rule["served"] > 0 and rule["c1_dropped"] == 0


def test_a_bad_order_is_refused() -> None:
    with pytest.raises(ValueError, match=r"HATD3Config.order = 'sideways'"):
        HATD3Config(order="sideways")  # type: ignore[arg-type]


def test_greedy_steps_fills_the_best_fidelity_per_step_first_and_beats_the_even_split() -> None:
    from vtwin.agents.twin_rules import TwinUpdateGreedy

    e = BatchedTwinUpdate(load_config("paper-d", ["horizon_slots=20"]), 4)
    rule = evaluate_policy(make_agent("rule", e), e, seed=300)
    greedy = evaluate_policy(make_agent("greedy_steps", e), e, seed=300)
    assert greedy["utility"] > 1.15 * rule["utility"] and greedy["violations"] == 0
    # one UAV, two queued tasks: (z_max 400, F_max 150) has the better ratio and gets its 400
    one = BatchedTwinUpdate(load_config("paper-d", ["sensors.count=2", "servers.uav.count=1"]), 1)
    obs, _ = one.reset(0)
    one.task_zmax[:, :, 0], one.task_fmax[:, :, 0] = 600.0, 60.0
    one.task_zmax[:, :, 1], one.task_fmax[:, :, 1] = 400.0, 150.0
    one.f_u[:] = 400.0
    agent = make_agent("greedy_steps", one)
    assert isinstance(agent, TwinUpdateGreedy)
    obs, *_ = one.step(agent.act(obs))
    _, _, _, _, info = one.step(agent.act(obs))
    assert info["steps"][0, 0, :2] == pytest.approx([200.0, 400.0])


def test_agentwise_mlp_gives_each_agent_its_own_network() -> None:
    from vtwin.agents.nets import AgentwiseMLP

    torch.manual_seed(0)
    net = AgentwiseMLP(3, 4, 2, (5,), torch.nn.Tanh)
    x = torch.randn(7, 3, 4)
    out = net(x)
    for i in range(3):
        w0, b0 = net.weights[0][i], net.biases[0][i]
        w1, b1 = net.weights[1][i], net.biases[1][i]
        by_hand = torch.tanh(torch.relu(x[:, i] @ w0 + b0) @ w1 + b1)
        torch.testing.assert_close(out[:, i], by_hand)
    x2 = x.clone()
    x2[:, 1] += 1.0  # agent 1's input moves only agent 1's output
    moved = net(x2)
    torch.testing.assert_close(moved[:, [0, 2]], out[:, [0, 2]])
    assert not torch.allclose(moved[:, 1], out[:, 1])


def test_per_agent_actors_by_default_and_shared_as_an_option() -> None:
    from vtwin.agents.nets import AgentwiseMLP

    e = env()
    per_agent = HATD3Agent(agent_sizes(e), HATD3Config(**FAST), seed=0)
    shared = HATD3Agent(agent_sizes(e), HATD3Config(**FAST, shared_actors=True), seed=0)
    assert isinstance(per_agent.actors["sensor"], AgentwiseMLP)
    assert not isinstance(shared.actors["sensor"], AgentwiseMLP)
    obs, _ = e.reset(0)
    for agent in (per_agent, shared):
        a = agent.act(obs, deterministic=True)
        assert a["sensor"].shape == (2, 4) and a["uav"].shape == (2, 2, 5)


def test_group_pool_critic_sees_agents_as_a_set_and_ignores_unused_slots() -> None:
    from vtwin.agents.nets import AgentGroup, GroupPoolCritic

    torch.manual_seed(0)
    # 3 agents of type A (obs 2, act 1); 2 of type B: own obs 1 + 2 slots × 3, own act 1 + 2
    groups = [AgentGroup(3, 2, 1), AgentGroup(2, 1 + 2 * 3, 3, slots=2, slot_obs=3)]
    net = GroupPoolCritic(groups, embed=8, hidden=(16,), encoder_hidden=(8,))
    n = 5
    obs_a, obs_b = torch.randn(n, 3, 2), torch.randn(n, 2, 7)
    obs_b[:, :, 1] = 1.0  # slot 0 used
    obs_b[:, :, 4] = 0.0  # slot 1 unused
    act_a, act_b = torch.randn(n, 3, 1), torch.randn(n, 2, 3)

    def q(oa: torch.Tensor, ob: torch.Tensor, aa: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        row = [oa.reshape(n, -1), ob.reshape(n, -1), aa.reshape(n, -1), ab.reshape(n, -1)]
        return net(torch.cat(row, dim=1))

    base = q(obs_a, obs_b, act_a, act_b)
    assert base.shape == (n, 1)
    swap = [2, 0, 1]  # the same agents in another order: the same value
    torch.testing.assert_close(q(obs_a[:, swap], obs_b, act_a[:, swap], act_b), base)
    unused = act_b.clone()
    unused[:, :, 2] += 1.0  # the weight of the unused slot: no effect
    torch.testing.assert_close(q(obs_a, obs_b, act_a, unused), base)
    used = act_b.clone()
    used[:, :, 1] += 1.0  # the weight of the used slot: an effect
    assert not torch.allclose(q(obs_a, obs_b, act_a, used), base)
    with pytest.raises(ValueError, match="do not add up"):
        AgentGroup(2, 3, 1, slots=2, slot_obs=3)


def test_paper_d_sizes_carry_the_queue_slots_and_the_critic_choice_is_checked() -> None:
    sizes = agent_sizes(env())
    assert (sizes.uav_slots, sizes.uav_slot_obs) == (3, 6)  # K_max = 3 tasks, 6 features
    mlp_critic = HATD3Agent(sizes, HATD3Config(**FAST, critic="mlp"), seed=0)
    assert isinstance(mlp_critic.critics[0], torch.nn.Sequential)
    with pytest.raises(ValueError, match="critic"):
        HATD3Config(critic="attention")  # type: ignore[arg-type]


def _action_effect_fit(critic: str) -> float:
    """Fit one critic of ``critic`` kind to the reward of random play on a small paper-d
    world, then the correlation between its predicted and the true reward change when only
    the UAVs' step weights change (held-out slots, the same state)."""
    import copy

    torch.manual_seed(0)
    over = ["horizon_slots=10", "sensors.count=8", "servers.uav.count=2"]
    e = BatchedTwinUpdate(load_config("paper-d", [*over, "twin_update.max_tasks_per_uav=8"]), 64)
    agent = HATD3Agent(agent_sizes(e), HATD3Config(critic=critic), seed=0)
    rng = np.random.default_rng(0)
    rows, pairs = [], []
    obs, _ = e.reset(list(range(64)))
    for t in range(40):
        a = e.random_actions(rng)
        other = {"sensor": a["sensor"], "uav": a["uav"].copy()}
        other["uav"][..., 2:] = rng.uniform(-1.0, 1.0, other["uav"][..., 2:].shape)
        r_other = copy.deepcopy(e).step(other)[1][:, 0]
        nxt, r, _, trunc, _ = e.step(a)
        row = (obs["state"], agent.joint_action(a), r[:, 0])
        (pairs if t >= 30 else rows).append((*row, agent.joint_action(other), r_other))
        obs = nxt if not trunc.all() else e.reset([64 * (t + 1) + b for b in range(64)])[0]

    def cat(i: int, part: list) -> torch.Tensor:
        return torch.as_tensor(np.concatenate([p[i] for p in part]), dtype=torch.float32)

    s, a, r = cat(0, rows), cat(1, rows), cat(2, rows) * 0.01
    net = agent.critics[0]
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(600):
        idx = torch.randint(0, len(r), (256,))
        loss = (net(torch.cat([s[idx], a[idx]], 1)).squeeze(-1) - r[idx]).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    s2 = cat(0, pairs)
    with torch.no_grad():
        gap = net(torch.cat([s2, cat(1, pairs)], 1)) - net(torch.cat([s2, cat(3, pairs)], 1))
    true_gap = cat(2, pairs) - cat(4, pairs)
    return float(np.corrcoef(gap.squeeze(-1).numpy(), true_gap.numpy())[0, 1])


def test_the_agents_critic_learns_how_the_step_weights_move_the_reward() -> None:
    # the reason for critic = "agents" (docs/reproductions/paper-d.md): a flat MLP fits the
    # state's part of the reward but hardly the part the UAV actors' weights decide
    agents, flat = _action_effect_fit("agents"), _action_effect_fit("mlp")
    assert agents > 0.5 and agents > flat + 0.3, (agents, flat)


def test_untrained_sensors_spread_over_the_uavs_not_one_bin() -> None:
    e = env()  # 4 sensors, 2 UAVs
    obs, _ = e.reset(0)
    spread = HATD3Agent(agent_sizes(e), HATD3Config(**FAST), seed=0)
    choice = sensor_choice(spread.act(obs, deterministic=True)["sensor"], e.U)
    assert (choice == np.array([0, 1, 0, 1])).all()  # sensor k → UAV k mod U
    plain = HATD3Agent(agent_sizes(e), HATD3Config(**FAST, sensor_init="default"), seed=0)
    assert (sensor_choice(plain.act(obs, deterministic=True)["sensor"], e.U) == 0).all()
