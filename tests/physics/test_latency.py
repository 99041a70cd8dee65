"""Tests for vtwin.physics.latency: papers A, B and C latency, queue and migration formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vtwin.physics.latency import (
    agent_compute_latency_s,
    agent_migration_latency_s,
    backhaul_latency_s,
    cache_carryover_bits,
    compute_latency_s,
    drain_queue,
    failure_indicator,
    local_processing_latency_s,
    migration_latency_s,
    packet_loss_rate,
    parallel_processing_latency_s,
    premigration_latency_s,
    qos_loss,
    response_latency_s,
    routing_total_latency_s,
    server_load_bits,
    split_downlink_latency_s,
    target_processing_latency_s,
    total_latency_s,
    transmission_latency_s,
    utility,
    workload_variance,
)

MB = 8e6  # bits in a megabyte (10^6 bytes)

# --------------------------------------------------------------------------------------------
# generic transfer
# --------------------------------------------------------------------------------------------


def test_transmission_latency() -> None:
    # 1 MB over 20 Mbit/s (Starlink uplink) = 8e6/2e7 = 0.4 s
    assert transmission_latency_s(MB, 20e6) == pytest.approx(0.4, rel=1e-15)
    np.testing.assert_allclose(transmission_latency_s([MB, 2 * MB], 100e6), [0.08, 0.16])
    # nothing to send takes no time, even over a dead link; something over a dead link never
    # arrives
    assert transmission_latency_s(0.0, 0.0) == 0.0
    assert transmission_latency_s(1.0, 0.0) == math.inf
    with pytest.raises(ValueError, match=r"rate_bps must be >= 0, got -1\.0"):
        transmission_latency_s(1.0, -1.0)
    with pytest.raises(ValueError, match=r"bits must be >= 0, got -8\.0"):
        transmission_latency_s(-8.0, 1.0)


# --------------------------------------------------------------------------------------------
# paper A
# --------------------------------------------------------------------------------------------


def test_premigration_latency() -> None:
    # α = 0.5, D = 1 MB = 8e6 bit, B = 100 Mbit/s → 0.5·8e6/1e8 = 0.04 s
    assert premigration_latency_s(0.5, MB, 1e8) == pytest.approx(0.04, rel=1e-15)
    assert premigration_latency_s(0.0, MB, 0.0) == 0.0  # nothing migrated
    with pytest.raises(ValueError, match=r"fraction must be in \[0, 1\], got 1\.5"):
        premigration_latency_s(1.5, MB, 1e8)


def test_processing_latencies() -> None:
    # serving RSU: (L + (1−α) D f_v)/c = (1e9 + 0.75·8e6·100)/1e10 = 1.6e9/1e10 = 0.16 s
    assert local_processing_latency_s(1e9, 0.25, MB, 100.0, 1e10) == pytest.approx(0.16)
    # target: (L + α D f_v)/c = (2e9 + 0.25·8e8)/2e10 = 2.2e9/2e10 = 0.11 s
    assert target_processing_latency_s(2e9, 0.25, MB, 100.0, 2e10) == pytest.approx(0.11)
    # α = 0 keeps everything local; α = 1 sends everything away
    assert local_processing_latency_s(0.0, 1.0, MB, 100.0, 1e10) == 0.0
    assert target_processing_latency_s(0.0, 0.0, MB, 100.0, 1e10) == 0.0
    with pytest.raises(ValueError, match=r"compute_hz must be > 0, got 0\.0"):
        local_processing_latency_s(1e9, 0.25, MB, 100.0, 0.0)
    with pytest.raises(ValueError, match=r"load_cycles must be >= 0"):
        target_processing_latency_s(-1.0, 0.25, MB, 100.0, 1e10)


def test_parallel_processing_latency() -> None:
    # max(T_p,e, T_p,em + T_m): max(0.16, 0.11 + 0.04) = 0.16; max(0.10, 0.15) = 0.15
    assert parallel_processing_latency_s(0.16, 0.11, 0.04) == pytest.approx(0.16)
    assert parallel_processing_latency_s(0.10, 0.11, 0.04) == pytest.approx(0.15)
    np.testing.assert_allclose(
        parallel_processing_latency_s([0.16, 0.10], 0.11, 0.04), [0.16, 0.15], rtol=1e-12
    )


def test_split_downlink_latency() -> None:
    # α = 0.25, D_d = 0.5 MB = 4e6 bit: 0.75·4e6/2e7 + 0.25·4e6/1e7 = 0.15 + 0.10 = 0.25 s
    assert split_downlink_latency_s(0.25, 4e6, 2e7, 1e7) == pytest.approx(0.25)
    # α = 0: only the serving RSU returns results, the target's (dead) link does not matter
    assert split_downlink_latency_s(0.0, 4e6, 2e7, 0.0) == pytest.approx(0.2)
    assert split_downlink_latency_s(1.0, 4e6, 0.0, 1e7) == pytest.approx(0.4)


def test_total_latency_and_a_full_paper_a_slot() -> None:
    assert total_latency_s(0.1, 0.16, 0.25) == pytest.approx(0.51)
    # chain the pieces for one slot (numbers from the tests above)
    alpha, d_task, f_v = 0.25, MB, 100.0
    t_m = premigration_latency_s(alpha, d_task, 1e8)
    t_pe = local_processing_latency_s(1e9, alpha, d_task, f_v, 1e10)
    t_pem = target_processing_latency_s(2e9, alpha, d_task, f_v, 2e10)
    t_p = parallel_processing_latency_s(t_pe, t_pem, t_m)
    t_d = split_downlink_latency_s(alpha, 4e6, 2e7, 1e7)
    t_u = transmission_latency_s(d_task, 8e7)  # 0.1 s
    # T_m = 0.02, T_pe = 0.16, T_pem = 0.11 → T_p = 0.16; total 0.1 + 0.16 + 0.25 = 0.51
    assert total_latency_s(t_u, t_p, t_d) == pytest.approx(0.51)


def test_drain_queue() -> None:
    np.testing.assert_allclose(drain_queue([5.0, 1.0, 0.0, 2.0], 2.0), [3.0, 0.0, 0.0, 0.0])
    # c·τ = 40 GHz × 1 s = 4e10 cycles per slot
    assert drain_queue(1e11, 4e10) == pytest.approx(6e10)
    with pytest.raises(ValueError, match=r"capacity_per_slot must be >= 0"):
        drain_queue(1.0, -1.0)


@settings(deadline=None)
@given(st.floats(min_value=0.0, max_value=1e12), st.floats(min_value=0.0, max_value=1e12))
def test_drain_queue_properties(load: float, cap: float) -> None:
    left = float(drain_queue(load, cap))
    assert 0.0 <= left <= load
    assert left == pytest.approx(max(load - cap, 0.0), rel=1e-12, abs=1e-3)


# --------------------------------------------------------------------------------------------
# paper B
# --------------------------------------------------------------------------------------------


def test_server_load() -> None:
    # S' = S_m + Σ_v g_vm S_v: both vehicles on server 1 → [10, 20 + 5 + 7, 30]
    load = server_load_bits([10.0, 20.0, 30.0], [[0, 1, 0], [0, 1, 0]], [5.0, 7.0])
    np.testing.assert_allclose(load, [10.0, 32.0, 30.0])
    # one vehicle unassigned (all-zero row) adds nothing
    load = server_load_bits([10.0, 20.0, 30.0], [[0, 0, 0], [1, 0, 0]], [5.0, 7.0])
    np.testing.assert_allclose(load, [17.0, 20.0, 30.0])
    # batched over 2 time slots
    load = server_load_bits(
        np.zeros((2, 2)), np.array([[[1, 0]], [[0, 1]]]), np.array([[3.0], [4.0]])
    )
    np.testing.assert_allclose(load, [[3.0, 0.0], [0.0, 4.0]])


def test_server_load_rejects_bad_assignment() -> None:
    with pytest.raises(ValueError, match=r"at most 1 server, got a row summing to 2"):
        server_load_bits([0.0, 0.0], [[1, 1]], [1.0])
    with pytest.raises(ValueError, match=r"entries must be 0 or 1, got 0\.5"):
        server_load_bits([0.0, 0.0], [[0.5, 0.0]], [1.0])
    with pytest.raises(ValueError, match=r"generated_bits must be >= 0"):
        server_load_bits([0.0, 0.0], [[1, 0]], [-1.0])


def test_compute_latency_with_satellite_overflow() -> None:
    cap = 300 * MB  # L_max = 300 MB = 2.4e9 bit
    # at capacity: e_v S'/C_m = 1000·2.4e9/32e9 = 75 s
    assert compute_latency_s(cap, 1000.0, 32e9, cap, 80e9) == pytest.approx(75.0)
    # just over capacity: the satellite takes it, 1000·2.5e9/80e9 = 31.25 s
    assert compute_latency_s(2.5e9, 1000.0, 32e9, cap, 80e9) == pytest.approx(31.25)
    np.testing.assert_allclose(
        compute_latency_s([0.0, 1e9, 2.5e9], 1000.0, 32e9, cap, 80e9), [0.0, 31.25, 31.25]
    )
    with pytest.raises(ValueError, match=r"overflow_compute_hz must be > 0"):
        compute_latency_s(1.0, 1000.0, 32e9, cap, 0.0)


def test_migration_latency() -> None:
    # S_mig = 60 MB = 4.8e8 bit over 1 Gbit/s → 0.48 s, only when the server changed
    np.testing.assert_allclose(
        migration_latency_s(60 * MB, 1e9, [True, False]), [0.48, 0.0], rtol=1e-12
    )
    assert migration_latency_s(60 * MB, 0.0, 0) == 0.0  # no migration, dead link irrelevant
    with pytest.raises(ValueError, match=r"changed must be boolean or 0/1, got 2\.0"):
        migration_latency_s(1.0, 1.0, 2)


def test_routing_total_latency() -> None:
    assert routing_total_latency_s(0.4, 0.08, 31.25, 0.48) == pytest.approx(32.21)
    with pytest.raises(ValueError, match=r"migration_s must be >= 0"):
        routing_total_latency_s(0.0, 0.0, 0.0, -1.0)


def test_cache_carryover() -> None:
    # C τ / e_v = 32e9·30/1000 = 9.6e8 bit processed per slot
    assert cache_carryover_bits(1e9, 32e9, 30.0, 1000.0) == pytest.approx(4e7)
    assert cache_carryover_bits(5e8, 32e9, 30.0, 1000.0) == 0.0
    with pytest.raises(ValueError, match=r"cycles_per_bit must be > 0, got 0\.0"):
        cache_carryover_bits(1.0, 1.0, 1.0, 0.0)


def test_failure_indicator_truth_table() -> None:
    in_range = np.array([True, False, True, False])
    overflow = np.array([False, False, True, True])
    np.testing.assert_array_equal(failure_indicator(in_range, overflow), [0.0, 1.0, 1.0, 1.0])
    assert failure_indicator(1, 0) == 0.0
    with pytest.raises(ValueError, match=r"in_range must be boolean or 0/1"):
        failure_indicator(0.5, False)


def test_packet_loss_rate() -> None:
    xi = np.array([0, 1, 0, 1, 1, 0, 0, 0, 0, 0])
    assert packet_loss_rate(xi) == pytest.approx(0.3)  # 3 losses in 10 slots
    assert packet_loss_rate(xi, t_end=6) == pytest.approx(0.5)  # 3 / 6
    per_vehicle = packet_loss_rate(np.array([[0, 0, 1, 1], [1, 1, 1, 1]]))
    np.testing.assert_allclose(per_vehicle, [0.5, 1.0])
    np.testing.assert_allclose(packet_loss_rate(np.array([[0, 1], [1, 1]]), axis=0), [0.5, 1.0])
    with pytest.raises(ValueError, match=r"t_end must be > 0, got 0"):
        packet_loss_rate(xi, t_end=0)
    with pytest.raises(ValueError, match=r"failures must be in \[0, 1\], got 2\.0"):
        packet_loss_rate([0, 2])


def test_workload_variance() -> None:
    # loads 1, 2, 3, 4: mean 2.5, squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5 → 5/4
    assert workload_variance([1.0, 2.0, 3.0, 4.0]) == pytest.approx(1.25)
    assert workload_variance([7.0, 7.0, 7.0]) == 0.0
    np.testing.assert_allclose(workload_variance([[1.0, 3.0], [0.0, 0.0]]), [1.0, 0.0])


# --------------------------------------------------------------------------------------------
# paper C
# --------------------------------------------------------------------------------------------


def test_backhaul_latency() -> None:
    # (10 MB + 20 MB)/1 Gbit/s + 2·2 s/hop·3 hops = 2.4e8/1e9 + 12 = 12.24 s
    assert backhaul_latency_s(10 * MB, 20 * MB, 1e9, 2.0, 3, True) == pytest.approx(12.24)
    assert backhaul_latency_s(10 * MB, 20 * MB, 1e9, 2.0, 3, False) == 0.0
    np.testing.assert_allclose(
        backhaul_latency_s(10 * MB, 20 * MB, 1e9, 1.0, np.array([1, 2]), np.array([1, 1])),
        [2.24, 4.24],
    )
    with pytest.raises(ValueError, match=r"hops must be >= 0, got -1\.0"):
        backhaul_latency_s(1.0, 1.0, 1e9, 1.0, -1, True)


def test_agent_migration_latency_all_cases() -> None:
    # S_m = 50 MB = 4e8 bit, R_N = 1 Gbit/s, φ_mig = 0.02 s/hop, 3 hops,
    # Starlink up 20 Mbit/s, down 100 Mbit/s
    migrated = np.array([False, True, True, True, True])
    from_sat = np.array([False, False, False, True, True])
    to_sat = np.array([False, False, True, False, True])
    out = agent_migration_latency_s(50 * MB, migrated, from_sat, to_sat, 1e9, 0.02, 3, 20e6, 100e6)
    # none: 0; RSU→RSU: 0.4 + 0.06 = 0.46; RSU→SAT: 4e8/2e7 = 20; SAT→RSU: 4e8/1e8 = 4;
    # SAT→SAT: one satellite, so no migration: 0
    np.testing.assert_allclose(out, [0.0, 0.46, 20.0, 4.0, 0.0], rtol=1e-12)


def test_agent_compute_latency() -> None:
    # c_m ι D_up / f = 300·0.1·(15 MB = 1.2e8 bit)/10 GHz = 0.36 s
    assert agent_compute_latency_s(300.0, 0.1, 15 * MB, 10e9) == pytest.approx(0.36)
    # the satellite (50 GHz) is 5 × faster than a 10 GHz RSU
    assert agent_compute_latency_s(300.0, 0.1, 15 * MB, 50e9) == pytest.approx(0.072)
    with pytest.raises(ValueError, match=r"compute_hz must be > 0"):
        agent_compute_latency_s(300.0, 0.1, 15 * MB, 0.0)


def test_response_latency() -> None:
    assert response_latency_s(1.0, 0.5, 12.24, 0.46, 0.36) == pytest.approx(14.56)


def test_qos_loss() -> None:
    assert qos_loss(0.0) == 0.0
    assert qos_loss(math.e - 1.0) == pytest.approx(1.0)
    # r_max = 0.001° of latitude = 0.111195 km → ln(1.111195) = 0.105437
    assert qos_loss(0.111195) == pytest.approx(0.105437, rel=1e-5)
    with pytest.raises(ValueError, match=r"distance_km must be >= 0"):
        qos_loss(-0.1)


def test_utility() -> None:
    # 1·0.743 − 0.02·10 − 0.2·0.1 = 0.743 − 0.2 − 0.02 = 0.523
    assert utility(0.743, 10.0, 0.1) == pytest.approx(0.523)
    assert utility(2.0, 1.0, 1.0, w_e=0.5, w_l=1.0, w_q=0.0) == pytest.approx(0.0)
    np.testing.assert_allclose(utility([1.0, 2.0], 0.0, 0.0), [1.0, 2.0])
