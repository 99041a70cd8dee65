"""Paper D's heterogeneous-agent TD3 family: SU-HATD3, HADDPG, MATD3 and MADDPG in one
readable update (paper D Sec. V-B, SPEC §D).

Two agent types with different observation and action sizes: K sensor agents (one action
each) and U UAV agents (2 + K_max actions each). Every agent has its own actor, as in the
paper (computed side by side by :class:`~vtwin.agents.nets.AgentwiseMLP`); the option
``shared_actors`` gives each type one actor with the agent's one-hot index appended (with it,
all sensors drifted to the same UAV in our runs: their outputs move together). Critics are
centralised over the global state and the **joint action of every agent in its own size**
— ``K + U (2 + K_max)`` columns, nothing padded. By default they are built from the agents
(:class:`~vtwin.agents.nets.GroupPoolCritic`): each sensor's action enters as its soft choice
of UAV and each UAV sees how many sensors chose it and, summed by those choices, the
sensors' embeddings — which tasks it will serve (``critic``, ``sensor_action``).

One update (CleanRL's TD3, written out):

1. Critic targets ``y = r + γ (1 − done) min_i Q'_i(s', a')`` with ``a'`` the target actors'
   actions, plus clipped Gaussian noise when ``smoothing`` (target-policy smoothing);
   with ``twin = False`` there is one critic and no min (DDPG). MSE to ``y``.
2. Every ``policy_delay`` updates, the actors: each type's loss is ``−Q1(s, a)`` where ``a``
   holds its own actor's actions (with gradient) and the other type's actions (without).
   ``sequential = True`` (SU-HATD3, HADDPG): the types go in ``order`` (sensors, then UAVs)
   and a later type sees the *updated* actions of an earlier one; ``sequential = False``
   (MATD3, MADDPG): every type sees the others' actions from before this update.
   ``order = "random"`` draws the order each update (an option; the paper fixes it).
3. Soft target updates ``θ' ← (1 − τ) θ' + τ θ`` (τ = 0.005).

Exploration: Gaussian noise on every action, σ decaying linearly from ``explore_noise`` to
``explore_noise_end`` over ``noise_decay_steps`` stored transitions, then clipped to [−1, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import numpy as np
import torch
from torch import nn

from vtwin.agents.buffers import ReplayBuffer, Transition
from vtwin.agents.common import AgentSizes, TorchAgent, polyak_update
from vtwin.agents.nets import AgentGroup, AgentwiseMLP, GroupPoolCritic, mlp

__all__ = ["VARIANTS", "HATD3Agent", "HATD3Config", "HeteroSizes", "StepFill", "fill_weights"]

GROUPS = ("sensor", "uav")


@dataclass(frozen=True)
class StepFill:
    """What a UAV's ``fill`` actor needs of the env (:func:`fill_weights`): the step budget
    Z_u, the deadline (s), z_min, the scales the observation divides z_max and f_u by, the
    weight floor, and where the UAV's compute and each queue slot's present flag and z_max
    sit in the observation (own block, then per slot)."""

    budget: float
    deadline_s: float
    z_min: float
    z_scale: float
    speed_scale: float
    weight_floor: float
    compute_col: int = 2
    present_col: int = 0
    zmax_col: int = 4


@dataclass(frozen=True)
class HeteroSizes(AgentSizes):
    """Sizes of a heterogeneous learner: ``sensors`` agents with ``sensor_obs`` observation
    columns and 1 action, ``uavs`` agents with ``uav_obs`` columns and ``uav_action``
    actions. ``obs_dim = state_dim`` (every observation flattened, sensors first),
    ``n_actions`` the joint action's width, ``n_agents = sensors + uavs``."""

    sensors: int = 1
    sensor_obs: int = 1
    uavs: int = 1
    uav_obs: int = 1
    uav_action: int = 1
    uav_slots: int = 0
    """Queue slots at the end of a UAV's observation (``uav_slot_obs`` columns each, the
    first 1 when used) and of its action (one weight each); 0: no such structure."""
    uav_slot_obs: int = 0
    step_fill: StepFill | None = None
    """The env's step-budget facts for ``HATD3Config.uav_actor = "fill"``; None: unknown."""

    @classmethod
    def of(
        cls,
        sensors: int,
        sensor_obs: int,
        uavs: int,
        uav_obs: int,
        uav_action: int,
        uav_slots: int = 0,
        uav_slot_obs: int = 0,
        step_fill: StepFill | None = None,
    ) -> HeteroSizes:
        """The sizes with the derived fields filled in."""
        state = sensors * sensor_obs + uavs * uav_obs
        return cls(
            obs_dim=state,
            n_actions=sensors + uavs * uav_action,
            n_agents=sensors + uavs,
            state_dim=state,
            sensors=sensors,
            sensor_obs=sensor_obs,
            uavs=uavs,
            uav_obs=uav_obs,
            uav_action=uav_action,
            uav_slots=uav_slots,
            uav_slot_obs=uav_slot_obs,
            step_fill=step_fill,
        )

    def __post_init__(self) -> None:
        """Refuse inconsistent sizes."""
        super().__post_init__()
        state = self.sensors * self.sensor_obs + self.uavs * self.uav_obs
        if (self.obs_dim, self.state_dim) != (state, state):
            raise ValueError(f"obs_dim = state_dim must be {state} for these agents")
        if self.n_actions != self.sensors + self.uavs * self.uav_action:
            raise ValueError("n_actions must be the joint action's width")

    def split_state(self, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[N, state_dim]`` → sensor observations ``[N, K, ds]`` and UAV ones ``[N, U, du]``."""
        cut = self.sensors * self.sensor_obs
        n = state.shape[0]
        return (
            state[:, :cut].reshape(n, self.sensors, self.sensor_obs),
            state[:, cut:].reshape(n, self.uavs, self.uav_obs),
        )

    def split_action(self, joint: torch.Tensor) -> dict[str, torch.Tensor]:
        """``[N, n_actions]`` → ``{"sensor": [N, K], "uav": [N, U, A_u]}``."""
        n = joint.shape[0]
        return {
            "sensor": joint[:, : self.sensors],
            "uav": joint[:, self.sensors :].reshape(n, self.uavs, self.uav_action),
        }


@dataclass(frozen=True)
class HATD3Config:
    """Hyper-parameters (paper D: γ 0.99, τ 0.005, batch 256; the rest ours or TD3's
    defaults). Learning rates 10⁻³ (ours: paper D's best, 5·10⁻³ in Fig. 3(b), ended at
    utility 554 against 581 for 10⁻³ on paper-d at 30 k steps; both swept by Fig. 3(b)'s
    experiment). ``reward_scale`` multiplies rewards before learning (paper D's utility is
    hundreds per slot)."""

    hidden: tuple[int, ...] = (128, 128)
    critic: Literal["agents", "mlp"] = "agents"
    """The critics' network. ``agents`` (default, ours): one encoder per agent type over each
    agent's own observation and action, averaged per type, then an MLP head
    (:class:`~vtwin.agents.nets.GroupPoolCritic`) — still centralised over the joint
    observation and action. ``mlp``: one MLP over the flattened state and joint action, which
    on paper-d never learnt how the reward depends on the step weights (the measured reason
    in ``docs/reproductions/paper-d.md``)."""
    critic_embed: int = 64
    sensor_action: Literal["bins", "load", "tasks", "value"] = "tasks"
    """How the ``agents`` critic sees a sensor's action (ours). ``value``: the raw value in
    [−1, 1]. ``bins``: soft memberships of eq. (21)'s U + 1 bins
    (:func:`~vtwin.agents.nets.soft_bins`), flat within the UAV a sensor picks. ``load``:
    ``bins``, and each UAV's encoder also sees how many sensors pick it (summed memberships,
    1 for an even spread). ``tasks`` (default): ``load``, and each UAV's encoder also sees
    the embeddings of the sensors that pick it, summed by membership — which tasks it will
    serve next, not only how many. On paper-d (30 k transitions) SU-HATD3 evaluated at
    535.7 with ``value`` and 372.2 with ``bins`` (seed 0: sensors piled onto two UAVs and
    left others idle), 656.4 / 641.2 / 637.9 with ``load`` (seeds 0–2) and, once sensors
    also observe their task's F_max, 685.0 / 729.8 / 710.5 with ``tasks``."""
    sensor_init: Literal["spread", "default"] = "spread"
    """``spread`` (ours): sensor k's actor starts at the middle of UAV (k mod U)'s bin of
    eq. (21) (its output bias; last-layer weights × 0.1), so the untrained sensors spread
    their tasks over the UAVs. ``default``: PyTorch's initialisation, where every actor
    starts near tanh(0) = 0 — one and the same UAV's bin for every sensor, whose queue
    overflows while the other UAVs idle, and the deterministic policy stayed there."""
    actor_hidden: tuple[int, ...] = (64, 64)
    uav_actor: Literal["mlp", "fill"] = "mlp"
    """How a UAV actor's outputs become its step weights (ours). ``mlp``: each output through
    a tanh is one queue slot's weight (eq. (18) as printed). ``fill``: the outputs are
    priorities, and a fixed differentiable layer fills the budget in priority order, each
    task up to the steps worth having (its z_max, and what runs before the deadline), then
    turns the fill into eq. (18)'s weights (:func:`fill_weights`); the actor still learns
    which tasks come first. Heading and speed are unchanged. Needs the env's
    :class:`StepFill` in the sizes. Not the default: on ``paper-d-tiny`` it raised SU-HATD3
    and MATD3 and lowered HADDPG and MADDPG (``docs/reproductions/paper-d.md``)."""
    fill_temperature: float = 0.1
    """``fill``: the priority gap over which one task goes from behind to ahead of another.
    On paper-d (SU-HATD3, 30 k transitions, seed 1) 1.0 gave 736.3 per slot, 0.1 765.6 and
    0.02 773.3; over seeds 0–2, 0.1 gave the better step weights (module notes:
    ``docs/reproductions/paper-d.md``)."""
    fill_softness: float = 0.01
    """``fill``: width of the smoothed min/max of a task's fill, as a share of the budget (so
    a task just past the budget still gets a gradient toward being filled)."""
    fill_eval_temperature: float | None = 0.001
    """``fill``: the temperature of deterministic acting (evaluation), the softness scaled
    with it; None: ``fill_temperature``. Training (exploration, targets and the actor's
    gradient) keeps ``fill_temperature``: a soft fill is what passes a gradient to the
    priorities, while the deployed policy fills in their order exactly. The sharp fill
    evaluated higher on every run measured: paper-d, SU-HATD3 at 30 k transitions (seed 1)
    760.7 against 753.9 at 0.1; ``paper-d-tiny``, the four variants on three seeds, by 4–17
    per slot (``docs/reproductions/paper-d.md``)."""
    shared_actors: bool = False
    actor_lr: float = 1e-3
    sensor_actor_lr: float | None = None
    """The sensor actors' learning rate; None: ``actor_lr``."""
    sensor_share: float = 1.0
    """Share of the sensor actors that each actor update moves, drawn at random (ours; 1: all
    of them, as the paper). The others keep their current actions in the joint action, so a
    sensor's step is judged against the others' latest choices — the sequential scheme of
    heterogeneous-agent learning spread over updates."""
    critic_lr: float = 1e-3
    gamma: float = 0.99
    n_step: int = 1
    """Rewards summed per stored transition (ours; 1: TD3's one-step target). With n > 1 a
    transition holds ``r_t + γ r_{t+1} + … + γ^{n−1} r_{t+n−1}`` and ``s_{t+n}`` and its
    target discounts the bootstrap by γⁿ (the n-step returns of Rainbow and D4PG)."""
    tau: float = 0.005
    batch_size: int = 256
    buffer_size: int = 200_000
    learning_starts: int = 2_000
    updates_per_step: int = 2
    """Gradient updates per slot of all B copies (ours; TD3 makes one per transition, which
    with B copies is B per slot). Two gave SU-HATD3 272/262/215 on ``paper-d-tiny`` (seeds
    0/1/2, 8 k transitions, 4 copies) against 249/146/224 with one; four gave 257/268 at
    twice the cost."""
    policy_delay: int = 2
    twin: bool = True
    smoothing: bool = True
    sequential: bool = True
    order: Literal["fixed", "random"] = "fixed"
    target_noise: float = 0.2
    noise_clip: float = 0.5
    explore_noise: float = 0.3
    explore_noise_end: float = 0.05
    noise_decay_steps: int = 100_000
    reward_scale: float = 0.01
    max_grad_norm: float = 10.0
    action_reg: float = 0.05
    """Weight of a penalty on the actors' pre-tanh outputs beyond ``action_reg_free`` (ours,
    as SAC's reference code regularises its pre-tanh mean): a saturated tanh passes no
    gradient, and sensors whose action saturated stayed on one UAV bin for good."""
    action_reg_free: float = 2.0
    """Pre-tanh magnitude the penalty leaves free (tanh(2) = 0.96). A penalty on every
    pre-tanh value pulled every sensor toward 0 — the middle UAV's bin of eq. (21) — and
    piled their tasks on that UAV past K_max."""

    def __post_init__(self) -> None:
        """Refuse values no update can use, naming the field."""
        if self.sensor_init not in ("spread", "default"):
            raise ValueError(
                f"HATD3Config.sensor_init = {self.sensor_init!r}; allowed: spread, default"
            )
        if self.sensor_action not in ("bins", "load", "tasks", "value"):
            raise ValueError(
                f"HATD3Config.sensor_action = {self.sensor_action!r}; "
                "allowed: bins, load, tasks, value"
            )
        if not 0.0 < self.sensor_share <= 1.0:
            raise ValueError(f"HATD3Config.sensor_share = {self.sensor_share}: must be in (0, 1]")
        if self.critic not in ("agents", "mlp"):
            raise ValueError(f"HATD3Config.critic = {self.critic!r}; allowed: agents, mlp")
        if self.order not in ("fixed", "random"):
            raise ValueError(f"HATD3Config.order = {self.order!r}; allowed: fixed, random")
        if self.uav_actor not in ("mlp", "fill"):
            raise ValueError(f"HATD3Config.uav_actor = {self.uav_actor!r}; allowed: mlp, fill")
        if self.uav_actor == "fill" and self.shared_actors:
            raise ValueError("HATD3Config.uav_actor = 'fill' needs shared_actors = False")
        if self.fill_eval_temperature is not None and not self.fill_eval_temperature > 0:
            raise ValueError(
                f"HATD3Config.fill_eval_temperature = {self.fill_eval_temperature}: "
                "must be > 0 or None"
            )
        for name in ("fill_temperature", "fill_softness"):
            if not getattr(self, name) > 0:
                raise ValueError(f"HATD3Config.{name} = {getattr(self, name)}: must be > 0")
        for name in (
            "actor_lr",
            "critic_lr",
            "batch_size",
            "buffer_size",
            "policy_delay",
            "n_step",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"HATD3Config.{name} = {getattr(self, name)}: must be > 0")
        if not 0 <= self.gamma <= 1 or not 0 < self.tau <= 1:
            raise ValueError(
                f"HATD3Config: gamma = {self.gamma} in [0, 1], tau = {self.tau} in (0, 1]"
            )


