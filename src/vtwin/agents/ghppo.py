"""GHPPO: paper C's "GDM-assisted hybrid PPO" baseline (its ref. [22], Wang et al. 2024).

An extension of H-PPO "that introduces a generative diffusion model for discrete action
generation while modeling continuous actions using parameterized policies" (paper C Sec. 6.1):

* discrete part: HDPPO's diffusion actor — a mean-only chain of U = 5 steps from x_U = 0 whose
  x_0 are the per-AV server logits (eq. (28));
* continuous part: H-PPO's MLP head, per-AV means of ``u`` offset by 0.5 and a learned log-σ
  (eq. (27) with an MLP instead of a chain);
* one critic V(s); joint ratio, clipped surrogate, clipped value loss and the annealed
  discrete entropy bonus exactly as HDPPO (eqs. (29)–(32)), so that the two differ only in
  the continuous actor and the auxiliary loss.

No auxiliary reconstruction loss (``aux_coef = 0``): eq. (33) is paper C's own addition, and
the abstract of ref. [22] ("a denoising network is taken as the actor network in PPO")
describes none. The update is HDPPO's (:meth:`vtwin.agents.hdppo.HDPPOAgent.update`, read top
to bottom in one place); this module only fixes the two settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from vtwin.agents.hdppo import HDPPOAgent, HDPPOConfig

__all__ = ["GHPPOAgent", "GHPPOConfig"]


@dataclass(frozen=True)
class GHPPOConfig(HDPPOConfig):
    """HDPPO's hyper-parameters with an MLP continuous head and no auxiliary loss."""

    continuous_actor: Literal["diffusion", "mlp"] = "mlp"
    aux_coef: float = 0.0
    aux_coef_final: float = 0.0


class GHPPOAgent(HDPPOAgent):
    """Diffusion discrete actor, MLP continuous head and critic V(s), trained with PPO."""

    config_class = GHPPOConfig
