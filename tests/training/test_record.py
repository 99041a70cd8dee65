"""Episode records (vtwin.episode, vtwin.training.record): every paper's env fills the shared
format, the same seed gives the same record, a record survives a JSON round trip, and a
recorded episode is the episode a batch of copies plays for that seed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vtwin.config import load_config
from vtwin.episode import FRAME_KEYS, STATIC_KEYS, EpisodeRecord, RecordError
from vtwin.training.record import record_episode, record_policy
from vtwin.training.registry import make_agent
from vtwin.training.runs import make_env

CASES = {
    "A": ("paper-a-tiny", "random", ["horizon_slots=30"]),
    "B": ("paper-b-tiny", "greedy", []),
    "C": ("paper-c-synth", "hppo", ["horizon_slots=12"]),
    "D": ("paper-d-tiny", "rule", []),
}
"""Per paper: a preset, an agent the registry builds without training, overrides."""


def _record(paper: str, seed: int = 11) -> EpisodeRecord:
    preset, algo, overrides = CASES[paper]
    return record_policy(load_config(preset, overrides), algo, seed)


@pytest.fixture(scope="module", params=sorted(CASES))
def recorded(request: pytest.FixtureRequest) -> tuple[str, EpisodeRecord]:
    return request.param, _record(request.param)


def test_record_has_the_documented_keys_and_shapes(recorded: tuple[str, EpisodeRecord]) -> None:
    paper, record = recorded
    config = load_config(CASES[paper][0], CASES[paper][2])
    st = record.static
    assert set(STATIC_KEYS) <= set(st)
    assert st["paper"] == paper and record.meta["paper"] == paper
    assert st["area_m"] == [config.geography.width_m, config.geography.height_m]
    assert st["slot_s"] == config.slot_s
    n = st["n_entities"]
    assert n == (config.sensors.count if paper == "D" else config.vehicles.count)
    kinds = st["servers"]["kind"]
    S = len(kinds)
    assert kinds.count("UAV") == config.servers.uav.count == len(st["uav_servers"])
    assert all(kinds[i] == "UAV" for i in st["uav_servers"])
    # coverage is a number for RSUs, null (unbounded) for the satellite
    for kind, cover in zip(kinds, st["servers"]["coverage_m"], strict=True):
        assert (cover is None) == (kind == "SAT" or paper == "D")
    assert (st["origin_latlon"] is not None) == (config.geography.coordinates == "latlon")

    assert 1 <= len(record.frames) <= config.horizon_slots
    if paper != "B":  # paper B ends early when every vehicle has arrived
        assert len(record.frames) == config.horizon_slots
    for t, frame in enumerate(record.frames):
        assert set(FRAME_KEYS) <= set(frame)
        assert frame["t"] == t
        assert np.shape(frame["entities"]) == (n, 2)
        assert len(frame["uavs"]) == len(st["uav_servers"])
        assert all(len(p) == 2 for p in frame["uavs"])
        assert len(frame["active"]) == len(frame["host"]) == n
        assert all(-1 <= h < S for h in frame["host"])
        assert set(frame["terms"]) == set(st["terms"])
        assert ("perturbed" in frame) == (paper == "C")
        assert ("serving" in frame) == (paper in "AC")
    # every position lies in (or, for trace overshoot, near) the area
    xy = np.array([p for f in record.frames for p in f["entities"]])
    w, h = st["area_m"]
    assert (xy >= -1.0).all() and (xy[:, 0] <= w + 1).all() and (xy[:, 1] <= h + 1).all()
    lat = [f["latency_s"] for f in record.frames if f["latency_s"] is not None]
    assert lat and all(v >= 0 for v in lat)


def test_paper_specific_content(recorded: tuple[str, EpisodeRecord]) -> None:
    paper, record = recorded
    frames = record.frames
    if paper == "A":  # the serving RSU is an RSU, the latency is the reward's only cost
        kinds = record.static["servers"]["kind"]
        assert all(kinds[s] == "RSU" for f in frames for s in f["serving"])
        assert all(f["reward"] == pytest.approx(-f["latency_s"], rel=1e-4) for f in frames)
    if paper == "B":  # UAVs patrol: they move during the episode
        uavs = np.array([f["uavs"] for f in frames])
        assert np.abs(uavs[-1] - uavs[0]).max() > 1.0
    if paper == "C":  # reports are perturbed by at most r_max, and the utility is the reward
        config = load_config(CASES["C"][0], CASES["C"][2])
        assert config.privacy is not None
        r_max_m = config.privacy.r_max_deg * 111_195.0
        gaps = [
            np.hypot(*(np.subtract(p, q)))
            for f in frames
            for p, q in zip(f["perturbed"], f["entities"], strict=True)
        ]
        assert max(gaps) <= r_max_m * 1.01 + 0.2
        assert all(f["terms"]["utility"] == pytest.approx(f["reward"], rel=1e-3) for f in frames)
    if paper == "D":  # the rule offloads every sensor to a UAV
        assert all(h >= 0 for f in frames for h in f["host"])


def test_same_seed_same_record_other_seed_other_record() -> None:
    for paper in ("B", "C"):
        a, b, c = _record(paper, 5), _record(paper, 5), _record(paper, 6)
        a.meta.pop("vtwin_version")
        b.meta.pop("vtwin_version")
        assert a.to_dict() == b.to_dict()
        assert c.frames != a.frames


def test_json_round_trip_and_atomic_save(tmp_path: Path) -> None:
    record = _record("C")
    path = record.save(tmp_path / "run" / "episode.json")
    assert [p.name for p in path.parent.iterdir()] == ["episode.json"]  # no temporary left
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    again = EpisodeRecord.load(path)
    assert again.to_dict() == json.loads(text) == record.to_dict()


def test_record_is_copy_b_of_a_batch() -> None:
    """Recording seed s on one copy gives the episode copy b of a batch plays with seed s."""
    config = load_config("paper-b-tiny")
    batch = make_env(config, 3)
    greedy = make_agent("greedy", batch, params={"epsilon": 0.0})  # no random share
    obs, _ = batch.reset([40, 41, 42])
    hosts, latency = [], []
    for _ in range(batch.horizon):
        obs, _, term, trunc, info = batch.step(greedy.act(obs, deterministic=True))
        acting = info["server"][1] >= 0
        hosts.append([int(h) for h in info["server"][1]])
        latency.append(float(info["latency_s"][1][acting].mean()))
        if term[1] or trunc[1]:
            break
    single = make_env(config, 1)
    record = record_episode(single, make_agent("greedy", single, params={"epsilon": 0.0}), 41)
    assert [f["host"] for f in record.frames] == hosts
    assert [f["latency_s"] for f in record.frames] == pytest.approx(latency, rel=1e-4)


def test_validation_names_the_broken_part() -> None:
    record = _record("D")
    data = record.to_dict()
    data["frames"][3]["host"] = [99] * len(data["frames"][3]["host"])
    with pytest.raises(RecordError, match="frame 3: host"):
        EpisodeRecord.from_dict(data)
    data = record.to_dict()
    del data["frames"][0]["uavs"]
    with pytest.raises(RecordError, match="frame 0 lacks uavs"):
        EpisodeRecord.from_dict(data)
    with pytest.raises(RecordError, match="not a vtwin episode record"):
        EpisodeRecord.from_dict({"format": "other"})
    with pytest.raises(RecordError, match="version 99"):
        EpisodeRecord.from_dict({**record.to_dict(), "version": 99})


def test_bad_json_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "episode.json"
    path.write_text("{not json")
    with pytest.raises(RecordError, match=r"episode\.json: not valid JSON"):
        EpisodeRecord.load(path)
