"""Service latency, compute queues, migration and backhaul (papers A, B, C; SPEC §A–§C).

Every function is a closed-form piece of one paper's latency model and broadcasts over numpy
arrays. Units: bits for data, CPU cycles for compute loads, Hz (cycles/s) for processors,
bit/s for link rates, seconds for latency.

A rate of 0 bit/s gives an infinite transfer time for a positive amount of data (the data
never arrives) and 0 s for no data; negative quantities raise ValueError.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from vtwin.physics._checks import FloatArray, _as_float, _check_ge, _check_gt, _check_in, _ret


def _safe_div(num: FloatArray, den: FloatArray) -> FloatArray:
    """num/den with 0/0 → 0 and x/0 → inf for x > 0 (time to move x bits over a dead link)."""
    num, den = np.broadcast_arrays(num, den)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    return np.where(num == 0.0, 0.0, out)


def _as_bool(name: str, value: ArrayLike) -> NDArray[np.bool_]:
    """``value`` as a boolean array; accepts bools or 0/1 numbers, rejects anything else."""
    arr = np.asarray(value)
    if arr.dtype == np.bool_:
        return arr
    num = arr.astype(np.float64)
    bad = (num != 0.0) & (num != 1.0)
    if np.any(bad):
        raise ValueError(f"{name} must be boolean or 0/1, got {float(num[bad].flat[0])!r}")
    return np.asarray(num == 1.0, dtype=np.bool_)


# --------------------------------------------------------------------------------------------
# Generic transfer time (used by papers A, B, C and D).
# --------------------------------------------------------------------------------------------


def transmission_latency_s(bits: ArrayLike, rate_bps: ArrayLike) -> FloatArray:
    """Time S/R to push ``bits`` over a link of ``rate_bps`` (paper B eqs. (6)–(7), C (9)–(10))."""
    s = _check_ge("bits", bits)
    r = _check_ge("rate_bps", rate_bps)
    return _ret(_safe_div(s, r))


# --------------------------------------------------------------------------------------------
# Paper A: partial pre-migration of a VT task (SPEC §A).
# --------------------------------------------------------------------------------------------


def premigration_latency_s(
    fraction: ArrayLike, task_bits: ArrayLike, link_rate_bps: ArrayLike
) -> FloatArray:
    """Pre-migration transfer time α·D_task/B_{e,e_m} (paper A Sec. II-B, unnumbered)."""
    a = _check_in("fraction", fraction, 0.0, 1.0)
    d = _check_ge("task_bits", task_bits)
    b = _check_ge("link_rate_bps", link_rate_bps)
    return _ret(_safe_div(a * d, b))


def _processing_args(
    load_cycles: ArrayLike,
    fraction: ArrayLike,
    task_bits: ArrayLike,
    cycles_per_bit: ArrayLike,
    compute_hz: ArrayLike,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Checked arguments of paper A eqs. (1)–(2): queue L (cycles), α in [0, 1], D_task, f_v,
    and the server's c > 0."""
    return (
        _check_ge("load_cycles", load_cycles),
        _check_in("fraction", fraction, 0.0, 1.0),
        _check_ge("task_bits", task_bits),
        _check_ge("cycles_per_bit", cycles_per_bit),
        _check_gt("compute_hz", compute_hz),
    )


def local_processing_latency_s(
    load_cycles: ArrayLike,
    fraction: ArrayLike,
    task_bits: ArrayLike,
    cycles_per_bit: ArrayLike,
    compute_hz: ArrayLike,
) -> FloatArray:
    """Serving-RSU processing time (L_e + (1−α) D_task f_v)/c_e (paper A eq. (1))."""
    load, a, d, fv, c = _processing_args(
        load_cycles, fraction, task_bits, cycles_per_bit, compute_hz
    )
    return _ret((load + (1.0 - a) * d * fv) / c)


def target_processing_latency_s(
    load_cycles: ArrayLike,
    fraction: ArrayLike,
    task_bits: ArrayLike,
    cycles_per_bit: ArrayLike,
    compute_hz: ArrayLike,
) -> FloatArray:
    """Pre-migration-target processing time (L_em + α D_task f_v)/c_em (paper A eq. (2))."""
    load, a, d, fv, c = _processing_args(
        load_cycles, fraction, task_bits, cycles_per_bit, compute_hz
    )
    return _ret((load + a * d * fv) / c)


