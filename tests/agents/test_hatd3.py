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


def test_n_step_transitions_sum_the_discounted_rewards_and_skip_episode_ends() -> None:
    e = env(B=2)
    agent = make_agent("su_hatd3", e, seed=0, params={**FAST, "n_step": 2, "gamma": 0.5})
    assert isinstance(agent, HATD3Agent)
    buffer = agent.make_buffer()
    d = agent.sizes.state_dim

    def row(v: float) -> np.ndarray:
        return np.full((2, d), v, dtype=np.float32)

    act = np.zeros((2, agent.sizes.n_actions))
    alive = np.zeros(2, dtype=bool)
    # one episode s0 → s1 → s2 → s3, rewards 1, 2, 4 (copy 1: ×10)
    for t, r in enumerate((1.0, 2.0, 4.0)):
        step = Transition(row(t), act + t, np.array([r, 10 * r]), row(t + 1), alive)
        assert agent.store(buffer, step) == 2
    assert len(buffer) == 4  # (s0, s2) and (s1, s3) of both copies; s2's waits
    np.testing.assert_allclose(buffer.rewards[:4], [2.0, 20.0, 4.0, 40.0])  # r + γ r'
    np.testing.assert_array_equal(buffer.next_observations(np.arange(2)), row(2))
    np.testing.assert_array_equal(buffer.actions[2:4], act + 1)
    # a new episode (its first obs is not the last next_obs) drops s2's unfinished transition
    agent.store(buffer, Transition(row(9), act, np.array([1.0, 1.0]), row(10), alive))
    agent.store(buffer, Transition(row(10), act, np.array([1.0, 1.0]), row(11), alive))
    assert len(buffer) == 6
    np.testing.assert_array_equal(buffer.obs[4:6], row(9))
    assert agent.stored == 10
    # the update discounts the bootstrap by γ² and learns without error
    assert np.isfinite(
        agent.update(buffer.sample(4, np.random.default_rng(0), "cpu"))["critic_loss"]
    )
    with pytest.raises(ValueError, match="n_step"):
        HATD3Config(n_step=0)


def test_soft_bins_follow_eq_21_and_the_critic_sees_sensors_by_their_bin() -> None:
    from vtwin.agents.nets import AgentGroup, GroupPoolCritic, soft_bins

    uavs = 5
    centres = torch.tensor([-1 + (2 * j + 1) / (uavs + 1) for j in range(uavs + 1)])
    m = soft_bins(torch.cat([centres, torch.linspace(-1, 1, 41)]), uavs + 1)
    torch.testing.assert_close(m.sum(dim=-1), torch.ones(len(m)))
    assert (m[: uavs + 1].diagonal() > 0.75).all()  # near one-hot at a bin's centre
    values = torch.linspace(-0.99, 0.99, 40)  # no value on a bin edge
    picked = soft_bins(values, uavs + 1).argmax(dim=-1) - 1  # −1: no offload
    np.testing.assert_array_equal(picked.numpy(), sensor_choice(values.numpy(), uavs))
    # the critic's sensor encoder takes the bins, not the raw value
    net = GroupPoolCritic([AgentGroup(3, 2, 1, bins=uavs + 1)], embed=4, hidden=(8,))
    assert net.own[0][0].in_features == 2 + uavs + 1
    assert net(torch.randn(7, 3 * 2 + 3)).shape == (7, 1)
    agent = HATD3Agent(agent_sizes(env()), HATD3Config(**FAST, sensor_action="bins"), seed=0)
    assert agent.critics[0].groups[0].bins == 3  # 2 UAVs + "no offload"
    with pytest.raises(ValueError, match="bins"):
        AgentGroup(3, 2, 2, bins=4)
    with pytest.raises(ValueError, match="sensor_action"):
        HATD3Config(sensor_action="onehot")  # type: ignore[arg-type]


def test_the_load_critic_sees_how_many_sensors_pick_each_uav() -> None:
    from vtwin.agents.nets import AgentGroup, GroupPoolCritic

    torch.manual_seed(0)
    # 4 sensors (obs 2) choosing among 2 UAVs (bins: none, UAV 0, UAV 1); UAVs: obs 3, act 1
    groups = [AgentGroup(4, 2, 1, bins=3), AgentGroup(2, 3, 1, chosen_by=0)]
    net = GroupPoolCritic(groups, embed=8, hidden=(16,), encoder_hidden=(8,))
    assert net.own[1][0].in_features == 3 + 1 + 1  # own obs, own action, its load
    n = 6
    obs_s, obs_u, act_u = torch.randn(n, 4, 2), torch.randn(n, 2, 3), torch.randn(n, 2, 1)

    def q(act_s: torch.Tensor, s: torch.Tensor = obs_s) -> torch.Tensor:
        row = [s.reshape(n, -1), obs_u.reshape(n, -1), act_s.reshape(n, -1), act_u.reshape(n, -1)]
        return net(torch.cat(row, dim=1))

    centre = {"none": -2 / 3, "uav0": 0.0, "uav1": 2 / 3}
    spread = torch.tensor([centre["uav0"], centre["uav1"]] * 2).expand(n, 4)
    piled = torch.tensor([centre["uav0"]] * 4).expand(n, 4)
    assert not torch.allclose(q(spread), q(piled))
    swap = [1, 2, 3, 0]  # sensors are a set: their order does not matter
    torch.testing.assert_close(q(spread[:, swap], obs_s[:, swap]), q(spread))
    with pytest.raises(ValueError, match="chosen_by"):
        GroupPoolCritic([AgentGroup(4, 2, 1, bins=4), AgentGroup(2, 3, 1, chosen_by=0)])
    with pytest.raises(ValueError, match="earlier group"):  # the chooser must come first
        GroupPoolCritic([AgentGroup(2, 3, 1, chosen_by=1), AgentGroup(4, 2, 1, bins=3)])
    agent = HATD3Agent(agent_sizes(env()), HATD3Config(**FAST, sensor_action="load"), seed=0)
    assert agent.critics[0].groups[1].chosen_by == 0


