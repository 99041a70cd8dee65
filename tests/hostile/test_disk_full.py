"""A full disk (simulated: a write that stops half-way with ENOSPC) and damaged files.

Each failure is one ``error:`` line naming the file and "No space left on device"; the good
files written before stay loadable, no temporary file is left, and once space is freed the
same command resumes and ends with the result of a run that never failed.
"""

from __future__ import annotations

import errno
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
import yaml
from typer import Typer
from typer.testing import CliRunner

import vtwin.experiments.store as store_module
from vtwin.atomicio import remove_stale_temps, write_atomic
from vtwin.cli import app
from vtwin.experiments.cli import register_cli
from vtwin.experiments.store import RunStore
from vtwin.forecast.train import TrainedForecaster
from vtwin.training.checkpoint import RunFolder

TOYS = Path(__file__).resolve().parents[1] / "experiments"
if str(TOYS) not in sys.path:  # the toy experiments register on import
    sys.path.insert(0, str(TOYS))

import toy_experiments  # noqa: E402,F401

runner = CliRunner()
NO_SPACE = "No space left on device"


def _no_space() -> OSError:
    return OSError(errno.ENOSPC, NO_SPACE)


def _temps(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if ".tmp" in p.name]


def _one_error_line(result: Any) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    return " ".join(result.stderr[result.stderr.index("error:") :].split())


# ------------------------------------------------------------------------------ the writer
def test_a_failed_atomic_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "checkpoint.pt"
    target.write_bytes(b"good")

    def half_then_full(tmp: Path) -> None:
        tmp.write_bytes(b"par")
        raise _no_space()

    with pytest.raises(OSError, match=f"could not write {target}: {NO_SPACE}") as info:
        write_atomic(target, half_then_full)
    assert info.value.errno == errno.ENOSPC
    assert target.read_bytes() == b"good" and sorted(tmp_path.iterdir()) == [target]

    def wrapped(tmp: Path) -> None:  # torch reports a failed write as a RuntimeError
        try:
            raise _no_space()
        except OSError as exc:
            raise RuntimeError("[enforce fail at inline_container.cc] file write failed") from exc

    with pytest.raises(OSError, match=NO_SPACE):
        write_atomic(target, wrapped)
    with pytest.raises(ZeroDivisionError):  # other errors pass unchanged
        write_atomic(target, lambda tmp: (tmp.write_text("x"), 1 / 0))
    assert target.read_bytes() == b"good" and sorted(tmp_path.iterdir()) == [target]


