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

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from vtwin.physics._checks import FloatArray, _check_ge, _check_gt, _ret


@dataclass(frozen=True)
class Rotor:
    """Constants of the rotary-wing propulsion model P(V) (SPEC §0 defaults), checked once."""

    blade_profile_w: float = 79.86
    """Blade-profile power in hover P0, W (>= 0)."""
    induced_w: float = 88.63
    """Induced power in hover P_i, W (>= 0)."""
    tip_speed_mps: float = 120.0
    """Rotor blade tip speed U_tip, m/s (> 0)."""
    mean_induced_velocity_mps: float = 4.03
    """Mean rotor induced velocity in hover v0, m/s (> 0)."""
    drag_ratio: float = 0.6
    """Fuselage drag ratio d0 (>= 0)."""
    air_density_kgpm3: float = 1.225
    """Air density ρ, kg/m³ (>= 0)."""
    rotor_solidity: float = 0.05
    """Rotor solidity s (>= 0)."""
    rotor_area_m2: float = 0.503
    """Rotor disc area A_r, m² (>= 0)."""

    def __post_init__(self) -> None:
        _check_ge("blade_profile_w", self.blade_profile_w)
        _check_ge("induced_w", self.induced_w)
        _check_gt("tip_speed_mps", self.tip_speed_mps)
        _check_gt("mean_induced_velocity_mps", self.mean_induced_velocity_mps)
        for name in ("drag_ratio", "air_density_kgpm3", "rotor_solidity", "rotor_area_m2"):
            _check_ge(name, getattr(self, name))


_DEFAULT_ROTOR = Rotor()


def rotary_wing_power_w(speed_mps: ArrayLike, rotor: Rotor | None = None) -> FloatArray:
    """Propulsion power P(V) in watts of a rotary-wing UAV flying level at V m/s (SPEC §0)."""
    v = _check_ge("speed_mps", speed_mps)
    r = _DEFAULT_ROTOR if rotor is None else rotor
    v2 = v * v
    v0_2 = r.mean_induced_velocity_mps * r.mean_induced_velocity_mps
    blade = r.blade_profile_w * (1.0 + 3.0 * v2 / r.tip_speed_mps**2)
    # x = √(1 + V⁴/(4v0⁴)) − V²/(2v0²) is positive but suffers cancellation at high speed;
    # the equivalent form 1 / (√(1 + y²) + y) with y = V²/(2v0²) is exact and stable.
    y = v2 / (2.0 * v0_2)
    induced = r.induced_w * np.sqrt(1.0 / (np.sqrt(1.0 + y * y) + y))
    parasite = (
        0.5 * r.drag_ratio * r.air_density_kgpm3 * r.rotor_solidity * r.rotor_area_m2 * v2 * v
    )
    return _ret(blade + induced + parasite)


def hover_power_w(rotor: Rotor | None = None) -> float:
    """Hover power P(0) = P0 + P_i in watts (SPEC §0); ``rotor`` defaults to :class:`Rotor` ()."""
    return float(rotary_wing_power_w(0.0, rotor))


def flight_energy_j(
    distance_m: ArrayLike, speed_mps: ArrayLike, rotor: Rotor | None = None
) -> FloatArray:
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
    power = rotary_wing_power_w(np.maximum(safe_v, 0.0), rotor)
    return _ret(np.where(moving, power * d / safe_v, 0.0))


def hover_energy_j(duration_s: ArrayLike, rotor: Rotor | None = None) -> FloatArray:
    """Energy P(0)·t in joules spent hovering for ``duration_s`` seconds (SPEC §0)."""
    t = _check_ge("duration_s", duration_s)
    return _ret(hover_power_w(rotor) * t)


__all__ = ["Rotor", "flight_energy_j", "hover_energy_j", "hover_power_w", "rotary_wing_power_w"]
