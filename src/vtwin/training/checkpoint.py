"""Run folders and atomic checkpoints, shared by the single- and multi-agent loops.

A run folder holds ``config.yaml`` (resolved config + training settings, written by
:func:`vtwin.training.train`), ``metrics.csv`` (one row per episode), ``checkpoint.pt`` and,
at the end, ``summary.json``. Every file is written to a temporary name and renamed
(:func:`vtwin.atomicio.write_atomic`), so a run killed at any moment leaves the previous
version intact; the temporary files a killed run leaves are removed when the folder is used
again (:meth:`RunFolder.clean_partial`). A write that fails (a full disk) removes its
temporary file, keeps the previous version and raises an ``OSError`` naming the file.

``checkpoint.pt`` holds the trained agent (``agent``, what :func:`load_agent` restores), the
history, and a **resume point** (``resume``): the agent, history, episode and step counters,
the loop's random state and the partly filled rollout or replay buffer as they were at the end
of the last episode *before* any end-of-run step (MAPPO's update on a leftover rollout), so a
resumed run continues exactly as an uninterrupted one would have.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from vtwin.agents.buffers import ReplayBuffer, RolloutBuffer
from vtwin.agents.protocol import Agent
from vtwin.atomicio import remove_stale_temps, write_atomic

__all__ = [
    "CHECKPOINT_FILE",
    "CONFIG_FILE",
    "METRICS_FILE",
    "SUMMARY_FILE",
    "Progress",
    "ResumePoint",
    "RunFolder",
    "end_episode",
    "write_atomic",
]

CONFIG_FILE, METRICS_FILE, CHECKPOINT_FILE, SUMMARY_FILE = (
    "config.yaml",
    "metrics.csv",
    "checkpoint.pt",
    "summary.json",
)

Rows = list[dict[str, float]]
"""A training history: one row of metrics per episode."""
Progress = Callable[[int, int, Mapping[str, float]], None] | None
"""The loops' ``progress(done, total, row)`` after every episode: agent transitions done, the
budget, and the episode's metrics row (None: silent). The public entry points
(:func:`vtwin.training.train_agent`, :func:`vtwin.training.train`) take a two-argument
``progress(done, total)`` and an ``on_episode(row)`` and combine them into this."""


@dataclass
class ResumePoint:
    """What a loop needs to continue exactly from the end of an episode."""

    agent: dict[str, Any]
    history: Rows
    episode: int
    steps: int
    rng: dict[str, Any] | None = None
    rollout: dict[str, Any] | None = None
    replay: dict[str, Any] | None = None

    @classmethod
    def take(
        cls,
        agent: Agent,
        history: Rows,
        episode: int,
        steps: int,
        *,
        rng: np.random.Generator | None = None,
        rollout: RolloutBuffer | None = None,
        replay: ReplayBuffer | None = None,
    ) -> ResumePoint:
        """A copy of the loop's state now."""
        return cls(
            agent=agent.checkpoint(),
            history=[dict(r) for r in history],
            episode=episode,
            steps=steps,
            rng=None if rng is None else dict(copy.deepcopy(rng.bit_generator.state)),
            rollout=None if rollout is None else rollout.state_dict(),
            replay=None if replay is None else replay.state_dict(),
        )

    def restore(
        self,
        agent: Agent,
        *,
        rng: np.random.Generator | None = None,
        rollout: RolloutBuffer | None = None,
        replay: ReplayBuffer | None = None,
    ) -> tuple[int, int, Rows]:
        """Put the state back into the loop's objects; returns (episode, steps, history)."""
        agent.restore(self.agent)
        if rng is not None and self.rng is not None:
            rng.bit_generator.state = copy.deepcopy(self.rng)
        if rollout is not None and self.rollout is not None:
            rollout.load_state_dict(self.rollout)
        if replay is not None and self.replay is not None:
            replay.load_state_dict(self.replay)
        return self.episode, self.steps, [dict(r) for r in self.history]


def save_torch(obj: object, path: Path) -> None:
    """``torch.save`` through a Python file, so that a full disk surfaces as the OSError
    (torch's own file writer reports it as a bare RuntimeError)."""
    with open(path, "wb") as fh:
        torch.save(obj, fh)