def parallel_processing_latency_s(
    local_s: ArrayLike, target_s: ArrayLike, premigration_s: ArrayLike
) -> FloatArray:
    """Processing time max(T_p,e, T_p,em + T_m) of the two parallel shares (paper A eq. (3))."""
    tl = _check_ge("local_s", local_s)
    tt = _check_ge("target_s", target_s)
    tm = _check_ge("premigration_s", premigration_s)
    return _ret(np.maximum(tl, tt + tm))


def split_downlink_latency_s(
    fraction: ArrayLike,
    result_bits: ArrayLike,
    serving_rate_bps: ArrayLike,
    target_rate_bps: ArrayLike,
) -> FloatArray:
    """Downlink (1−α)D_d/R_{v,e} + αD_d/R_{v,em}: each server returns its share (paper A Sec. II-A).

    SPEC §A reading of the downlink sum over RSUs. A share of zero costs nothing even when its
    server is unreachable (rate 0).
    """
    a = _check_in("fraction", fraction, 0.0, 1.0)
    d = _check_ge("result_bits", result_bits)
    r_e = _check_ge("serving_rate_bps", serving_rate_bps)
    r_m = _check_ge("target_rate_bps", target_rate_bps)
    return _ret(_safe_div((1.0 - a) * d, r_e) + _safe_div(a * d, r_m))


def total_latency_s(
    uplink_s: ArrayLike, processing_s: ArrayLike, downlink_s: ArrayLike
) -> FloatArray:
    """End-to-end VT service latency T_u + T_p + T_d (paper A eq. (4))."""
    tu = _check_ge("uplink_s", uplink_s)
    tp = _check_ge("processing_s", processing_s)
    td = _check_ge("downlink_s", downlink_s)
    return _ret(tu + tp + td)


def drain_queue(load: ArrayLike, capacity_per_slot: ArrayLike) -> FloatArray:
    """Queue left after one slot, max(0, L − c·τ), with ``capacity_per_slot`` = c·τ (SPEC §A)."""
    q = _check_ge("load", load)
    c = _check_ge("capacity_per_slot", capacity_per_slot)
    return _ret(np.maximum(q - c, 0.0))


# --------------------------------------------------------------------------------------------
# Paper B: VT migration routing over RSUs, UAVs and a satellite (SPEC §B).
# --------------------------------------------------------------------------------------------


def server_load_bits(
    background_bits: ArrayLike, assignment_onehot: ArrayLike, generated_bits: ArrayLike
) -> FloatArray:
    """Server load S'_m = S_m + Σ_v g_vm S_v (paper B eq. (8)).

    Shapes: ``background_bits`` [..., M], ``assignment_onehot`` [..., V, M] (g_vm ∈ {0, 1},
    at most one server per vehicle), ``generated_bits`` [..., V]. Returns [..., M].
    """
    s_m = _check_ge("background_bits", background_bits)
    g = _as_float(assignment_onehot)
    s_v = _check_ge("generated_bits", generated_bits)
    if g.ndim < 2:
        raise ValueError(f"assignment_onehot must have shape [..., V, M], got {g.shape}")
    bad = (g != 0.0) & (g != 1.0)
    if np.any(bad):
        raise ValueError(f"assignment_onehot entries must be 0 or 1, got {float(g[bad].flat[0])!r}")
    per_vehicle = np.sum(g, axis=-1)
    if np.any(per_vehicle > 1.0):
        raise ValueError(
            "assignment_onehot must assign each vehicle to at most 1 server, "
            f"got a row summing to {float(np.max(per_vehicle)):g}"
        )
    return _ret(s_m + np.sum(g * s_v[..., :, None], axis=-2))


def compute_latency_s(
    load_bits: ArrayLike,
    cycles_per_bit: ArrayLike,
    compute_hz: ArrayLike,
    capacity_bits: ArrayLike,
    overflow_compute_hz: ArrayLike,
) -> FloatArray:
    """Compute time e_v S'/C_m, or e_v S'/C_s on the satellite when S' > L_max (paper B eq. (9))."""
    s = _check_ge("load_bits", load_bits)
    e = _check_ge("cycles_per_bit", cycles_per_bit)
    c_m = _check_gt("compute_hz", compute_hz)
    cap = _check_ge("capacity_bits", capacity_bits)
    c_s = _check_gt("overflow_compute_hz", overflow_compute_hz)
    return _ret(e * s / np.where(s <= cap, c_m, c_s))


