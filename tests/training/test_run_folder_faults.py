"""Run folders under faults: corrupt files give one line naming them and are left alone; a
failed attempt does not lock its folder; a finished run continues with more steps."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from vtwin.cli import app
from vtwin.devices import pick_device

TRAIN = ["train", "--env", "paper-a-tiny", "--algo", "random", "--batch-envs", "2"]


def _train(out: Path, steps: int, *extra: str) -> object:
    return CliRunner().invoke(app, [*TRAIN, "--steps", str(steps), "--out", str(out), *extra])


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "r"
    result = _train(out, 100)
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    return out


def _copy(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True)
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[:1000],  # truncated
        lambda b: bytes(range(256)) * 8,  # random bytes
        lambda b: b"",  # empty
    ],
    ids=["truncated", "random-bytes", "empty"],
)
def test_corrupt_checkpoint_is_one_line_and_left_alone(
    trained: Path, tmp_path: Path, damage: object
) -> None:
    run = _copy(trained, tmp_path / "r")
    bad = damage((trained / "checkpoint.pt").read_bytes())  # type: ignore[operator]
    (run / "checkpoint.pt").write_bytes(bad)
    runner = CliRunner()
    for args in (["evaluate", str(run)], [*TRAIN, "--steps", "100", "--out", str(run)]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert "checkpoint.pt: not a readable checkpoint" in result.stderr
        assert "Traceback" not in result.output
        assert (run / "checkpoint.pt").read_bytes() == bad  # nothing replaced


def test_checkpoint_of_another_kind_is_refused(trained: Path, tmp_path: Path) -> None:
    run = _copy(trained, tmp_path / "r")
    torch.save({"weights": [1, 2]}, run / "checkpoint.pt")
    result = CliRunner().invoke(app, ["evaluate", str(run)])
    assert result.exit_code == 2 and "not a vtwin training checkpoint" in result.stderr


@pytest.mark.parametrize(
    "text",
    [b"\x00\xff\xfe binary", b"config: [unclosed", b"- just\n- a list\n", b"train: {}\n"],
    ids=["binary", "bad-yaml", "list", "no-config"],
)
def test_corrupt_run_config_is_one_line(trained: Path, tmp_path: Path, text: bytes) -> None:
    run = _copy(trained, tmp_path / "r")
    (run / "config.yaml").write_bytes(text)
    result = CliRunner().invoke(app, ["evaluate", str(run)])
    assert result.exit_code == 2, result.output
    assert "config.yaml: not a" in result.stderr and "Traceback" not in result.output


def test_failed_attempt_does_not_lock_the_folder(tmp_path: Path) -> None:
    out = tmp_path / "r"
    bad = CliRunner().invoke(
        app, [*TRAIN[:4], "ppo", "--steps", "50", "--out", str(out), "-p", "rollout_slots=0"]
    )
    assert bad.exit_code == 2 and "rollout_slots = 0" in bad.stderr
    good = _train(out, 50)
    assert good.exit_code == 0, good.output  # type: ignore[attr-defined]


def test_finished_run_continues_with_more_steps_and_refuses_other_settings(
    trained: Path, tmp_path: Path
) -> None:
    run = _copy(trained, tmp_path / "r")
    more = _train(run, 300)
    assert more.exit_code == 0, more.output  # type: ignore[attr-defined]
    assert "episodes: 2" in more.stdout and "steps: 400" in more.stdout  # type: ignore[attr-defined]
    # the same result as one uninterrupted run of the larger budget
    straight = _train(tmp_path / "s", 300)
    assert (run / "metrics.csv").read_text().splitlines()[-1].split(",")[:3] == (
        (tmp_path / "s" / "metrics.csv").read_text().splitlines()[-1].split(",")[:3]
    )
    assert straight.exit_code == 0  # type: ignore[attr-defined]
    other = _train(run, 300, "--seed", "5")
    assert other.exit_code == 2  # type: ignore[attr-defined]
    assert "train.seed differ" in other.stderr and "--fresh" in other.stderr  # type: ignore[attr-defined]
    fresh = _train(run, 100, "--seed", "5", "--fresh")
    assert fresh.exit_code == 0, fresh.output  # type: ignore[attr-defined]
    assert "steps: 200" in fresh.stdout  # type: ignore[attr-defined]


def test_rounding_to_whole_episodes_is_said(tmp_path: Path) -> None:
    result = _train(tmp_path / "r", 30)
    assert result.exit_code == 0  # type: ignore[attr-defined]
    text = " ".join(result.stdout.split())  # type: ignore[attr-defined]
    assert "training runs whole episodes, so 30 steps became" in text


@pytest.mark.parametrize(
    ("device", "message"),
    [
        ("bogus", "device = 'bogus': unknown; allowed: auto, cpu, cuda, cuda:N, mps"),
        ("tpu", "device = 'tpu'"),
    ],
)
def test_bad_device_is_one_line(device: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        pick_device(device)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_on_a_cpu_machine_is_one_line(tmp_path: Path) -> None:
    result = _train(tmp_path / "r", 50, "--device", "cuda")
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert "CUDA is not available on this machine" in result.stderr  # type: ignore[attr-defined]
    assert not (tmp_path / "r").exists()  # refused before anything was written