def _dead_pid() -> int:
    """The id of a process that has ended (as a SIGKILLed writer's)."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout)


def test_only_temporaries_of_dead_writers_are_removed(tmp_path: Path) -> None:
    pid = _dead_pid()
    stale = tmp_path / f".checkpoint.pt.tmp-{pid}"
    stale.write_bytes(b"half")
    stale_dir = tmp_path / f".tmp-run-{pid}"
    stale_dir.mkdir()
    live = tmp_path / f".metrics.csv.tmp-{os.getpid()}"
    live.write_text("in progress")
    keep = tmp_path / "notes.tmp"
    keep.write_text("a user's file")
    assert sorted(remove_stale_temps(tmp_path)) == sorted([stale, stale_dir])
    assert live.exists() and keep.exists()
    assert remove_stale_temps(tmp_path / "missing") == []


# ------------------------------------------------------------------------------ vtwin train
TRAIN = ("train", "--env", "paper-a-tiny", "--algo", "ppo", "--batch-envs", "2")
TRAIN += ("--device", "cpu", "--steps", "600")  # 3 episodes of 200 agent steps


class FullDisk:
    """Writers of the run folder that fail half-way at the ``at``-th write into ``folder``
    (counting config.yaml, metrics.csv, checkpoint.pt and summary.json writes)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, folder: Path, at: int) -> None:
        self.folder, self.at, self.writes = folder.resolve(), at, 0
        self.failed: Path | None = None
        real_save, real_csv, real_text = torch.save, pd.DataFrame.to_csv, Path.write_text

        def counted(path: Any, write: Callable[[], Any], data: Callable[[], bytes]) -> Any:
            path = Path(path)
            if path.resolve().parent != self.folder:
                return write()
            self.writes += 1
            if self.writes == self.at:
                blob = data()
                with open(path, "wb") as fh:  # the disk fills half-way
                    fh.write(blob[: len(blob) // 2])
                self.failed = path
                raise _no_space()
            return write()

        def save(obj: Any, f: Any, *args: Any, **kwargs: Any) -> Any:
            name = f if isinstance(f, str | Path) else getattr(f, "name", None)
            if not isinstance(name, str | Path):
                return real_save(obj, f, *args, **kwargs)

            def data() -> bytes:
                buf = io.BytesIO()
                real_save(obj, buf)
                return buf.getvalue()

            try:
                return counted(name, lambda: real_save(obj, f, *args, **kwargs), data)
            except OSError:  # as torch reports it: a RuntimeError while handling the OSError
                raise RuntimeError("[enforce fail at inline_container.cc] write failed")  # noqa: B904

        def to_csv(frame: pd.DataFrame, path: Any = None, *args: Any, **kwargs: Any) -> Any:
            if not isinstance(path, str | Path):
                return real_csv(frame, path, *args, **kwargs)
            return counted(
                path,
                lambda: real_csv(frame, path, *args, **kwargs),
                lambda: str(real_csv(frame, None, *args, **kwargs)).encode(),
            )

        def write_text(p: Path, data: str, *args: Any, **kwargs: Any) -> int:
            return int(
                counted(p, lambda: real_text(p, data, *args, **kwargs), lambda: data.encode())
            )

        monkeypatch.setattr(torch, "save", save)
        monkeypatch.setattr(pd.DataFrame, "to_csv", to_csv)
        monkeypatch.setattr(Path, "write_text", write_text)


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted training run of ``TRAIN``."""
    out = tmp_path_factory.mktemp("reference") / "run"
    result = runner.invoke(app, [*TRAIN, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _same_run(got: Path, want: Path) -> None:
    a, b = RunFolder(got).load(), RunFolder(want).load()
    assert a is not None and b is not None
    assert torch.equal(_flat(a["agent"]), _flat(b["agent"]))
    wall = ["wall_s"]
    pd.testing.assert_frame_equal(
        pd.read_csv(got / "metrics.csv").drop(columns=wall),
        pd.read_csv(want / "metrics.csv").drop(columns=wall),
    )
    assert (got / "summary.json").read_text() == (want / "summary.json").read_text()


def _flat(state: Any) -> torch.Tensor:
    """Every tensor and number of a nested state, as one vector (for a bitwise comparison)."""
    parts: list[torch.Tensor] = []

    def walk(x: Any) -> None:
        if isinstance(x, torch.Tensor):
            parts.append(x.detach().reshape(-1).double())
        elif isinstance(x, dict):
            for key in sorted(x, key=str):
                walk(x[key])
        elif isinstance(x, list | tuple):
            for item in x:
                walk(item)
        elif isinstance(x, int | float) and not isinstance(x, bool):
            parts.append(torch.tensor([float(x)], dtype=torch.float64))

    walk(state)
    return torch.cat(parts)


@pytest.mark.parametrize(
    ("at", "file"),
    [(1, "config.yaml"), (4, "metrics.csv"), (5, "checkpoint.pt"), (8, "summary.json")],
    ids=["config", "metrics", "checkpoint", "summary"],
)
def test_train_on_a_full_disk_fails_cleanly_and_resumes(
    at: int, file: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reference_run: Path
) -> None:
    out = tmp_path / "run"
    out.mkdir()
    with monkeypatch.context() as patch:
        disk = FullDisk(patch, out, at)
        result = runner.invoke(app, [*TRAIN, "--out", str(out)])
    assert disk.failed is not None and disk.failed.name.endswith(file + f".tmp-{os.getpid()}")
    line = _one_error_line(result)
    assert f"could not write {out / file}: {NO_SPACE}" in line, line
    # the files written before the failure are whole; nothing half-written is left
    assert not _temps(out), _temps(out)
    payload = RunFolder(out).load()
    if file == "config.yaml":  # nothing was trained
        assert payload is None and not list(out.iterdir())
    else:
        assert payload is not None and len(payload["history"]) >= 1
        assert len(pd.read_csv(out / "metrics.csv")) >= len(payload["history"])
        yaml.safe_load((out / "config.yaml").read_text())
    # space freed: the same command resumes and ends where an unbroken run ends
    again = runner.invoke(app, [*TRAIN, "--out", str(out)])
    assert again.exit_code == 0, again.output
    _same_run(out, reference_run)


@pytest.mark.skipif(sys.platform != "linux", reason="needs RLIMIT_FSIZE")
def test_train_beyond_the_file_size_limit_fails_cleanly_and_resumes(
    tmp_path: Path, reference_run: Path
) -> None:
    """A real write failure, not a patched one: the kernel refuses to grow a file past the
    process's size limit (EFBIG; Python ignores SIGXFSZ) when the first checkpoint is
    written, as a full disk refuses it with ENOSPC."""
    import resource

    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    env["OMP_NUM_THREADS"] = "1"

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))  # a checkpoint: 176 kB

    proc = subprocess.run(
        [sys.executable, "-m", "vtwin.cli", *TRAIN, "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        preexec_fn=limit,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    line = " ".join(proc.stderr[proc.stderr.index("error:") :].split())
    assert f"could not write {out / 'checkpoint.pt'}: File too large" in line, line
    assert not _temps(out) and not (out / "checkpoint.pt").exists()
    again = runner.invoke(app, [*TRAIN, "--out", str(out)])
    assert again.exit_code == 0, again.output
    _same_run(out, reference_run)


def test_a_damaged_metrics_file_is_mended_from_the_checkpoint(
    tmp_path: Path, reference_run: Path
) -> None:
    import shutil

    good = (reference_run / "metrics.csv").read_bytes()
    for damage in (bytes(range(256)) * 8, b"episode,steps\n1,2,3,4\n\x00\x00", None):
        out = tmp_path / f"run{len(list(tmp_path.iterdir()))}"
        shutil.copytree(reference_run, out)
        if damage is None:
            (out / "metrics.csv").unlink()
        else:
            (out / "metrics.csv").write_bytes(damage)
        (out / f".checkpoint.pt.tmp-{_dead_pid()}").write_bytes(b"left by a killed run")
        result = runner.invoke(app, [*TRAIN, "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert (out / "metrics.csv").read_bytes() == good and not _temps(out)
        _same_run(out, reference_run)


def test_a_damaged_checkpoint_is_refused_and_kept(tmp_path: Path, reference_run: Path) -> None:
    import shutil

    out = tmp_path / "run"
    shutil.copytree(reference_run, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    blob = before["checkpoint.pt"]
    (out / "checkpoint.pt").write_bytes(blob[: len(blob) // 3])  # truncated by a crash
    before["checkpoint.pt"] = (out / "checkpoint.pt").read_bytes()
    for steps in ("600", "800"):
        result = runner.invoke(app, [*TRAIN[:-1], steps, "--out", str(out)])
        line = _one_error_line(result)
        assert f"{out / 'checkpoint.pt'}: not a readable checkpoint" in line, line
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


# ------------------------------------------------------------------------------ reproduce
def _reproduce_app() -> Typer:
    typer_app = Typer()
    register_cli(typer_app)
    return typer_app


REPRODUCE = ("reproduce", "toy-flat", "--quick", "--no-progress", "--workers", "1")


def test_reproduce_on_a_full_disk_stops_with_one_line_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reproduce_app = _reproduce_app()
    want = runner.invoke(reproduce_app, [*REPRODUCE, "--out", str(tmp_path / "ref")])
    assert want.exit_code == 0, want.output
    out = tmp_path / "out"
    real_open = open
    calls = {"n": 0}

    class Filling:
        """A file that takes half of what is written, then finds the disk full."""

        def __init__(self, handle: Any) -> None:
            self.handle = handle

        def __enter__(self) -> Filling:
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

        def write(self, text: str) -> int:
            self.handle.write(text[: len(text) // 2])
            raise _no_space()

    def filling_open(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = real_open(path, mode, *args, **kwargs)
        if "w" not in mode:
            return handle
        calls["n"] += 1
        # two runs are saved (4 files each); the third run's second file fills the disk
        return handle if calls["n"] < 10 else Filling(handle)

    monkeypatch.setattr(store_module, "open", filling_open, raising=False)
    result = runner.invoke(reproduce_app, [*REPRODUCE, "--out", str(out)])
    monkeypatch.undo()
    line = _one_error_line(result)
    assert NO_SPACE in line and "metrics.csv" in line and "rerun the same command" in line
    exp = out / "toy-flat"
    saved = sorted(p for p in exp.iterdir() if p.name.startswith("quick__"))
    assert len(saved) == 2 and not _temps(out), _temps(out)
    store = RunStore(out)
    from vtwin.experiments import expand, get_experiment

    specs = {s.run_id: s for s in expand(get_experiment("toy-flat"), quick=True)}
    for folder in saved:
        assert store.is_complete(specs[folder.name])
    pid = _dead_pid()  # what a SIGKILL while writing the report would leave
    for stale in (out / f".index.html.tmp-{pid}", exp / f".REPORT.md.tmp-{pid}"):
        stale.write_text("half")
    # space freed: the rerun keeps the two saved runs and does the other four
    again = runner.invoke(reproduce_app, [*REPRODUCE, "--out", str(out)])
    assert again.exit_code == 0, again.output
    assert "6 runs: 4 run now, 2 reused, 0 failed" in again.stdout
    for run_id in specs:
        for name in ("metrics.csv", "summary.json", "artifacts.json"):
            a = (out / "toy-flat" / run_id / name).read_text()
            assert a == (tmp_path / "ref" / "toy-flat" / run_id / name).read_text(), run_id
    assert not _temps(out)


# ------------------------------------------------------------------------------ forecaster
FORECAST = ("forecast", "train", "synthetic", "--model", "gru", "--epochs", "1")
FORECAST += ("--window", "4", "--max-series", "1", "--device", "cpu")


def test_a_forecaster_folder_cut_short_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "model"
    with monkeypatch.context() as patch:
        FullDisk(patch, out, 3)  # model.pt, data.json, then test_metrics.json fills the disk
        result = runner.invoke(app, [*FORECAST, "--out", str(out)])
    line = _one_error_line(result)
    assert f"could not write {out / 'test_metrics.json'}: {NO_SPACE}" in line, line
    assert not (out / "forecaster.json").exists() and not _temps(out)
    evaluated = runner.invoke(app, ["forecast", "evaluate", str(out)])
    line = _one_error_line(evaluated)
    assert "its saving was cut short" in line and "vtwin forecast train" in line, line
    result = runner.invoke(app, [*FORECAST, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["forecast", "evaluate", str(out)]).exit_code == 0
    meta = json.loads((out / "forecaster.json").read_text())
    assert meta["settings"]["epochs"] == 1
    (out / "model.pt").write_bytes((out / "model.pt").read_bytes()[:100])
    line = _one_error_line(runner.invoke(app, ["forecast", "evaluate", str(out)]))
    assert f"{out / 'model.pt'}: not readable weights" in line, line
    with pytest.raises(ValueError, match="not readable weights"):
        TrainedForecaster.load(out)