def migration_latency_s(
    size_bits: ArrayLike, rate_bps: ArrayLike, changed: ArrayLike
) -> FloatArray:
    """Migration time J·S_mig/R_mig, J = 1 iff the serving server changed (paper B (10), (12))."""
    s = _check_ge("size_bits", size_bits)
    r = _check_ge("rate_bps", rate_bps)
    j = _as_bool("changed", changed)
    return _ret(np.where(j, _safe_div(s, r), 0.0))


def routing_total_latency_s(
    uplink_s: ArrayLike, downlink_s: ArrayLike, compute_s: ArrayLike, migration_s: ArrayLike
) -> FloatArray:
    """Per-vehicle latency T_up + T_down + T_cul + T_mig (paper B eq. (13))."""
    parts = [
        _check_ge("uplink_s", uplink_s),
        _check_ge("downlink_s", downlink_s),
        _check_ge("compute_s", compute_s),
        _check_ge("migration_s", migration_s),
    ]
    return _ret(parts[0] + parts[1] + parts[2] + parts[3])


def cache_carryover_bits(
    load_bits: ArrayLike, compute_hz: ArrayLike, slot_s: ArrayLike, cycles_per_bit: ArrayLike
) -> FloatArray:
    """Data left in the cache for the next slot, max(0, S' − C τ / e_v) (SPEC §B; paper B IV-B)."""
    s = _check_ge("load_bits", load_bits)
    c = _check_ge("compute_hz", compute_hz)
    tau = _check_ge("slot_s", slot_s)
    e = _check_gt("cycles_per_bit", cycles_per_bit)
    return _ret(np.maximum(s - c * tau / e, 0.0))


def failure_indicator(in_range: ArrayLike, overflow: ArrayLike) -> FloatArray:
    """Failure ξ = 1 when out of the server's range or the server overflows (paper B eq. (14))."""
    ok_range = _as_bool("in_range", in_range)
    over = _as_bool("overflow", overflow)
    return _ret((~ok_range | over).astype(np.float64))


def packet_loss_rate(failures: ArrayLike, t_end: int | None = None, axis: int = -1) -> FloatArray:
    """Packet-loss rate Σ_t ξ_t / t_end as a fraction in [0, 1] (paper B eq. (15), without ×100 %).

    ``failures`` holds ξ per slot along ``axis``; ``t_end`` defaults to the number of slots
    there. (The paper sums t = 0 … t_end, i.e. t_end + 1 slots, over t_end; we divide by the
    number of slots the caller passes unless told otherwise.)
    """
    xi = _check_in("failures", failures, 0.0, 1.0)
    n = xi.shape[axis] if t_end is None else t_end
    if n is None or n <= 0:
        raise ValueError(f"t_end must be > 0, got {n!r}")
    return _ret(np.sum(xi, axis=axis) / float(n))


def workload_variance(loads: ArrayLike, axis: int = -1) -> FloatArray:
    """Population variance of server loads, mean (S'_i − μ)² (paper B Sec. IV objective).

    The paper writes Σ_i (S'_i − μ)², which is M times this value; the mean keeps the number
    comparable across scenarios with different server counts.
    """
    x = _as_float(loads)
    return _ret(np.var(x, axis=axis))


# --------------------------------------------------------------------------------------------
# Paper C: agent hosting, backhaul and migration (SPEC §C).
# --------------------------------------------------------------------------------------------


def backhaul_latency_s(
    up_bits: ArrayLike,
    down_bits: ArrayLike,
    backhaul_rate_bps: ArrayLike,
    per_hop_s: ArrayLike,
    hops: ArrayLike,
    needs_backhaul: ArrayLike,
) -> FloatArray:
    """Backhaul time (D_up + D_down)/R_N + 2 φ_back·hops, else 0 (paper C eq. (11)).

    Paid only when ``needs_backhaul``: the agent server is an RSU other than the connected one.
    """
    du = _check_ge("up_bits", up_bits)
    dd = _check_ge("down_bits", down_bits)
    rn = _check_ge("backhaul_rate_bps", backhaul_rate_bps)
    phi = _check_ge("per_hop_s", per_hop_s)
    k = _check_ge("hops", hops)
    need = _as_bool("needs_backhaul", needs_backhaul)
    return _ret(np.where(need, _safe_div(du + dd, rn) + 2.0 * phi * k, 0.0))


