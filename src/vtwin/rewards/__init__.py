"""Rewards: an env's named per-slot terms → a reward and its named components.

An env computes raw terms per slot, each batched ``[B, V]`` (copies × vehicles), and hands
them to the reward chosen by config (``reward: {kind: …, weights: {…}}``):

* ``paper-a`` — :class:`PaperAReward`, paper A's latency plus overload penalty;
* ``paper-b`` — :class:`PaperBReward`, paper B eq. (22) with z-scores over time (scopes
  ``reference``, ``episode``, ``env``; :func:`reference_moments` calibrates the first);
* ``paper-c`` — :class:`PaperCReward`, paper C eq. (20) (the utility of eq. (17));
* ``paper-c-llm`` — :class:`PaperCLLMReward`, paper C eq. (21), the LLM-designed reward;
* ``paper-d`` — :class:`PaperDReward`, paper D eqs. (19)–(20) (utility minus penalties);
* ``sandbox:FILE|RUN_DIR|NAME`` — untrusted code run in a sandbox worker
  (:mod:`vtwin.rewards.sandbox`);
* ``package.module:function`` — a user reward, or a Python callable given to the env: it is
  loaded and checked at load (:func:`validate_reward`) by calling it once on sample terms.

Rewards never import envs: the reference calibration takes an env factory.
"""

from vtwin.rewards.base import (
    FunctionReward,
    Reward,
    RewardFn,
    RewardOutput,
    RewardTerms,
    TermSpec,
    load_reward,
    make_reward,
    reward_info,
    validate_reward,
)
from vtwin.rewards.paper_a import PaperAReward
from vtwin.rewards.paper_b import EnvFactory, PaperBReward, reference_moments
from vtwin.rewards.paper_c import PaperCLLMReward, PaperCReward
from vtwin.rewards.paper_d import PaperDReward

__all__ = [
    "EnvFactory",
    "FunctionReward",
    "PaperAReward",
    "PaperBReward",
    "PaperCLLMReward",
    "PaperCReward",
    "PaperDReward",
    "Reward",
    "RewardFn",
    "RewardOutput",
    "RewardTerms",
    "TermSpec",
    "load_reward",
    "make_reward",
    "reference_moments",
    "reward_info",
    "validate_reward",
]
