"""SubprocBatchedEnv: copies split over worker processes equal one in-process batched env."""

from __future__ import annotations

import os
from functools import partial

import numpy as np
import pytest

from vtwin.config import load_config
from vtwin.envs.premigration import BatchedPreMigration
from vtwin.envs.vector import SubprocBatchedEnv


def test_two_workers_match_one_process_step_by_step() -> None:
    cfg = load_config("paper-a", ["horizon_slots=30"])
    local = BatchedPreMigration(cfg, 5, planner="durp")
    obs_l, _ = local.reset(3)
    rng = np.random.default_rng(0)
    with SubprocBatchedEnv(partial(BatchedPreMigration, cfg, planner="durp"), 5, workers=2) as env:
        assert env.get_attr("n_actions") == local.n_actions
        obs_p, _ = env.reset(3)
        np.testing.assert_array_equal(obs_l, obs_p)
        for _ in range(30):
            act = rng.integers(0, local.n_actions, size=(5, 1))
            out_l = local.step(act)
            out_p = env.step(act)
            for a, b in zip(out_l[:4], out_p[:4], strict=True):
                np.testing.assert_array_equal(a, b)
            np.testing.assert_array_equal(out_l[4]["uav_xy"], out_p[4]["uav_xy"])
            np.testing.assert_array_equal(
                out_l[4]["reward_components"]["latency"], out_p[4]["reward_components"]["latency"]
            )
        np.testing.assert_array_equal(env.call("greedy_actions"), local.greedy_actions())


def test_worker_errors_surface_in_the_parent() -> None:
    cfg = load_config("paper-a", ["horizon_slots=5"])
    with SubprocBatchedEnv(partial(BatchedPreMigration, cfg), 2, workers=2) as env:
        env.reset(0)
        with pytest.raises(RuntimeError, match="outside"):
            env.step(np.full((2, 1), 999))


def test_bad_arguments() -> None:
    cfg = load_config("paper-a", ["horizon_slots=5"])
    with pytest.raises(ValueError, match="workers = 3"):
        SubprocBatchedEnv(partial(BatchedPreMigration, cfg), 2, workers=3)
    with pytest.raises(RuntimeError, match="needs a paper A preset"):
        SubprocBatchedEnv(partial(BatchedPreMigration, load_config("paper-d")), 2, workers=1)


def test_shared_memory_results_equal_pickled_ones_and_stay_valid() -> None:
    """Observations come back through shared memory (they are large at this batch size), are
    the caller's own arrays, and equal what the pipe-only transport returns."""
    from vtwin.envs.routing import BatchedMigrationRouting

    cfg = load_config("paper-b-tiny")
    fn = partial(BatchedMigrationRouting, cfg)
    rng = np.random.default_rng(1)
    with (
        SubprocBatchedEnv(fn, 64, workers=2, shm_min_bytes=1024) as shm_env,
        SubprocBatchedEnv(fn, 64, workers=2, shared_memory=False) as pipe_env,
    ):
        obs_s, _ = shm_env.reset(11)
        obs_p, _ = pipe_env.reset(11)
        assert obs_s["observation"].nbytes // 2 >= 1024  # really went through shared memory
        kept = {k: v.copy() for k, v in obs_s.items()}
        m = shm_env.get_attr("M")
        for _ in range(5):
            act = rng.integers(0, m, size=(64, shm_env.get_attr("V")))
            out_s = shm_env.step(act)
            out_p = pipe_env.step(act)
            for key in out_s[0]:
                np.testing.assert_array_equal(out_s[0][key], out_p[0][key])
            for a, b in zip(out_s[1:4], out_p[1:4], strict=True):
                np.testing.assert_array_equal(a, b)
        for key, value in kept.items():  # earlier results were not overwritten by later steps
            np.testing.assert_array_equal(obs_s[key], value)
            np.testing.assert_array_equal(obs_s[key], obs_p[key])


def test_copy_false_returns_the_shared_blocks_themselves() -> None:
    """copy=False: no copy in the parent; the arrays equal the pickled transport's and are
    overwritten in place by the next step (the documented lifetime)."""
    from vtwin.envs.routing import BatchedMigrationRouting

    fn = partial(BatchedMigrationRouting, load_config("paper-b-tiny"))
    rng = np.random.default_rng(2)
    with (
        SubprocBatchedEnv(fn, 64, workers=2, shm_min_bytes=1024, copy=False) as view_env,
        SubprocBatchedEnv(fn, 64, workers=2, shared_memory=False) as pipe_env,
    ):
        view_env.reset(5)
        pipe_env.reset(5)
        m, v = view_env.get_attr("M"), view_env.get_attr("V")
        previous = None
        for _ in range(4):
            act = rng.integers(0, m, size=(64, v))
            out_v = view_env.step(act)
            out_p = pipe_env.step(act)
            for key in out_p[0]:
                np.testing.assert_array_equal(out_v[0][key], out_p[0][key])
            for a, b in zip(out_v[1:4], out_p[1:4], strict=True):
                np.testing.assert_array_equal(a, b)
            if previous is not None:  # from the 2nd step on, the workers write in place
                assert out_v[0]["observation"] is previous
            previous = out_v[0]["observation"]


