"""Diffusion-inference offloading to UAVs: fidelity, delay, motion, utility (paper D; SPEC §D).

The available copy of paper D lost its equations; SPEC §D restates them and this module
follows SPEC's numbering: (1) fidelity, (2)–(3) UAV motion, (9)–(10) offload delay,
(11) system delay, (12) system utility, (18) step allocation. The channel of eqs. (7)–(8) is
in :mod:`vtwin.physics.channel` (:func:`~vtwin.physics.channel.inverse_square_gain`,
:func:`~vtwin.physics.channel.shannon_rate_bps`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from vtwin.physics._checks import FloatArray, _as_float, _check_ge, _check_gt, _ret
from vtwin.physics.latency import transmission_latency_s


def fidelity(
    z: ArrayLike,
    z_min: ArrayLike,
    z_max: ArrayLike,
    f_max: ArrayLike,
    concave: bool = False,
) -> FloatArray:
    """DT fidelity gain of z inference steps (paper D eq. (1), SPEC §D).

    Linear: F_max (z − z_min)/(z_max − z_min). Concave option:
    F_max log(1 + z − z_min)/log(1 + z_max − z_min). Steps outside [z_min, z_max] are clipped
    first: fewer than z_min gives no gain, and steps past z_max add nothing.
    """
    lo = _as_float(z_min)
    hi = _as_float(z_max)
    bad = ~(hi > lo)
    if np.any(bad):
        lo_b, hi_b = np.broadcast_arrays(lo, hi)
        raise ValueError(
            f"z_max must be > z_min, got z_max={float(hi_b[bad].flat[0])!r} "
            f"<= z_min={float(lo_b[bad].flat[0])!r}"
        )
    fm = _check_ge("f_max", f_max)
    zz = np.clip(_as_float(z), lo, hi)
    if concave:
        return _ret(fm * np.log1p(zz - lo) / np.log1p(hi - lo))
    return _ret(fm * (zz - lo) / (hi - lo))


def uav_move(
    xy: ArrayLike, speed_mps: ArrayLike, heading_rad: ArrayLike, slot_s: ArrayLike
) -> FloatArray:
    """Next UAV position (x + vτ cos φ, y + vτ sin φ); ``xy`` is [..., 2] (paper D eqs. (2)–(3)).

    No clipping here: the speed, per-slot distance and area constraints (eqs. (4)–(6)) are the
    environment's job, since it also has to count the violations.
    """
    p = _as_float(xy)
    if p.shape[-1:] != (2,):
        raise ValueError(f"xy must have a last axis of length 2, got shape {p.shape}")
    v = _check_ge("speed_mps", speed_mps)
    phi = _as_float(heading_rad)
    tau = _check_ge("slot_s", slot_s)
    step = v * tau
    return p + np.stack([step * np.cos(phi), step * np.sin(phi)], axis=-1)


def inference_latency_s(steps: ArrayLike, steps_per_s: ArrayLike) -> FloatArray:
    """Diffusion inference time z/f_u with f_u in steps/s (paper D eq. (10))."""
    z = _check_ge("steps", steps)
    f = _check_gt("steps_per_s", steps_per_s)
    return _ret(z / f)


def offload_latency_s(
    data_bits: ArrayLike, rate_bps: ArrayLike, steps: ArrayLike, steps_per_s: ArrayLike
) -> FloatArray:
    """Per-task delay T_k = D_k/R + z_k/f_u: upload then inference (paper D eqs. (9)–(10))."""
    return _ret(
        transmission_latency_s(data_bits, rate_bps) + inference_latency_s(steps, steps_per_s)
    )


def system_delay_s(
    task_latency_s: ArrayLike,
    assigned_uav: ArrayLike,
    num_uavs: int,
    aggregate: Literal["sum", "max_per_uav"] = "sum",
) -> FloatArray:
    """Slot delay T(t) over offloaded tasks (paper D eq. (11), SPEC §D).

    ``task_latency_s`` and ``assigned_uav`` are [..., K]; ``assigned_uav`` holds the UAV index
    of each task or −1 when the task is not offloaded (it then counts for nothing).
    ``aggregate="sum"``: Σ_k T_k (the default). ``"max_per_uav"``: each UAV contributes the
    delay of its slowest task, and the UAVs' contributions are summed.
    """
    t = _check_ge("task_latency_s", task_latency_s)
    u = np.asarray(assigned_uav)
    if not np.issubdtype(u.dtype, np.integer):
        raise ValueError(f"assigned_uav must be integer UAV indices, got dtype {u.dtype}")
    if int(num_uavs) != num_uavs or num_uavs < 1:
        raise ValueError(f"num_uavs must be an integer >= 1, got {num_uavs!r}")
    bad = (u < -1) | (u >= num_uavs)
    if np.any(bad):
        raise ValueError(f"assigned_uav must be in [-1, {num_uavs - 1}], got {int(u[bad].flat[0])}")
    t, u = np.broadcast_arrays(t, u)
    if aggregate == "sum":
        return _ret(np.sum(np.where(u >= 0, t, 0.0), axis=-1))
    if aggregate == "max_per_uav":
        on_uav = u[..., None, :] == np.arange(int(num_uavs))[:, None]  # [..., U, K]
        per_uav = np.max(np.where(on_uav, t[..., None, :], 0.0), axis=-1)
        return _ret(np.sum(per_uav, axis=-1))
    raise ValueError(f"aggregate must be 'sum' or 'max_per_uav', got {aggregate!r}")


def system_utility(
    fidelities: ArrayLike, total_delay_s: ArrayLike, w1: float, w2: float
) -> FloatArray:
    """System utility U = w1 Σ_k F_k − w2 T(t), F summed over the last axis (paper D eq. (12))."""
    f = _as_float(fidelities)
    t = _check_ge("total_delay_s", total_delay_s)
    _check_ge("w1", w1)
    _check_ge("w2", w2)
    return _ret(w1 * np.sum(f, axis=-1) - w2 * t)


def allocate_steps(weights: ArrayLike, budget: ArrayLike) -> FloatArray:
    """Split a UAV's step budget, z_k = w_k/Σw · Z_u over the last axis (paper D eq. (18)).

    Weights must be non-negative; all-zero weights allocate nothing. Steps are real numbers
    (round them in the caller if an integer count is needed).
    """
    w = _check_ge("weights", weights)
    z_u = _check_ge("budget", budget)
    total = np.sum(w, axis=-1, keepdims=True)
    share = np.where(total > 0.0, w / np.where(total > 0.0, total, 1.0), 0.0)
    return _ret(share * np.asarray(z_u)[..., None])


__all__ = [
    "allocate_steps",
    "fidelity",
    "inference_latency_s",
    "offload_latency_s",
    "system_delay_s",
    "system_utility",
    "uav_move",
]