def fill_weights(
    priority: torch.Tensor,
    obs: torch.Tensor,
    fill: StepFill,
    slot_obs: int,
    temperature: float = 1.0,
    softness: float = 0.05,
) -> torch.Tensor:
    """Eq. (18)'s weight actions in [−1, 1] that fill each UAV's step budget in priority
    order: priorities ``[N, U, K]`` and the UAVs' observations ``[N, U, d]`` (own columns,
    then K slots of ``slot_obs``) → ``[N, U, K]``. Differentiable in the priorities.

    A task's cap is the steps worth having: its z_max, and no more than run in 99 % of the
    deadline at the UAV's compute (as ``greedy_steps``). Task k is preceded by task j with
    weight σ((p_j − p_k) / ``temperature``), so it finds ``Z_u − Σ_j σ(·) cap_j`` steps left
    and takes that much, between 0 and its cap (a min and max smoothed over ``softness`` ×
    Z_u steps). The fill ``z`` becomes the weights ``z / max z`` (eq. (18) divides by their
    sum, so the split is z's), mapped through the env's floor to actions (a share below the
    floor through a softplus, so that it keeps a gradient)."""
    k = priority.shape[-1]
    own = obs.shape[-1] - k * slot_obs
    slots = obs[..., own:].unflatten(-1, (k, slot_obs))
    present = (slots[..., fill.present_col] > 0.5).to(priority.dtype)
    z_max = slots[..., fill.zmax_col] * fill.z_scale
    f_u = obs[..., fill.compute_col] * fill.speed_scale
    cap = present * torch.minimum(z_max, 0.99 * fill.deadline_s * f_u[..., None])
    ahead = torch.sigmoid((priority[..., None, :] - priority[..., :, None]) / temperature)
    ahead = ahead * (1.0 - torch.eye(k, dtype=priority.dtype, device=priority.device))
    left = fill.budget - (ahead * cap[..., None, :]).sum(-1)  # steps left when k's turn comes
    width = softness * fill.budget
    taken = width * nn.functional.softplus(left / width)  # ≈ max(left, 0)
    z = cap - width * nn.functional.softplus((cap - taken) / width)  # ≈ min(cap, taken)
    z = present * z.clamp_min(0.0)
    share = z / z.amax(-1, keepdim=True).clamp_min(1e-6)
    # the env's weight is floor + (1 − floor) u; below the floor u is a softplus, not a clamp,
    # so a task left out still has a gradient toward getting steps
    low = 0.01 * (1.0 - fill.weight_floor)
    unit = low * nn.functional.softplus((share - fill.weight_floor) / low) / (1 - fill.weight_floor)
    return torch.where(present > 0, 2.0 * unit.clamp(max=1.0) - 1.0, -1.0)  # empty: unused