def test_the_tasks_critic_sees_which_sensors_pick_each_uav_not_only_how_many() -> None:
    from vtwin.agents.nets import AgentGroup, GroupPoolCritic

    torch.manual_seed(0)
    groups = [AgentGroup(4, 2, 1, bins=3), AgentGroup(2, 3, 1, chosen_by=0, chosen_pool=True)]
    net = GroupPoolCritic(groups, embed=8, hidden=(16,), encoder_hidden=(8,))
    assert net.own[1][0].in_features == 3 + 1 + 1 + 8  # … its load, its choosers' embeddings
    n = 5
    obs_s, obs_u, act_u = torch.randn(n, 4, 2), torch.randn(n, 2, 3), torch.randn(n, 2, 1)
    seen: list[torch.Tensor] = []
    hook = net.own[1].register_forward_hook(lambda m, args, out: seen.append(args[0]))

    def q(act_s: torch.Tensor, s: torch.Tensor = obs_s) -> torch.Tensor:
        row = [s.reshape(n, -1), obs_u.reshape(n, -1), act_s.reshape(n, -1), act_u.reshape(n, -1)]
        return net(torch.cat(row, dim=1))

    a, b = -0.0, 2 / 3  # bin centres of UAV 0 and UAV 1 (eq. (21) with 2 UAVs)
    first = q(torch.tensor([a, a, b, b]).expand(n, 4))
    second = q(torch.tensor([b, b, a, a]).expand(n, 4))  # the same loads, other sensors
    load = 3 + 1  # the UAV encoder's input: own obs (3), own action (1), load, pool
    torch.testing.assert_close(seen[0][..., load], seen[1][..., load])
    assert not torch.allclose(seen[0][..., load + 1 :], seen[1][..., load + 1 :])
    assert not torch.allclose(first, second)
    swap = [2, 0, 3, 1]  # still a set of sensors
    act = torch.tensor([a, a, b, b]).expand(n, 4)
    torch.testing.assert_close(q(act[:, swap], obs_s[:, swap]), first)
    hook.remove()
    with pytest.raises(ValueError, match="chosen_pool"):
        AgentGroup(2, 3, 1, chosen_pool=True)
    agent = HATD3Agent(agent_sizes(env()), HATD3Config(**FAST, sensor_action="tasks"), seed=0)
    assert agent.critics[0].groups[1].chosen_pool


def test_sensor_share_moves_only_the_drawn_sensor_actors() -> None:
    e = BatchedTwinUpdate(load_config("paper-d", [*TINY[:1], "sensors.count=12", *TINY[2:]]), 2)
    cfg = HATD3Config(**FAST, policy_delay=1, sensor_share=0.5)
    agent = HATD3Agent(agent_sizes(e), cfg, seed=0)
    buffer = filled(agent, e)
    weights = agent.actors["sensor"].weights[0]
    before = weights.detach().clone()
    agent.update(buffer.sample(16, np.random.default_rng(0), agent.device))
    moved = (weights.detach() != before).flatten(1).any(dim=1)
    assert 0 < int(moved.sum()) < 12  # some sensors moved, not all
    with pytest.raises(ValueError, match="sensor_share"):
        HATD3Config(sensor_share=0.0)


def _fill_obs(z_max: list[float], present: list[bool], compute: float = 1.0) -> torch.Tensor:
    """One UAV's observation [1, 1, 3 + 6K]: own x, y, compute; per slot present, x, y, D,
    z_max / 600, F_max."""
    slots = [[float(p), 0.5, 0.5, 0.5, z / 600.0, 0.5] for z, p in zip(z_max, present, strict=True)]
    row = [0.5, 0.5, compute, *[v for slot in slots for v in slot]]
    return torch.tensor([[row]], dtype=torch.float32)


