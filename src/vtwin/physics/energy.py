"""UAV propulsion power and energy, rotary-wing model (SPEC §0, "UAV energy").

Paper A only cites an empirical energy model without giving it; vtwin uses the standard
rotary-wing propulsion model instead (our choice, SPEC §0):

    P(V) = P0 (1 + 3V²/U_tip²)
         + P_i (√(1 + V⁴/(4 v0⁴)) − V²/(2 v0²))^{1/2}
         + ½ d0 ρ s A_r V³

The three terms are blade-profile power, induced power and parasite (fuselage drag) power.
At V = 0 it reduces to the hover power P0 + P_i = 168.49 W with the default constants; it
falls to a minimum at a moderate cruise speed and then grows with the V³ drag term.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from vtwin.physics._checks import FloatArray, _check_ge, _check_gt, _ret


def rotary_wing_power_w(
    speed_mps: ArrayLike,
    *,
    blade_profile_w: float = 79.86,
    induced_w: float = 88.63,
    tip_speed_mps: float = 120.0,
    mean_induced_velocity_mps: float = 4.03,
    drag_ratio: float = 0.6,
    air_density_kgpm3: float = 1.225,
    rotor_solidity: float = 0.05,
    rotor_area_m2: float = 0.503,
) -> FloatArray:
    """Propulsion power P(V) in watts of a rotary-wing UAV flying level at V m/s (SPEC §0)."""
    v = _check_ge("speed_mps", speed_mps)
    _check_ge("blade_profile_w", blade_profile_w)
    _check_ge("induced_w", induced_w)
    _check_gt("tip_speed_mps", tip_speed_mps)
    _check_gt("mean_induced_velocity_mps", mean_induced_velocity_mps)
    _check_ge("drag_ratio", drag_ratio)
    _check_ge("air_density_kgpm3", air_density_kgpm3)
    _check_ge("rotor_solidity", rotor_solidity)
    _check_ge("rotor_area_m2", rotor_area_m2)

    v2 = v * v
    v0_2 = mean_induced_velocity_mps * mean_induced_velocity_mps
    blade = blade_profile_w * (1.0 + 3.0 * v2 / tip_speed_mps**2)
    # x = √(1 + V⁴/(4v0⁴)) − V²/(2v0²) is positive but suffers cancellation at high speed;
    # the equivalent form 1 / (√(1 + y²) + y) with y = V²/(2v0²) is exact and stable.
    y = v2 / (2.0 * v0_2)
    induced = induced_w * np.sqrt(1.0 / (np.sqrt(1.0 + y * y) + y))
    parasite = 0.5 * drag_ratio * air_density_kgpm3 * rotor_solidity * rotor_area_m2 * v2 * v
    return _ret(blade + induced + parasite)


def hover_power_w(**rotor: float) -> float:
    """Hover power P(0) = P0 + P_i in watts (SPEC §0); ``rotor`` overrides the model constants."""
    return float(rotary_wing_power_w(0.0, **rotor))


def flight_energy_j(distance_m: ArrayLike, speed_mps: ArrayLike, **rotor: float) -> FloatArray:
    """Propulsion energy P(V)·d/V in joules to fly ``distance_m`` at constant ``speed_mps``.

    A zero distance costs nothing whatever the speed. A positive distance at V ≤ 0 has no
    meaning (the flight never ends) and raises ValueError; use :func:`hover_energy_j` for
    time spent hovering.
    """
    d = _check_ge("distance_m", distance_m)
    v = np.asarray(speed_mps, dtype=np.float64)
    d, v = np.broadcast_arrays(d, v)
    moving = d > 0.0
    bad = moving & ~(v > 0.0)
    if np.any(bad):
        raise ValueError(
            "speed_mps must be > 0 when distance_m > 0, "
            f"got {float(v[bad].flat[0])!r} for distance {float(d[bad].flat[0])!r}"
        )
    safe_v = np.where(moving, v, 1.0)
    power = rotary_wing_power_w(np.maximum(safe_v, 0.0), **rotor)
    return _ret(np.where(moving, power * d / safe_v, 0.0))


def hover_energy_j(duration_s: ArrayLike, **rotor: float) -> FloatArray:
    """Energy P(0)·t in joules spent hovering for ``duration_s`` seconds (SPEC §0)."""
    t = _check_ge("duration_s", duration_s)
    return _ret(hover_power_w(**rotor) * t)


__all__ = ["flight_energy_j", "hover_energy_j", "hover_power_w", "rotary_wing_power_w"]
