"""The bad-input corpus: every case is a command a user might type with a mistake in it
(config overrides, preset files, data files, CLI options, run folders, checkpoints). Each must
end with exit status 2 and one ``error:`` line that names the field or file and the value,
no traceback, and nothing written where it should not be."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vtwin.cli import app


@dataclass(frozen=True)
class Case:
    """One bad command: ``args`` (``{tmp}`` is the case's folder, ``{run}`` a trained run
    folder copied there), text the error must contain, and an optional file set-up."""

    id: str
    args: tuple[str, ...]
    needle: str
    setup: Callable[[Path], None] | None = None


def _write(name: str, data: bytes) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        (tmp / name).write_bytes(data)

    return setup


def _damage_run(name: str, data: bytes) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        (tmp / "run" / name).write_bytes(data)

    return setup


BINARY = bytes(range(256)) * 4
CFG = ("config", "show", "paper-a", "--set")
B_TRACE = ("scenario", "show", "paper-b-city", "--set", "vehicles.mobility.kind=trace", "--set")
TRAIN = ("train", "--env", "paper-a-tiny", "--algo", "ppo", "--steps", "50", "--out", "{tmp}/t")
FORECAST = ("forecast", "train", "--epochs", "1", "--out", "{tmp}/f")

CASES = [
    # -- config overrides: unknown keys, types, ranges, NaN/inf, absurd sizes
    Case("unknown-key", (*CFG, "servers.rsu.cuont=3"), "servers.rsu.cuont: unknown key"),
    Case("unknown-top-key", (*CFG, "topsecret=1"), "topsecret: unknown key"),
    Case("negative-count", (*CFG, "servers.rsu.count=-1"), "servers.rsu.count = -1"),
    Case("bool-count", (*CFG, "vehicles.count=true"), "vehicles.count = True"),
    Case("float-count", (*CFG, "servers.rsu.count=2.5"), "servers.rsu.count = 2.5"),
    Case("text-count", (*CFG, "servers.rsu.count=many"), "servers.rsu.count = 'many'"),
    Case("huge-count", (*CFG, "servers.rsu.count=100000000"), "less than or equal to 100000"),
    Case("huge-horizon", (*CFG, "horizon_slots=100000000"), "horizon_slots = 100000000"),
    Case("float-horizon", (*CFG, "horizon_slots=1e12"), "horizon_slots = '1e12'"),
    Case("zero-horizon", (*CFG, "horizon_slots=0"), "horizon_slots = 0"),
    Case("tiny-slot", (*CFG, "slot_s=1e-300"), "slot_s = '1e-300'"),
    Case("negative-slot", (*CFG, "slot_s=-1"), "slot_s = -1"),
    Case("inf-compute", (*CFG, "servers.uav.compute_ghz=.inf"), "compute_ghz = inf"),
    Case("nan-noise", (*CFG, "channel.noise_dbm=.nan"), "channel.noise_dbm = nan"),
    Case("nan-interval", (*CFG, "servers.rsu.compute_ghz=[1, .nan]"), "compute_ghz.1 = nan"),
    Case("reversed-interval", (*CFG, "servers.rsu.compute_ghz=[9, 1]"), "low 9"),
    Case("negative-bandwidth", (*CFG, "servers.rsu.bandwidth_mhz=-5"), "bandwidth_mhz = -5"),
    Case("bad-choice", (*CFG, "servers.rsu.placement=hexagon"), "placement = 'hexagon'"),
    Case("bad-turns", (*CFG, "vehicles.mobility.turn_probs=[0.5,0.5,0.5]"), "sum to 1"),
    Case("no-equals", (*CFG, "servers.rsu.count"), "servers.rsu.count"),
    Case("bad-yaml-value", (*CFG, "servers.rsu.count=[1,"), "servers.rsu.count"),
    Case("negative-area", (*CFG, "geography.width_m=-3"), "geography.width_m = -3"),
    Case("lat-off-globe", (*CFG, "geography.origin_lat_deg=91"), "origin_lat_deg = 91"),
    Case("bad-reward-kind", (*CFG, "reward.kind=nope"), "reward"),
    Case("bad-reward-weight", (*CFG, "reward.weights.latencyy=1"), "latencyy"),
    # -- presets and preset files
    Case("unknown-preset", ("config", "show", "nope"), "unknown preset 'nope'"),
    Case("missing-yaml", ("config", "show", "{tmp}/none.yaml"), "none.yaml"),
    Case("binary-yaml", ("config", "show", "{tmp}/b.yaml"), "b.yaml", _write("b.yaml", BINARY)),
    Case(
        "broken-yaml",
        ("config", "show", "{tmp}/c.yaml"),
        "c.yaml",
        _write("c.yaml", b"name: x\npaper: [A\n"),
    ),
    Case(
        "list-yaml", ("config", "show", "{tmp}/l.yaml"), "l.yaml", _write("l.yaml", b"- a\n- b\n")
    ),
    Case("empty-yaml", ("config", "show", "{tmp}/e.yaml"), "e.yaml", _write("e.yaml", b"")),
    Case(
        "extends-missing",
        ("config", "show", "{tmp}/x.yaml"),
        "nope-preset",
        _write("x.yaml", b"extends: nope-preset\nname: x\n"),
    ),
    # -- data files: traces, traffic
    Case("trace-missing", (*B_TRACE, "vehicles.mobility.path={tmp}/none.csv"), "none.csv"),
    Case(
        "trace-binary",
        (*B_TRACE, "vehicles.mobility.path={tmp}/bin.csv"),
        "bin.csv: binary data",
        _write("bin.csv", BINARY),
    ),
    Case(
        "trace-not-utf8",
        (*B_TRACE, "vehicles.mobility.path={tmp}/l1.csv"),
        "l1.csv: not UTF-8 text",
        _write("l1.csv", b"id,time,lat,lon\n\xff\xfe,1,2,3\n"),
    ),
    Case(
        "trace-folder-as-csv",
        (*B_TRACE, "vehicles.mobility.path={tmp}", "--set", "vehicles.mobility.format=csv"),
        "a folder; the csv trace format reads one file",
    ),
    Case(
        "trace-empty",
        (*B_TRACE, "vehicles.mobility.path={tmp}/e.csv"),
        "e.csv",
        _write("e.csv", b""),
    ),
    Case(
        "trace-bad-row",
        (*B_TRACE, "vehicles.mobility.path={tmp}/r.csv", "--set", "vehicles.mobility.format=csv"),
        "r.csv, line 2",
        _write("r.csv", b"vehicle_id,time,lat,lon\n1,0,abc,116.3\n"),
    ),
    Case(
        "trace-outside-area",
        (*B_TRACE, "vehicles.mobility.path={tmp}/far.csv", "--set", "vehicles.count=1"),
        "every trace lies wholly outside the area",
        _write("far.csv", b"vehicle_id,time,lat,lon\n1,0,10.0,10.0\n1,60,10.001,10.001\n"),
    ),
    Case(
        "trace-absurd-time",
        (*B_TRACE, "vehicles.mobility.path={tmp}/t.csv", "--set", "vehicles.count=1"),
        "line 3: time '1e300' is not a plausible time",
        _write("t.csv", b"vehicle_id,time,lat,lon\n1,0,39.9,116.4\n1,1e300,39.91,116.41\n"),
    ),
    Case(
        "traffic-overflow",
        (*FORECAST, "{tmp}/big.csv"),
        "big.csv, line 3: column 's1' value '1e308' is beyond",
        _write("big.csv", b"time,s1\n0,1\n300,1e308\n600,2\n"),
    ),
    Case(
        "traffic-inf",
        (*FORECAST, "{tmp}/inf.csv"),
        "inf.csv, line 3: column 's1' value 'inf' is not a number",
        _write("inf.csv", b"time,s1\n0,1\n300,inf\n600,2\n"),
    ),
    Case("traffic-missing", (*FORECAST, "{tmp}/none.csv"), "none.csv"),
    Case(
        "traffic-binary",
        (*FORECAST, "{tmp}/bin.csv"),
        "bin.csv: binary data",
        _write("bin.csv", BINARY),
    ),
    Case(
        "traffic-not-utf8",
        (*FORECAST, "{tmp}/l1.csv"),
        "l1.csv: not UTF-8 text",
        _write("l1.csv", b"time,a\n\xff\xfe,3\n"),
    ),
    Case("traffic-empty", (*FORECAST, "{tmp}/e.csv"), "e.csv", _write("e.csv", b"")),
    Case("traffic-bad-format", (*FORECAST, "--format", "xls", "{tmp}/e.csv"), "xls"),
    # -- training options
    Case(
        "unknown-algo",
        ("train", "--env", "paper-a-tiny", "--algo", "nope", "--steps", "5"),
        "unknown algo 'nope'",
    ),
    Case(
        "wrong-paper-algo",
        ("train", "--env", "paper-a-tiny", "--algo", "masac", "--steps", "5"),
        "masac",
    ),
    Case("text-param", (*TRAIN, "-p", "lr=abc"), "PPOConfig.lr = 'abc'"),
    Case("zero-param", (*TRAIN, "-p", "rollout_slots=0"), "rollout_slots = 0"),
    Case("nan-param", (*TRAIN, "-p", "lr=.nan"), "PPOConfig.lr = nan"),
    Case("negative-param", (*TRAIN, "-p", "ent_coef=-1"), "ent_coef = -1"),
    Case("unknown-param", (*TRAIN, "-p", "lrr=1"), "unknown PPOConfig parameter(s) ['lrr']"),
    Case("param-no-equals", (*TRAIN, "-p", "lr"), "lr"),
    Case(
        "absurd-buffer",
        (
            "train",
            "--env",
            "paper-b-tiny",
            "--algo",
            "masac",
            "--steps",
            "50",
            "--out",
            "{tmp}/t",
            "-p",
            "buffer_size=1000000000000",
        ),
        "buffer_size = 1000000000000:",
    ),
    Case(
        "absurd-batch-size",
        (
            "train",
            "--env",
            "paper-a-tiny",
            "--algo",
            "dsac",
            "--steps",
            "50",
            "--out",
            "{tmp}/t",
            "-p",
            "batch_size=1000000000",
        ),
        "DSACConfig.batch_size = 1000000000: at most 10,000,000",
    ),
    Case("bad-choice-param", (*TRAIN, "-p", "actor=cnn"), "actor"),
    Case("bogus-device", (*TRAIN, "--device", "bogus"), "device = 'bogus': unknown"),
    Case(
        "zero-steps", ("train", "--env", "paper-a-tiny", "--algo", "ppo", "--steps", "0"), "--steps"
    ),
    Case("zero-batch", (*TRAIN, "--batch-envs", "0"), "--batch-envs"),
    Case("absurd-batch", (*TRAIN, "--batch-envs", "1000000000"), "batch_envs = 1000000000"),
    Case(
        "batch-over-memory",
        (
            "train",
            "--env",
            "paper-b-city",
            "--algo",
            "greedy",
            "--steps",
            "9",
            "--out",
            "{tmp}/t",
            "--batch-envs",
            "20000000",
        ),
        "copies of paper-b-city need about",
    ),
    Case("negative-seed", (*TRAIN, "--seed", "-3"), "--seed"),
    Case("train-bad-set", (*TRAIN, "--set", "servers.rsu.count=-1"), "servers.rsu.count = -1"),
    # -- run folders and checkpoints
    Case("evaluate-missing", ("evaluate", "{tmp}/none"), "none"),
    Case("evaluate-file", ("evaluate", "{tmp}/f.txt"), "f.txt", _write("f.txt", b"x")),
    Case(
        "checkpoint-truncated",
        ("evaluate", "{run}"),
        "checkpoint.pt: not a readable checkpoint",
        _damage_run("checkpoint.pt", b"PK\x03\x04" + b"\x00" * 50),
    ),
    Case(
        "checkpoint-random",
        ("evaluate", "{run}"),
        "checkpoint.pt: not a readable checkpoint",
        _damage_run("checkpoint.pt", BINARY),
    ),
    Case(
        "checkpoint-empty",
        ("evaluate", "{run}"),
        "checkpoint.pt: not a readable checkpoint",
        _damage_run("checkpoint.pt", b""),
    ),
    Case(
        "run-config-binary",
        ("evaluate", "{run}"),
        "config.yaml: not a readable run record",
        _damage_run("config.yaml", BINARY),
    ),
    Case(
        "run-config-broken",
        ("evaluate", "{run}"),
        "config.yaml: not a",
        _damage_run("config.yaml", b"config: {a: [1\n"),
    ),
    Case(
        "run-config-other",
        ("evaluate", "{run}"),
        "config.yaml: not a vtwin run record",
        _damage_run("config.yaml", b"hello: world\n"),
    ),
    Case(
        "run-config-deleted",
        ("evaluate", "{run}"),
        "config.yaml: no such file",
        lambda tmp: (tmp / "run" / "config.yaml").unlink(),
    ),
    Case(
        "resume-other-settings",
        (
            "train",
            "--env",
            "paper-a-tiny",
            "--algo",
            "random",
            "--steps",
            "50",
            "--seed",
            "3",
            "--batch-envs",
            "2",
            "--out",
            "{run}",
        ),
        "train.seed differ",
    ),
    Case(
        "resume-corrupt-checkpoint",
        (
            "train",
            "--env",
            "paper-a-tiny",
            "--algo",
            "random",
            "--steps",
            "400",
            "--batch-envs",
            "2",
            "--out",
            "{run}",
        ),
        "checkpoint.pt: not a readable checkpoint",
        _damage_run("checkpoint.pt", BINARY),
    ),
    Case("evaluate-zero-episodes", ("evaluate", "{run}", "--episodes", "0"), "--episodes"),
    # -- experiments
    Case("unknown-experiment", ("reproduce", "nope", "--quick", "--out", "{tmp}/r"), "nope"),
    Case(
        "unknown-method",
        ("reproduce", "paper-a-uav", "--quick", "--methods", "durp,warp", "--out", "{tmp}/r"),
        "warp",
    ),
    Case(
        "unknown-backend",
        ("reproduce", "paper-a-uav", "--quick", "--backend", "slurm", "--out", "{tmp}/r"),
        "slurm",
    ),
    Case(
        "zero-workers",
        ("reproduce", "paper-a-uav", "--quick", "--workers", "0", "--out", "{tmp}/r"),
        "--workers",
    ),
    Case(
        "too-many-workers",
        ("reproduce", "paper-a-uav", "--quick", "--workers", "100000", "--out", "{tmp}/r"),
        "workers = 100000: at most",
    ),
    Case(
        "address-without-ray",
        ("reproduce", "paper-a-uav", "--quick", "--address", "auto", "--out", "{tmp}/r"),
        "--address",
    ),
    Case("scenario-bad-seed", ("scenario", "show", "paper-a", "--seed", "-1"), "--seed"),
    Case("scenario-unknown", ("scenario", "show", "nope"), "unknown preset 'nope'"),
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("trained") / "run"
    args = ["train", "--env", "paper-a-tiny", "--algo", "random", "--steps", "100"]
    result = CliRunner().invoke(app, [*args, "--batch-envs", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 80  # and env actions: tests/hostile/test_env_fuzz.py
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_clear_line(case: Case, tmp_path: Path, trained: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    for f in trained.iterdir():
        (run / f.name).write_bytes(f.read_bytes())
    if case.setup is not None:
        case.setup(tmp_path)
    before = {p: p.read_bytes() for p in run.iterdir()}
    args = [a.replace("{tmp}", str(tmp_path)).replace("{run}", str(run)) for a in case.args]
    result = CliRunner().invoke(app, args)
    text = result.stderr + result.stdout
    assert result.exit_code == 2, f"exit {result.exit_code}: {text}"
    assert "Traceback" not in text, text
    assert result.exception is None or isinstance(result.exception, SystemExit), text
    flat = " ".join(text.split())
    assert case.needle in flat, flat
    assert {p: p.read_bytes() for p in run.iterdir()} == before, "the run folder was changed"


@pytest.fixture(scope="module")
def forecaster(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("forecaster") / "f"
    args = ["forecast", "train", "synthetic", "--model", "gru", "--epochs", "1"]
    result = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize(
    ("name", "data", "needle"),
    [
        ("model.pt", BINARY, "model.pt: not readable weights of this forecaster"),
        ("model.pt", b"", "model.pt: not readable weights of this forecaster"),
        ("forecaster.json", BINARY, "forecaster.json: not readable JSON"),
        ("forecaster.json", b"{broken", "forecaster.json: not readable JSON"),
        ("forecaster.json", b"[1, 2]", "forecaster.json: format_version"),
    ],
    ids=["weights-random", "weights-empty", "meta-binary", "meta-broken", "meta-list"],
)
def test_damaged_forecaster_is_one_line(
    forecaster: Path, tmp_path: Path, name: str, data: bytes, needle: str
) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    for f in forecaster.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    (folder / name).write_bytes(data)
    result = CliRunner().invoke(app, ["forecast", "evaluate", str(folder)])
    text = " ".join((result.stderr + result.stdout).split())
    assert result.exit_code == 2, text
    assert needle in text and "Traceback" not in text
    assert (folder / name).read_bytes() == data  # left as it was