VARIANTS: dict[str, dict[str, Any]] = {
    "su_hatd3": {"twin": True, "smoothing": True, "sequential": True, "policy_delay": 2},
    "haddpg": {"twin": False, "smoothing": False, "sequential": True, "policy_delay": 1},
    "matd3": {"twin": True, "smoothing": True, "sequential": False, "policy_delay": 2},
    "maddpg": {"twin": False, "smoothing": False, "sequential": False, "policy_delay": 1},
}
"""The four algorithms of paper D's Fig. 3 as settings of one update."""


class HATD3Agent(TorchAgent[HATD3Config]):
    """The TD3 family on a heterogeneous env (module docstring). ``act`` takes the env's
    observation dict and returns its action dict."""

    kind = "off_policy"
    config_class = HATD3Config
    sizes: HeteroSizes

    def _build(self) -> None:
        s, h, ha = self.sizes, self.config.hidden, self.config.actor_hidden
        if self.config.uav_actor == "fill" and (s.step_fill is None or s.uav_slots < 1):
            raise ValueError(
                "HATD3Config.uav_actor = 'fill' needs an env with queue slots and its step "
                "budget (HeteroSizes.step_fill); this one has none"
            )
        actors: dict[str, nn.Module]
        if self.config.shared_actors:
            actors = {
                "sensor": mlp(s.sensor_obs + s.sensors, 1, ha, nn.ReLU, nn.Tanh),
                "uav": mlp(s.uav_obs + s.uavs, s.uav_action, ha, nn.ReLU, nn.Tanh),
            }
        else:
            actors = {
                "sensor": AgentwiseMLP(s.sensors, s.sensor_obs, 1, ha, nn.Tanh),
                "uav": AgentwiseMLP(s.uavs, s.uav_obs, s.uav_action, ha, nn.Tanh),
            }
        if self.config.sensor_init == "spread" and isinstance(actors["sensor"], AgentwiseMLP):
            _spread_sensors(actors["sensor"], s.uavs)
        self.actors = nn.ModuleDict(actors)
        n_critics = 2 if self.config.twin else 1
        groups = [
            AgentGroup(
                s.sensors,
                s.sensor_obs,
                1,
                bins=s.uavs + 1 if self.config.sensor_action != "value" else 0,
            ),
            AgentGroup(
                s.uavs,
                s.uav_obs,
                s.uav_action,
                s.uav_slots,
                s.uav_slot_obs,
                chosen_by=0 if self.config.sensor_action in ("load", "tasks") else -1,
                chosen_pool=self.config.sensor_action == "tasks",
            ),
        ]
        self.critics = nn.ModuleList(
            [
                GroupPoolCritic(groups, self.config.critic_embed, h)
                if self.config.critic == "agents"
                else mlp(s.state_dim + s.n_actions, 1, h, nn.ReLU)
                for _ in range(n_critics)
            ]
        )
        self.target_actors: nn.ModuleDict = _frozen_copy(self.actors)
        self.target_critics: nn.ModuleList = _frozen_copy(self.critics)
        self.register_buffer("_ids_sensor", torch.eye(s.sensors))
        self.register_buffer("_ids_uav", torch.eye(s.uavs))
        self.stored = 0
        self.updates = 0
        self._pending: list[Transition] = []  # the last n − 1 slots, for n-step transitions
        self.last_joint: dict[str, dict[str, torch.Tensor]] = {}

    def _build_optimizers(self) -> None:
        c = self.config
        self.actor_opt = {
            g: torch.optim.Adam(self.actors[g].parameters(), lr=self._actor_lr(g)) for g in GROUPS
        }
        self.critic_opt = torch.optim.Adam(self.critics.parameters(), lr=c.critic_lr)

    def _actor_lr(self, group: str) -> float:
        c = self.config
        return c.sensor_actor_lr if group == "sensor" and c.sensor_actor_lr else c.actor_lr

    def _optimizers(self) -> dict[str, torch.optim.Optimizer | None]:
        return {
            "actor_sensor_opt": self.actor_opt["sensor"],
            "actor_uav_opt": self.actor_opt["uav"],
            "critic_opt": self.critic_opt,
        }

    def _extra_state(self) -> dict[str, Any]:
        return {"stored": self.stored, "updates": self.updates}

    def _load_extra_state(self, ckpt: dict[str, Any]) -> None:
        self.stored, self.updates = int(ckpt["stored"]), int(ckpt["updates"])

    # ------------------------------------------------------------------ acting
    def policy(
        self, group: str, obs: torch.Tensor, target: bool = False, evaluate: bool = False
    ) -> torch.Tensor:
        """Actions of every agent of ``group`` for observations ``[N, n, d]`` → ``[N, n]``
        (sensors) or ``[N, n, A_u]`` (UAVs), in [−1, 1]; ``evaluate``: the ``fill`` layer
        at ``fill_eval_temperature``."""
        pre = self.pre_tanh(group, obs, target)
        out = torch.tanh(pre)
        if group == "sensor":
            return out.squeeze(-1)
        if self.config.uav_actor == "fill":
            s, c = self.sizes, self.config
            own = s.uav_action - s.uav_slots
            assert s.step_fill is not None
            temperature, softness = c.fill_temperature, c.fill_softness
            if evaluate and c.fill_eval_temperature is not None:
                softness *= c.fill_eval_temperature / temperature
                temperature = c.fill_eval_temperature
            weights = fill_weights(
                pre[..., own:], obs, s.step_fill, s.uav_slot_obs, temperature, softness
            )
            out = torch.cat([out[..., :own], weights], dim=-1)
        return out

    def pre_tanh(self, group: str, obs: torch.Tensor, target: bool = False) -> torch.Tensor:
        """The actor's output before its tanh, ``[N, n, A]``."""
        x = obs
        net = (self.target_actors if target else self.actors)[group]
        if self.config.shared_actors:
            ids: torch.Tensor = self.get_buffer("_ids_sensor" if group == "sensor" else "_ids_uav")
            x = torch.cat([obs, ids.expand(obs.shape[0], -1, -1)], dim=-1)
            assert isinstance(net, nn.Sequential)
            body: torch.Tensor = net[:-1](x)  # the Sequential without its final Tanh
            return body
        assert isinstance(net, AgentwiseMLP)
        return net.pre_activation(x)

    def noise_scale(self) -> float:
        """The exploration σ now (linear decay over stored transitions)."""
        c = self.config
        frac = min(1.0, self.stored / max(c.noise_decay_steps, 1))
        return c.explore_noise + frac * (c.explore_noise_end - c.explore_noise)

    @torch.no_grad()
    def act(
        self, obs: dict[str, np.ndarray], mask: Any = None, deterministic: bool = False
    ) -> dict[str, np.ndarray]:
        """The env's action dict for observations ``{"sensor": [B, K, ds], "uav": [B, U, du]}``."""
        out = {}
        sigma = 0.0 if deterministic else self.noise_scale()
        for g in GROUPS:
            x = torch.as_tensor(np.asarray(obs[g]), dtype=torch.float32, device=self.device)
            a = self.policy(g, x, evaluate=deterministic)
            if sigma > 0:
                a = a + sigma * torch.randn(a.shape, generator=self._gen, device=self.device)
            out[g] = a.clamp(-1.0, 1.0).cpu().numpy().astype(np.float64)
        return out

    # ------------------------------------------------------------------ replay
    def make_buffer(self) -> ReplayBuffer:
        """Joint transitions: state rows, joint actions, the shared reward."""
        return ReplayBuffer(
            self.config.buffer_size, self.sizes.state_dim, action_dim=self.sizes.n_actions
        )

    def joint_action(self, action: dict[str, np.ndarray]) -> np.ndarray:
        """The env's action dict → joint action rows ``[B, n_actions]`` (sensors first)."""
        b = np.asarray(action["sensor"]).shape[0]
        return np.concatenate([np.asarray(action["sensor"]).reshape(b, -1),
                               np.asarray(action["uav"]).reshape(b, -1)], axis=1)  # fmt: skip

    def store(self, buffer: ReplayBuffer, step: Transition, /) -> int:
        """Add one slot of every copy (``obs``/``next_obs`` are state rows); how many.

        With ``n_step`` > 1 the slot waits until n − 1 more slots of the same episodes have
        come (a slot whose ``obs`` is not the previous ``next_obs`` starts new episodes and
        drops the unfinished ones); then the n-step transition of the oldest is added."""
        n = int(np.asarray(step.rewards).shape[0])
        self.stored += n
        steps = self.config.n_step
        if steps == 1:
            buffer.add(step)
            return n
        pending = self._pending
        if pending and not np.array_equal(pending[-1].next_obs, step.obs):
            pending.clear()
        pending.append(step)
        if len(pending) == steps:
            first = pending.pop(0)
            ret = np.asarray(first.rewards, dtype=np.float64).copy()
            alive = ~np.asarray(first.terminated, dtype=bool)
            for i, later in enumerate([*pending], start=1):
                ret += alive * self.config.gamma**i * np.asarray(later.rewards)
                alive &= ~np.asarray(later.terminated, dtype=bool)
            buffer.add(Transition(first.obs, first.actions, ret, step.next_obs, ~alive))
        return n

    def learn(
        self, buffer: ReplayBuffer, rng: np.random.Generator | None = None
    ) -> dict[str, float]:
        """``updates_per_step`` updates once ``learning_starts`` transitions are stored."""
        c = self.config
        if len(buffer) < max(c.learning_starts, 1):
            return {}
        rng = self._rng if rng is None else rng
        metrics: list[dict[str, float]] = []
        for _ in range(c.updates_per_step):
            metrics.append(self.update(buffer.sample(c.batch_size, rng, self.device)))
        return {k: float(np.mean([m[k] for m in metrics if k in m])) for k in metrics[-1]}

    # ------------------------------------------------------------------ the update
    def q(
        self, critics: nn.ModuleList, state: torch.Tensor, joint: dict[str, torch.Tensor]
    ) -> list[torch.Tensor]:
        """Every critic's Q(s, a) ``[N]`` for a joint action given per type."""
        n = state.shape[0]
        a = torch.cat([joint["sensor"].reshape(n, -1), joint["uav"].reshape(n, -1)], dim=1)
        x = torch.cat([state, a], dim=1)
        return [critic(x).squeeze(-1) for critic in critics]

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One critic update and, every ``policy_delay``, the actors' (module docstring)."""
        c, s = self.config, self.sizes
        state, next_state = batch["obs"].float(), batch["next_obs"].float()
        reward = batch["rewards"].float() * c.reward_scale
        done = batch["terminated"].float()
        obs = dict(zip(GROUPS, s.split_state(state), strict=True))
        next_obs = dict(zip(GROUPS, s.split_state(next_state), strict=True))
        # 1. critics
        with torch.no_grad():
            next_a = {}
            for g in GROUPS:
                a = self.policy(g, next_obs[g], target=True)
                if c.smoothing:
                    noise = torch.randn(a.shape, generator=self._gen, device=self.device)
                    a = a + (c.target_noise * noise).clamp(-c.noise_clip, c.noise_clip)
                next_a[g] = a.clamp(-1.0, 1.0)
            q_next = torch.stack(self.q(self.target_critics, next_state, next_a)).min(dim=0).values
            y = reward + c.gamma**c.n_step * (1.0 - done) * q_next
        qs = self.q(self.critics, state, s.split_action(batch["actions"].float()))
        critic_loss = torch.stack([nn.functional.mse_loss(qv, y) for qv in qs]).sum()
        self.critic_opt.zero_grad()
        critic_loss.backward()
        nn.utils.clip_grad_norm_(self.critics.parameters(), c.max_grad_norm)
        self.critic_opt.step()
        self.updates += 1
        out = {"critic_loss": float(critic_loss.detach()), "q": float(qs[0].detach().mean())}
        if self.updates % c.policy_delay:
            return out
        # 2. actors, in order: a later type sees an earlier one's updated actions when sequential
        order = list(GROUPS)
        if c.order == "random" and torch.rand((), generator=self._gen, device=self.device) < 0.5:
            order.reverse()
        with torch.no_grad():
            current = {g: self.policy(g, obs[g]) for g in GROUPS}  # before this update
        for p in self.critics.parameters():
            p.requires_grad_(False)
        for g in order:
            joint = dict(current)
            pre = self.pre_tanh(g, obs[g])
            joint[g] = torch.tanh(pre).squeeze(-1) if g == "sensor" else torch.tanh(pre)
            if g == "sensor" and c.sensor_share < 1.0:
                shape = (1, s.sensors)
                pick = torch.rand(shape, generator=self._gen, device=self.device) < c.sensor_share
                joint[g] = torch.where(pick, joint[g], current[g])
            actor_loss = -self.q(self.critics[:1], state, joint)[0].mean()
            excess = torch.relu(pre.abs() - c.action_reg_free)
            actor_loss = actor_loss + c.action_reg * excess.pow(2).mean()
            self.actor_opt[g].zero_grad()
            actor_loss.backward()
            nn.utils.clip_grad_norm_(self.actors[g].parameters(), c.max_grad_norm)
            self.actor_opt[g].step()
            self.last_joint[g] = {k: v.detach() for k, v in joint.items()}
            out[f"actor_loss_{g}"] = float(actor_loss.detach())
            if c.sequential:
                with torch.no_grad():
                    current[g] = self.policy(g, obs[g])  # the updated actions
        for p in self.critics.parameters():
            p.requires_grad_(True)
        # 3. targets
        polyak_update(
            [(self.actors, self.target_actors), (self.critics, self.target_critics)], c.tau
        )
        return out


def _spread_sensors(net: AgentwiseMLP, uavs: int) -> None:
    """Start sensor k's output at the centre of UAV (k mod U)'s bin of eq. (21) (U + 1 equal
    bins of [−1, 1], "no offload" first): bias atanh(centre), last weights shrunk × 0.1."""
    with torch.no_grad():
        n = net.biases[-1].shape[0]
        bins = 1 + torch.arange(n) % uavs
        centre = -1.0 + (2.0 * bins + 1.0) / (uavs + 1)
        net.biases[-1][:, 0] = torch.atanh(centre.clamp(-0.95, 0.95))
        net.weights[-1].mul_(0.1)


M = TypeVar("M", bound=nn.Module)


def _frozen_copy(module: M) -> M:
    import copy

    target = copy.deepcopy(module)
    for p in target.parameters():
        p.requires_grad_(False)
    return target