def agent_migration_latency_s(
    model_bits: ArrayLike,
    migrated: ArrayLike,
    from_satellite: ArrayLike,
    to_satellite: ArrayLike,
    backhaul_rate_bps: ArrayLike,
    per_hop_s: ArrayLike,
    hops: ArrayLike,
    sat_uplink_bps: ArrayLike,
    sat_downlink_bps: ArrayLike,
) -> FloatArray:
    """AI-agent migration time by case (paper C eq. (13)).

    * not migrated: 0;
    * RSU → RSU: S_m/R_N + φ_mig·hops;
    * RSU → satellite: S_m/R_sat_up;
    * satellite → RSU: S_m/R_sat_down;
    * satellite → satellite: 0 (there is one satellite, so this is not a migration).
    """
    s = _check_ge("model_bits", model_bits)
    moved = _as_bool("migrated", migrated)
    src_sat = _as_bool("from_satellite", from_satellite)
    dst_sat = _as_bool("to_satellite", to_satellite)
    rn = _check_ge("backhaul_rate_bps", backhaul_rate_bps)
    phi = _check_ge("per_hop_s", per_hop_s)
    k = _check_ge("hops", hops)
    r_up = _check_ge("sat_uplink_bps", sat_uplink_bps)
    r_down = _check_ge("sat_downlink_bps", sat_downlink_bps)

    rsu_rsu = _safe_div(s, rn) + phi * k
    rsu_sat = _safe_div(s, r_up)
    sat_rsu = _safe_div(s, r_down)
    out = np.where(
        src_sat,
        np.where(dst_sat, 0.0, sat_rsu),
        np.where(dst_sat, rsu_sat, rsu_rsu),
    )
    return _ret(np.where(moved, out, 0.0))


def agent_compute_latency_s(
    cycles_per_bit: ArrayLike, task_fraction: ArrayLike, up_bits: ArrayLike, compute_hz: ArrayLike
) -> FloatArray:
    """Agent-server compute time c_m·ι·D_up/f (paper C eq. (14); D_task = ι·D_up)."""
    c = _check_ge("cycles_per_bit", cycles_per_bit)
    iota = _check_ge("task_fraction", task_fraction)
    du = _check_ge("up_bits", up_bits)
    f = _check_gt("compute_hz", compute_hz)
    return _ret(c * iota * du / f)


def response_latency_s(
    uplink_s: ArrayLike,
    downlink_s: ArrayLike,
    backhaul_s: ArrayLike,
    migration_s: ArrayLike,
    compute_s: ArrayLike,
) -> FloatArray:
    """Response latency L_up + L_back + L_down + L_mig + L_comp (paper C eqs. (12), (15))."""
    parts = [
        _check_ge("uplink_s", uplink_s),
        _check_ge("downlink_s", downlink_s),
        _check_ge("backhaul_s", backhaul_s),
        _check_ge("migration_s", migration_s),
        _check_ge("compute_s", compute_s),
    ]
    return _ret(parts[0] + parts[1] + parts[2] + parts[3] + parts[4])


def qos_loss(distance_km: ArrayLike) -> FloatArray:
    """QoS penalty ln(1 + d) with d the true-to-perturbed distance in km (paper C eq. (16))."""
    d = _check_ge("distance_km", distance_km)
    return _ret(np.log1p(d))


def utility(
    entropy: ArrayLike,
    latency: ArrayLike,
    qos: ArrayLike,
    w_e: float = 1.0,
    w_l: float = 0.02,
    w_q: float = 0.2,
) -> FloatArray:
    """Per-AV utility ω_E E − ω_L L − ω_Q Q (paper C eq. (17)); entropy in bits, latency in s."""
    e = _as_float(entropy)
    lat = _as_float(latency)
    q = _as_float(qos)
    return _ret(w_e * e - w_l * lat - w_q * q)


__all__ = [
    "agent_compute_latency_s",
    "agent_migration_latency_s",
    "backhaul_latency_s",
    "cache_carryover_bits",
    "compute_latency_s",
    "drain_queue",
    "failure_indicator",
    "local_processing_latency_s",
    "migration_latency_s",
    "packet_loss_rate",
    "parallel_processing_latency_s",
    "premigration_latency_s",
    "qos_loss",
    "response_latency_s",
    "routing_total_latency_s",
    "server_load_bits",
    "split_downlink_latency_s",
    "target_processing_latency_s",
    "total_latency_s",
    "transmission_latency_s",
    "utility",
]