def test_fill_weights_fill_the_budget_in_priority_order() -> None:
    from vtwin.agents.hatd3 import StepFill, fill_weights

    fill = StepFill(
        budget=600.0, deadline_s=5.0, z_min=0.0, z_scale=600.0, speed_scale=200.0, weight_floor=0.01
    )
    obs = _fill_obs([450.0, 500.0, 420.0, 300.0], [True, True, True, False])
    # sharp priorities: slot 1 first (500 steps), then slot 2 (the 100 left), slot 0 last
    priority = torch.tensor([[[0.0, 30.0, 15.0, 40.0]]], requires_grad=True)
    a = fill_weights(priority, obs, fill, 6, softness=0.01)
    weight = 0.01 + 0.99 * (a + 1) / 2
    steps = (weight * torch.tensor([1.0, 1.0, 1.0, 0.0])) / (weight[..., :3].sum()) * 600.0
    np.testing.assert_allclose(steps.detach().numpy()[0, 0, :3], [6.0, 494.0, 100.0], atol=8.0)
    assert a[0, 0, 3] == -1.0  # an empty slot's action is the floor
    # the deadline caps a task: compute 0.4 × 200 = 80 steps/s, 5 s → 396 steps at most
    slow = fill_weights(
        priority,
        _fill_obs([450.0, 500.0, 420.0, 300.0], [True, True, True, False], 0.4),
        fill,
        6,
        softness=0.01,
    )
    w = 0.01 + 0.99 * (slow + 1) / 2
    share = (w[..., :3] / w[..., :3].sum()).detach().numpy()[0, 0]
    np.testing.assert_allclose(share * 600.0, [6.0, 396.0, 198.0], atol=8.0)
    # the priorities get a gradient: raising slot 0's moves steps toward it
    soft = torch.tensor([[[0.0, 2.0, 1.0, 4.0]]], requires_grad=True)
    (grad,) = torch.autograd.grad(fill_weights(soft, obs, fill, 6)[0, 0, 0], soft)
    assert grad[0, 0, 0] > 0 and torch.isfinite(grad).all()


def test_the_fill_uav_actor_acts_in_range_and_needs_the_step_budget() -> None:
    env = BatchedTwinUpdate(load_config("paper-d-tiny"), 2)
    agent = make_agent("su_hatd3", env, seed=0, params={"uav_actor": "fill"})
    obs, _ = env.reset(0)
    action = agent.act(obs, deterministic=True)
    assert action["uav"].shape == (2, env.U, env.uav_action_dim)
    assert np.all(np.abs(action["uav"]) <= 1.0)
    with pytest.raises(ValueError, match="uav_actor = 'fill' needs shared_actors = False"):
        HATD3Config(uav_actor="fill", shared_actors=True)
    with pytest.raises(ValueError, match="uav_actor = 'nope'"):
        HATD3Config(uav_actor="nope")  # type: ignore[arg-type]
    sizes = agent_sizes(env)
    bare = HeteroSizes.of(
        sizes.sensors,
        sizes.sensor_obs,
        sizes.uavs,
        sizes.uav_obs,
        sizes.uav_action,
        sizes.uav_slots,
        sizes.uav_slot_obs,
    )
    with pytest.raises(ValueError, match="needs an env with queue slots and its step budget"):
        HATD3Agent(bare, HATD3Config(uav_actor="fill"))


def test_the_fill_actor_evaluates_at_its_own_temperature_and_trains_at_the_other() -> None:
    from vtwin.agents.hatd3 import fill_weights

    env = BatchedTwinUpdate(load_config("paper-d-tiny"), 4)
    params = {"uav_actor": "fill", "fill_temperature": 0.5, "fill_softness": 0.05}
    soft = make_agent("su_hatd3", env, seed=0, params={**params, "fill_eval_temperature": None})
    sharp = make_agent("su_hatd3", env, seed=0, params={**params, "fill_eval_temperature": 0.01})
    obs, _ = env.reset(3)
    obs = env.step(soft.act(obs, deterministic=True))[0]  # tasks offloaded: queues to fill
    x = torch.as_tensor(obs["uav"], dtype=torch.float32)
    own = env.uav_action_dim - sharp.sizes.uav_slots
    pre = sharp.pre_tanh("uav", x)[..., own:]
    assert sharp.sizes.step_fill is not None
    want = fill_weights(pre, x, sharp.sizes.step_fill, sharp.sizes.uav_slot_obs, 0.01, 0.001)
    got = sharp.act(obs, deterministic=True)["uav"][..., own:]
    np.testing.assert_allclose(got, want.detach().numpy(), atol=1e-6)
    # acting to explore, targets and the actor's loss keep the training temperature
    torch.testing.assert_close(sharp.policy("uav", x), soft.policy("uav", x))
    assert not np.allclose(got, soft.act(obs, deterministic=True)["uav"][..., own:])
    with pytest.raises(ValueError, match=r"fill_eval_temperature = 0\.0: must be > 0 or None"):
        HATD3Config(fill_eval_temperature=0.0)
