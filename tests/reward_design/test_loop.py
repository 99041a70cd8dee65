"""The reward-design loop end to end with the offline server, and its parts.

The whole loop runs once per module (2 rounds × 4 candidates of the packaged quick script:
good JSON, a fenced block, prose without code, hostile code, a NaN reward, a dominated
reward, JSON inside a fence), on tiny budgets; later tests reuse its folder.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("openai")

from vtwin.reward_design.cli import QUICK
from vtwin.reward_design.extract import extract_candidate
from vtwin.reward_design.loop import (
    DesignSettings,
    RewardDesign,
    candidate_id,
    load_prompt,
    standardise,
)
from vtwin.reward_design.server import OfflineChatServer, ScriptedReply, load_script

QUICK_SCRIPT = Path(__file__).resolve().parents[2] / "src/vtwin/reward_design/offline_quick.yaml"
TINY = DesignSettings(
    preset="paper-c-synth",
    overrides=("privacy.observation=servers",),
    rounds=2,
    samples=4,
    model="vtwin-offline",
    train_steps=48,
    slots=12,
    batch=2,
    eval_batch=2,
    eval_episodes=1,
    max_retries=1,
    timeout_s=20,
    env_source=False,
)


def make_design(run_dir: Path, server: OfflineChatServer, **kw) -> RewardDesign:
    settings = replace(TINY, base_url=server.base_url, **kw)
    return RewardDesign(run_dir, settings, workers=1)


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory):
    """One whole run of the loop: (run folder, the server's request counts, best)."""
    run_dir = tmp_path_factory.mktemp("design") / "run"
    with OfflineChatServer(load_script(QUICK_SCRIPT)) as server:
        best = make_design(run_dir, server).run()
        counts = dict(server.counts)
    return run_dir, counts, best


def verdict(run_dir: Path, r: int, k: int) -> dict:
    return json.loads((run_dir / f"round_{r:02d}/sample_{k:02d}/verdict.json").read_text())


def test_every_reply_keeps_its_slot_and_its_reason(finished) -> None:
    run_dir, counts, _ = finished
    assert counts == {(r, k): 1 for r in (0, 1) for k in range(4)}
    expected = {
        (0, 0): (True, "sanity", "json"),
        (0, 1): (True, "sanity", "fenced"),
        (0, 2): (False, "extract", "none"),
        (0, 3): (False, "static", "json"),
        (1, 0): (True, "sanity", "json"),
        (1, 1): (False, "sanity", "json"),
        (1, 2): (False, "sanity", "json"),
        (1, 3): (True, "sanity", "json"),
    }
    for (r, k), (ok, stage, how) in expected.items():
        v = verdict(run_dir, r, k)
        assert v["id"] == candidate_id(r, k)
        assert (v["stage"], v["how"], v["ok"]) == (stage, how, ok), v
        assert v["ok"] or v["reason"], v
    assert "Import" in verdict(run_dir, 0, 3)["reason"]
    assert "non-finite" in verdict(run_dir, 1, 1)["reason"]
    assert "dominates" in verdict(run_dir, 1, 2)["reason"]
    assert not (run_dir / "round_00/sample_02/candidate.py").exists()


def test_survivors_are_trained_scored_and_the_best_is_kept(finished) -> None:
    run_dir, _, best = finished
    rows = []
    for r in (0, 1):
        results = json.loads((run_dir / f"round_{r:02d}/results.json").read_text())
        assert [c["id"] for c in results["candidates"]] == [candidate_id(r, k) for k in range(4)]
        rows += [c for c in results["candidates"] if c["kpis"]]
    assert len(rows) >= 3
    for row in rows:
        assert set(row["kpis"]) == {"utility", "entropy_bits", "latency_s", "qos_loss"}
        assert all(np.isfinite(v) for v in row["kpis"].values())
    top = max(rows, key=lambda c: c["kpis"]["utility"])
    assert best["id"] == top["id"] and best["kpis"] == top["kpis"]
    k = int(top["id"][-2:])
    r = int(top["id"][1:3])
    code = (run_dir / f"round_{r:02d}/sample_{k:02d}/candidate.py").read_text()
    assert (run_dir / "best_reward.py").read_text() == code
    usage = json.loads((run_dir / "usage.json").read_text())
    assert usage["replies"] == 8 and usage["prompt_tokens"] > 0


def test_round_one_prompt_feeds_back_results_failures_and_the_best(finished) -> None:
    run_dir, _, _ = finished
    first = json.loads((run_dir / "round_00/prompt.json").read_text())
    second = json.loads((run_dir / "round_01/prompt.json").read_text())
    assert [m["role"] for m in second] == ["system", "user"]
    text = second[1]["content"]
    assert text.startswith(first[1]["content"])  # the task is repeated, then the feedback
    assert "# Results of round 0" in text and "| r00_s00 (utility_log_latency) |" in text
    assert "r00_s02 (r00_s02): extract: no usable code" in text
    assert "r00_s03 (helpful): static:" in text
    assert "def reward(terms):" in text.split("# The best reward so far")[1]


def test_a_rerun_is_free_and_changes_nothing(finished, tmp_path: Path) -> None:
    run_dir, _, best = finished
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    with OfflineChatServer(load_script(QUICK_SCRIPT)) as server:
        again = make_design(run_dir, server).run()
        assert server.counts == {}
    assert again == best
    after = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    changed = [str(p) for p in before if before[p] != after.get(p) and p.name != "settings.json"]
    assert changed == []


def test_the_reply_cache_replays_a_deleted_run_bit_for_bit(finished, tmp_path: Path) -> None:
    run_dir, _, best = finished
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    for folder in copy.glob("round_*"):
        shutil.rmtree(folder)
    for name in ("best.json", "best_reward.py"):
        (copy / name).unlink()
    with OfflineChatServer(load_script(QUICK_SCRIPT)) as server:
        again = make_design(copy, server).run()
        assert server.counts == {}  # every reply came from the cache
    assert again == best  # the same training results: deterministic per seed


def test_confirmation_compares_the_best_with_both_paper_rewards_on_fresh_seeds(
    finished, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(finished[0], run_dir)
    with OfflineChatServer(load_script(QUICK_SCRIPT)) as server:
        make_design(run_dir, server, confirm_seeds=2).run()
        assert server.counts == {}
    result = json.loads((run_dir / "confirm.json").read_text())
    assert result["seeds"] == [100, 101]
    assert set(result["rewards"]) == {"designed", "eq20", "eq21"}
    for row in result["rewards"].values():
        assert row["runs"] == 2 and row["failed"] == []
        assert all(
            np.isfinite(row[m]["mean"]) and row[m]["sd"] >= 0 for m in ("utility", "latency_s")
        )
    stored = sorted(p.name for p in (run_dir / "confirm").glob("*.json"))
    assert len(stored) == 6
    first = (run_dir / "confirm.json").read_bytes()
    with OfflineChatServer(load_script(QUICK_SCRIPT)) as server:
        make_design(run_dir, server, confirm_seeds=2).run()  # nothing to train again
    assert (run_dir / "confirm.json").read_bytes() == first


def test_changed_settings_are_refused_for_an_existing_folder(finished, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(finished[0], run_dir)
    with OfflineChatServer(load_script(QUICK_SCRIPT)) as server:
        with pytest.raises(ValueError, match=r"other settings \(train_steps differ\)"):
            make_design(run_dir, server, train_steps=96)
        make_design(run_dir, server, rounds=3, timeout_s=5)  # more rounds: allowed


def test_a_killed_run_resumes_without_asking_again(tmp_path: Path) -> None:
    """SIGKILL the CLI while it trains round 0, rerun it: it finishes, and no reply is
    requested twice."""
    run_dir = tmp_path / "run"
    script = load_script(QUICK_SCRIPT)
    cmd = [
        sys.executable, "-m", "vtwin.cli", "reward-design", "--out", str(run_dir),
        "--preset", "paper-c-synth", "--rounds", "2", "--samples", "4", "--steps", "48",
        "--batch", "2", "--slots", "12", "--model", "vtwin-offline",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    with OfflineChatServer(script) as server:
        proc = subprocess.Popen(
            [*cmd, "--base-url", server.base_url],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while not (run_dir / "round_00/sample_03/verdict.json").exists():
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        done = subprocess.run(
            [*cmd, "--base-url", server.base_url], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert set(server.counts.values()) == {1}
        assert len(server.counts) == 8
    assert (run_dir / "best_reward.py").exists()
    assert not list(run_dir.rglob("*.tmp*"))  # no half-written file left behind


# ----------------------------------------------------------------------------- parts
def test_extraction_accepts_the_usual_reply_shapes() -> None:
    code = "def reward(terms):\n    e = terms['entropy_bits']\n    return e, {'e': e}\n"
    shapes = {
        "bare json": json.dumps({"name": "a", "code": code}),
        "json in prose": "Sure! " + json.dumps({"name": "a", "code": code}) + " Hope it helps.",
        "json fence": "```json\n" + json.dumps({"name": "a", "code": code}) + "\n```",
        "list form": json.dumps({"rewards": [{"name": "a", "code": code}]}),
        "python fence": "Here:\n```python\n" + code + "```\n",
    }
    for label, reply in shapes.items():
        got = extract_candidate(reply, fallback_name="x")
        assert got.ok and got.code.strip() == code.strip(), label


def test_extraction_says_why_a_reply_is_unusable() -> None:
    assert "empty" in extract_candidate("  ", fallback_name="x").reason
    assert "no usable code" in extract_candidate('{"name": "a"}', fallback_name="x").reason
    broken = '{"name": "a", "code": "def reward(terms):\n return (("}'
    assert "static check" in extract_candidate(broken, fallback_name="x").reason
    got = extract_candidate('{"name": "../../etc", "code": "def reward(terms):\\n    return 1"}',
                            fallback_name="x")  # fmt: skip
    assert got.name == "etc"


def test_standardise_signs_better_as_positive() -> None:
    assert standardise([1.0, 3.0], 1.0) == [-1.0, 1.0]
    assert standardise([1.0, 3.0], -1.0) == [1.0, -1.0]
    assert standardise([2.0, 2.0], 1.0) == [0.0, 0.0]
    assert standardise([], 1.0) == []


def test_prompts_are_package_files_with_every_placeholder_filled(tmp_path: Path) -> None:
    for name in ("system", "initial", "feedback", "task", "rules", "terms", "output_format"):
        assert load_prompt(name).template.strip()
    with OfflineChatServer({(0, 0): ScriptedReply("x")}) as server:
        design = make_design(tmp_path / "run", server, env_source=True)
        text = design.initial_prompt()
    assert "$" not in text.replace("$", "", text.count("$$"))  # no unfilled $placeholder
    assert "class BatchedCrossRealityPrivacy" in text  # the env's own source
    assert "| `entropy_bits` | bit |" in text


def test_the_human_preference_reaches_the_refinement_prompt(finished, tmp_path: Path) -> None:
    run_dir, _, _ = finished
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    with OfflineChatServer(load_script(QUICK_SCRIPT)) as server:
        design = make_design(copy, server, preference="Latency matters more than QoS to us.")
        text = design.feedback_prompt(0)
    assert "# The human expert's preference" in text
    assert "Latency matters more than QoS to us." in text


def test_bad_settings_name_the_field() -> None:
    with pytest.raises(ValueError, match=r"select = 'speed'; allowed: utility"):
        DesignSettings(select="speed")
    with pytest.raises(ValueError, match=r"samples = 0: must be ≥ 1"):
        DesignSettings(samples=0)
    with pytest.raises(ValueError, match=r"method = 'dqn'"):
        DesignSettings(method="dqn")
    with pytest.raises(ValueError, match=r"max_weight_ratio = 1"):
        DesignSettings(max_weight_ratio=1)


def test_quick_settings_are_valid() -> None:
    DesignSettings(**QUICK)