def test_workers_envs_write_observations_straight_into_the_blocks() -> None:
    """An env with set_observation_buffers gets its rows of the step blocks and writes into
    them (nothing is copied in the worker); results equal one in-process env for whole
    episodes, early-finished copies and resets included."""
    from vtwin.envs.routing import BatchedMigrationRouting
    from vtwin.envs.vector import _IN_SLOT, _serve, _ShmWriter

    cfg = load_config("paper-b-tiny")
    local = BatchedMigrationRouting(cfg, 32)
    rng = np.random.default_rng(4)
    with SubprocBatchedEnv(partial(BatchedMigrationRouting, cfg), 32, workers=2, copy=False) as env:
        for episode in range(2):
            assert_tree_equal_(env.reset(7 + episode), local.reset(7 + episode))
            for _ in range(local.horizon):
                act = rng.integers(0, local.M, size=(32, local.V))
                out_p, out_l = env.step(act), local.step(act)
                assert_tree_equal_(out_p, out_l)
                if np.all(out_l[2] | out_l[3]):
                    break

    # in one process: after the parent's blocks are assigned, the env's arrays are the rows
    class Conn:
        def __init__(self, commands: list[tuple[str, object, object]]) -> None:
            self.commands, self.sent = commands, []

        def recv(self) -> tuple[str, object, object]:
            return self.commands.pop(0)

        def send(self, msg: object) -> None:
            self.sent.append(msg)

    small = BatchedMigrationRouting(cfg, 4)
    writer = _ShmWriter(min_bytes=8)
    try:
        act = np.zeros((4, small.V), dtype=np.int64)
        conn = Conn([("reset", 1, {}), ("step", act, {})])
        with pytest.raises(IndexError):  # the fake pipe runs dry after two commands
            _serve(conn, small, writer)  # type: ignore[arg-type]
        with SubprocBatchedEnv(partial(BatchedMigrationRouting, cfg), 4, workers=1) as env:
            env._join([conn.sent[1][1]], ("step",))  # the parent makes its full blocks
            slots = env._pending[0]
            conn = Conn([("step", act, slots), ("step", act, {})])
            with pytest.raises(IndexError):
                _serve(conn, small, writer)  # type: ignore[arg-type]
            for status, out in conn.sent:
                assert status == "ok"
                assert all(out[0][k] is _IN_SLOT for k in ("observation", "state"))
            assert small._obs["observation"] is writer._slots[("step", 0, "observation")][1]
            small.set_observation_buffers({})
    finally:
        writer.close()


def assert_tree_equal_(a: object, b: object) -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys()
        for k in a:
            assert_tree_equal_(a[k], b[k])
    elif isinstance(a, tuple | list):
        assert isinstance(b, tuple | list) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_tree_equal_(x, y)
    else:
        np.testing.assert_array_equal(a, b)


def test_blocks_follow_shape_changes() -> None:
    """The worker/parent protocol in one process: own blocks first, then the parent's
    full-batch block; a new shape falls back to own blocks and gets a new parent block."""
    from vtwin.envs.routing import BatchedMigrationRouting
    from vtwin.envs.vector import _IN_SLOT, _ShmRef, _ShmWriter

    fn = partial(BatchedMigrationRouting, load_config("paper-b-tiny"))
    writers = [_ShmWriter(min_bytes=8), _ShmWriter(min_bytes=8)]
    with SubprocBatchedEnv(fn, 2, workers=2, copy=False) as env:
        try:
            # (columns, whether the workers already write into the parent's block)
            for cols, in_slot in ((4, False), (4, True), (4, True), (7, False), (7, True)):
                rows = [np.full((3, cols), 1.0 + cols), np.full((2, cols), 2.0 + cols)]
                for i, w in enumerate(writers):
                    w.assign(env._pending[i])
                    env._pending[i] = {}
                parts = [w.pack(a, ("step",)) for w, a in zip(writers, rows, strict=True)]
                kind = type(_IN_SLOT) if in_slot else _ShmRef
                assert all(isinstance(p, kind) for p in parts), (cols, parts)
                joined = env._join(parts, ("step",))
                np.testing.assert_array_equal(joined, np.concatenate(rows))
                assert joined.shape == (5, cols)
        finally:
            for w in writers:
                w.close()


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU pinning is Linux-only")
def test_pinned_workers_sit_on_their_cpus_and_agree() -> None:
    cfg = load_config("paper-a", ["horizon_slots=5"])
    cpus = sorted(os.sched_getaffinity(0))
    fn = partial(BatchedPreMigration, cfg)
    with (
        SubprocBatchedEnv(fn, 4, workers=2, pin_cpus=True) as pinned,
        SubprocBatchedEnv(fn, 4, workers=2) as free,
    ):
        for i, proc in enumerate(pinned._procs):
            assert os.sched_getaffinity(proc.pid) == {cpus[i % len(cpus)]}
        np.testing.assert_array_equal(pinned.reset(7)[0], free.reset(7)[0])
    with pytest.raises(ValueError, match="pin_cpus"):
        SubprocBatchedEnv(fn, 2, workers=1, pin_cpus=[max(cpus) + 1])