class RunFolder:
    """The files of one training run."""

    def __init__(self, path: Path | str) -> None:
        """Creates the folder when missing."""
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    def file(self, name: str) -> Path:
        """A file of the run (see the module's file names)."""
        return self.path / name

    def clear(self) -> None:
        """Forget an earlier run here (a fresh run follows): its checkpoint, metrics and
        summary."""
        for name in (CHECKPOINT_FILE, METRICS_FILE, SUMMARY_FILE):
            self.file(name).unlink(missing_ok=True)

    def clean_partial(self) -> list[Path]:
        """Remove the temporary files left here by killed writers; returns them."""
        return remove_stale_temps(self.path)

    def has_checkpoint(self) -> bool:
        """Whether a checkpoint (trained state) is stored here."""
        return self.file(CHECKPOINT_FILE).exists()

    def load(self) -> dict[str, Any] | None:
        """The checkpoint's payload, or None when there is none yet.

        A file that is not a checkpoint this package wrote (truncated, corrupt, another
        program's) raises ValueError naming it; the file is left as it is.
        """
        path = self.file(CHECKPOINT_FILE)
        if not path.exists():
            return None
        try:
            payload = torch.load(path, weights_only=False, map_location="cpu")
        except Exception as exc:  # torch raises RuntimeError, EOFError, UnpicklingError, ...
            reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
            raise ValueError(
                f"{path}: not a readable checkpoint ({type(exc).__name__}: {reason}); "
                "restore it, or train afresh into another folder (vtwin train --fresh)"
            ) from None
        keys = ("agent", "history", "resume")
        if not isinstance(payload, dict) or any(k not in payload for k in keys):
            raise ValueError(
                f"{path}: not a vtwin training checkpoint (expected the keys {', '.join(keys)})"
            )
        return payload

    def resume(
        self,
        agent: Agent,
        budget: int,
        *,
        rng: np.random.Generator | None = None,
        rollout: RolloutBuffer | None = None,
        replay: ReplayBuffer | None = None,
    ) -> tuple[int, int, Rows]:
        """Continue the run stored here: put the resume point's state into the loop's objects
        and return (episode, steps, history); (0, 0, []) when there is no checkpoint.

        When the stored run already reached ``budget`` steps, ``agent`` and the history are
        the trained ones (the loop has nothing left to do). ``metrics.csv`` is rewritten from
        the checkpoint's history, which it mirrors (a kill between the two writes, or a
        damaged or deleted ``metrics.csv``, is mended).
        """
        payload = self.load()
        if payload is None:
            return 0, 0, []
        history = pd.DataFrame(payload["history"])
        write_atomic(self.file(METRICS_FILE), lambda p: history.to_csv(p, index=False))
        point = ResumePoint(**payload["resume"])
        episode, steps, rows = point.restore(agent, rng=rng, rollout=rollout, replay=replay)
        if steps >= budget:
            agent.restore(payload["agent"])
            rows = [dict(r) for r in payload["history"]]
        return episode, steps, rows

    def agent_state(self) -> dict[str, Any]:
        """The trained agent's checkpoint."""
        payload = self.load()
        if payload is None:
            raise FileNotFoundError(f"{self.file(CHECKPOINT_FILE)}: no checkpoint; train first")
        state: dict[str, Any] = payload["agent"]
        return state

    def save(self, history: Rows, resume: ResumePoint, final: Agent | None = None) -> None:
        """Write ``metrics.csv`` and ``checkpoint.pt`` after an episode.

        ``final``: the agent after an end-of-run step taken since ``resume`` (None: the
        resume point's agent is the trained agent).
        """
        write_atomic(
            self.file(METRICS_FILE), lambda p: pd.DataFrame(history).to_csv(p, index=False)
        )
        payload = {
            "agent": resume.agent if final is None else final.checkpoint(),
            "history": history,
            "resume": vars(resume),
        }
        write_atomic(self.file(CHECKPOINT_FILE), lambda p: save_torch(payload, p))

    def write_summary(self, summary: dict[str, float]) -> None:
        """Write ``summary.json``."""
        text = json.dumps(summary, indent=1)
        write_atomic(self.file(SUMMARY_FILE), lambda p: p.write_text(text))


def end_episode(
    run: RunFolder | None,
    agent: Agent,
    rows: Rows,
    counters: tuple[int, int, int],
    progress: Progress,
    *,
    rng: np.random.Generator | None = None,
    rollout: RolloutBuffer | None = None,
    replay: ReplayBuffer | None = None,
    resume: ResumePoint | None = None,
) -> None:
    """What both loops do after an episode: save the run folder and report ``progress``.

    ``counters`` = (episodes done, agent transitions done, budget). The resume point is taken
    now from the loop's state (``rng``, ``rollout``, ``replay``), only when there is a folder;
    ``resume`` is one taken before an end-of-run step instead (``agent`` is then saved as the
    trained one).
    """
    episode, done_steps, budget = counters
    if run is not None:
        if resume is None:
            point = ResumePoint.take(
                agent, rows, episode, done_steps, rng=rng, rollout=rollout, replay=replay
            )
            run.save(rows, point)
        else:
            run.save(rows, resume, final=agent)
    if progress is not None:
        progress(min(done_steps, budget), budget, rows[-1])
