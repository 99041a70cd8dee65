"""Paper C's reward-design loop (Sec. 5.2.1): generate, filter and evaluate, feed back, refine.

Round r:

1. **Generate.** The prompt (files in ``prompts/``: the role, the task, the env's term table
   and source, the code rules and the JSON answer format; from round 1 on, the previous
   round's standardised results, its failures with their reasons, the best reward so far and
   an optional human preference) goes to the model ``samples`` times, with
   ``seed = 1000 r + k`` for sample k.
2. **Filter.** Each reply → code (JSON, else a fenced block) → the sandbox's static
   allow-list → a sanity run in the sandbox on terms recorded from the env (finite, right
   shape, not constant, no component larger than ``max_weight_ratio`` × the smallest).
3. **Evaluate.** Each survivor trains a short run of ``method`` (HDPPO by default) with the
   candidate as its reward (``reward.kind = sandbox:<file>``: the candidate runs in a sandbox
   worker inside the training process) through the experiment executor (local pool or any
   backend of :func:`~vtwin.experiments.executor.make_executor`), and is scored on the KPIs
   of fixed evaluation episodes: utility (eq. (17)), entropy, latency, QoS loss.
4. **Feed back.** The round's results go into the next round's prompt; the best candidate so
   far (by ``select``, utility by default) is kept as ``best_reward.py``.
5. **Confirm** (optional, ``confirm_seeds``): the best reward, eq. (20) and eq. (21) each
   train ``method`` on fresh seeds (from 100: the best was picked on seed 0, so its luck does
   not count) and are compared on the same KPIs — LHDPPO vs HDPPO vs eq. (21).

Everything a round produces is written atomically under the run folder, one file per step
(``settings.json``, ``sandbox.json`` (the active layers), ``terms.npz``,
``round_RR/prompt.json``, ``round_RR/sample_KK/{reply.json, candidate.py, verdict.json,
seed_N.json, kpis.json}``, ``round_RR/results.json``, ``best.json``, ``best_reward.py``,
``usage.json``, and with ``confirm_seeds`` ``confirm/*.json`` and ``confirm.json``);
rerunning the same command skips every file already there, and the client's reply cache
(``cache/``) makes repeated requests free. Sample k of round r is always candidate
``rRR_sKK``: a reply that fails to parse keeps its slot and its reason.
"""

from __future__ import annotations

import inspect
import json
import math
import shutil
import string
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from vtwin.experiments.report import write_text_atomic
from vtwin.reward_design.extract import extract_candidate
from vtwin.rewards.sandbox import SandboxedReward, SandboxError, SandboxLimits

__all__ = [
    "KPI_DIRECTIONS",
    "DesignSettings",
    "RewardDesign",
    "candidate_id",
    "load_prompt",
    "standardise",
]

KPI_DIRECTIONS: dict[str, float] = {
    "utility": 1.0,
    "entropy_bits": 1.0,
    "latency_s": -1.0,
    "qos_loss": -1.0,
}
"""The KPIs a candidate is scored on, and whether higher (+1) or lower (−1) is better."""
SETTINGS_FILE = "settings.json"
TERMS_FILE = "terms.npz"
BEST_CODE = "best_reward.py"
BEST_FILE = "best.json"
USAGE_FILE = "usage.json"


@dataclass(frozen=True)
class DesignSettings:
    """One reward-design run. Budgets in env steps (transitions) of ``batch`` copies."""

    preset: str = "paper-c"
    overrides: tuple[str, ...] = ("privacy.observation=servers",)
    rounds: int = 3
    samples: int = 4
    model: str = "gpt-4o"
    base_url: str = "https://api.openai.com/v1"
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float = 1.0
    max_tokens: int = 4096
    timeout_s: float = 120.0
    max_retries: int = 3
    method: str = "hdppo"
    train_steps: int = 6_000
    slots: int = 60
    batch: int = 8
    eval_batch: int = 8
    eval_episodes: int = 1
    seeds: int = 1
    select: str = "utility"
    max_weight_ratio: float = 100.0
    preference: str = ""
    env_source: bool = True
    record_slots: int = 0
    confirm_seeds: int = 0
    confirm_steps: int = 0
    sandbox: SandboxLimits = field(default_factory=SandboxLimits)

    def __post_init__(self) -> None:
        names = (
            "rounds",
            "samples",
            "train_steps",
            "slots",
            "batch",
            "eval_batch",
            "eval_episodes",
        )
        for name in names:
            if int(getattr(self, name)) < 1:
                raise ValueError(f"reward design: {name} = {getattr(self, name)}: must be ≥ 1")
        if not 1 <= self.seeds <= 10:
            raise ValueError(f"reward design: seeds = {self.seeds}: must be in 1..10")
        if not 0 <= self.confirm_seeds <= 20 or self.confirm_steps < 0:
            raise ValueError(
                f"reward design: confirm_seeds = {self.confirm_seeds}, confirm_steps = "
                f"{self.confirm_steps}: seeds in 0..20 (0: no confirmation), steps ≥ 0"
            )
        if self.samples > 999:
            raise ValueError(f"reward design: samples = {self.samples}: at most 999 per round")
        if self.select not in KPI_DIRECTIONS:
            raise ValueError(
                f"reward design: select = {self.select!r}; allowed: {', '.join(KPI_DIRECTIONS)}"
            )
        if not self.max_weight_ratio > 1:
            raise ValueError(
                f"reward design: max_weight_ratio = {self.max_weight_ratio}: must be > 1"
            )
        if self.method not in ("hdppo", "hppo", "ghppo"):
            raise ValueError(
                f"reward design: method = {self.method!r}; allowed: hdppo, hppo, ghppo"
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain data (what ``settings.json`` holds)."""
        data = asdict(self)
        data["overrides"] = list(self.overrides)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DesignSettings:
        """Inverse of :meth:`to_dict`."""
        data = dict(data)
        data["overrides"] = tuple(data.get("overrides", ()))
        data["sandbox"] = SandboxLimits(**data.get("sandbox", {}))
        return cls(**data)

    def same_work(self, other: DesignSettings) -> list[str]:
        """Fields whose change would make stored results stale (model, budgets, env …)."""
        free = {"timeout_s", "max_retries", "base_url", "api_key_env", "rounds", "preference",
                "confirm_seeds", "confirm_steps"}  # fmt: skip
        mine, theirs = self.to_dict(), other.to_dict()
        return sorted(k for k in mine if k not in free and mine[k] != theirs[k])


def candidate_id(round_: int, sample: int) -> str:
    """The stable id of sample ``sample`` of round ``round_``: ``rRR_sKK``."""
    return f"r{round_:02d}_s{sample:02d}"


def load_prompt(name: str) -> string.Template:
    """A prompt file of the package (``prompts/<name>.md``) as a ``$``-template."""
    text = resources.files("vtwin.reward_design").joinpath("prompts", f"{name}.md").read_text()
    return string.Template(text)


def standardise(values: Sequence[float], direction: float) -> list[float]:
    """z-scores of ``values`` signed so that positive is better (0 when they are all equal)."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return []
    sd = float(arr.std())
    if not sd > 1e-12:
        return [0.0] * arr.size
    return [float(z) for z in direction * (arr - arr.mean()) / sd]


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _write_json(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=1, sort_keys=True, default=float) + "\n")


ChatFactory = Callable[[DesignSettings, Path], Any]
"""Builds the chat client: (settings, cache folder) → an object with ``complete``."""


def default_client(settings: DesignSettings, cache_dir: Path) -> Any:
    """The OpenAI-compatible client of :mod:`vtwin.reward_design.client`."""
    from vtwin.reward_design.client import ChatClient

    return ChatClient(
        settings.base_url,
        settings.model,
        api_key_env=settings.api_key_env,
        timeout_s=settings.timeout_s,
        max_retries=settings.max_retries,
        cache_dir=cache_dir,
    )


class RewardDesign:
    """A resumable reward-design run in ``run_dir`` (module docstring).

    ``client_factory`` builds the chat client (default: :func:`default_client`);
    ``executor`` runs the training runs (default: :func:`~vtwin.experiments.executor.make_executor`
    of ``backend``, ``workers`` and ``address``);
    ``log`` receives one line per event (progress).
    """

    def __init__(
        self,
        run_dir: Path | str,
        settings: DesignSettings,
        *,
        client_factory: ChatFactory = default_client,
        executor: Any = None,
        workers: int | None = 1,
        backend: str = "local",
        address: str | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        """Open (or create) the run folder; a folder made with other settings is refused."""
        self.dir = Path(run_dir)
        self.settings = settings
        self.log = log or (lambda _msg: None)
        stored = self.dir / SETTINGS_FILE
        if stored.exists():
            try:
                previous = DesignSettings.from_dict(_read_json(stored))
            except (ValueError, TypeError, KeyError) as exc:
                raise ValueError(
                    f"{stored}: unreadable settings ({exc}); use a new folder"
                ) from None
            changed = settings.same_work(previous)
            if changed:
                raise ValueError(
                    f"{self.dir}: was made with other settings ({', '.join(changed)} differ); "
                    "use a new folder or the same settings"
                )
        self.dir.mkdir(parents=True, exist_ok=True)
        _write_json(stored, settings.to_dict())
        self._client_factory = client_factory
        self._client: Any = None
        self._executor = executor
        self._workers = workers
        self._backend = backend
        self._address = address

    # ------------------------------------------------------------------ paths and state
    def round_dir(self, r: int) -> Path:
        """The folder of round ``r``."""
        return self.dir / f"round_{r:02d}"

    def sample_dir(self, r: int, k: int) -> Path:
        """The folder of sample ``k`` of round ``r``."""
        return self.round_dir(r) / f"sample_{k:02d}"

    @property
    def client(self) -> Any:
        """The chat client (built on first use: a fully cached rerun needs no server)."""
        if self._client is None:
            self._client = self._client_factory(self.settings, self.dir / "cache")
        return self._client

    # ------------------------------------------------------------------ the loop
    def run(self) -> dict[str, Any]:
        """Run (or resume) every round; the best candidate's record."""
        terms = self.recorded_terms()
        layers_file = self.dir / "sandbox.json"
        if not layers_file.exists():
            from vtwin.rewards.sandbox import sandbox_layers

            _write_json(layers_file, sandbox_layers(self.settings.sandbox))
        for r in range(self.settings.rounds):
            if (self.round_dir(r) / "results.json").exists():
                self.log(f"round {r}: done earlier, skipped")
                continue
            self.log(f"round {r}: asking for {self.settings.samples} candidates")
            messages = self.prompt(r)
            for k in range(self.settings.samples):
                self.generate(r, k, messages)
                self.filter(r, k, terms)
            self.evaluate(r)
            self.summarise(r)
        self.write_usage()
        best = self.best()
        if best is None:
            raise ValueError(f"{self.dir}: no candidate survived; see round_*/results.json")
        if self.settings.confirm_seeds:
            self.confirm()
        return best

    # ---- stage 5: confirm on fresh seeds
    CONFIRM_SEED0 = 100
    """Confirmation seeds start here: the best was picked on seeds 0…, so fresh ones judge it
    without the selection's luck."""

    def confirm(self) -> dict[str, Any]:
        """Train the learner on the designed reward, eq. (20) and eq. (21) with
        ``confirm_seeds`` fresh seeds each and compare them on the KPIs (``confirm.json``):
        LHDPPO (designed) vs HDPPO (eq. (20)) vs eq. (21)."""
        s = self.settings
        folder = self.dir / "confirm"
        rewards = {
            "designed": f"sandbox:{(self.dir / BEST_CODE).resolve()}",
            "eq20": "paper-c",
            "eq21": "paper-c-llm",
        }
        code_now = (self.dir / BEST_CODE).read_text()
        stamp = folder / "best_reward.py"
        if stamp.exists() and stamp.read_text() != code_now:  # a later round found a new best
            shutil.rmtree(folder)
        folder.mkdir(parents=True, exist_ok=True)
        write_text_atomic(stamp, code_now)
        specs = []
        for label, kind in rewards.items():
            for i in range(s.confirm_seeds):
                seed = self.CONFIRM_SEED0 + i
                if (folder / f"{label}__seed={seed}.json").exists():
                    continue
                steps = s.confirm_steps or s.train_steps
                specs.append(self._run_spec(f"{label}__seed={seed}", seed, kind, steps))

        def done(spec: Any, outcome: Any) -> None:
            self._save_outcome(folder / f"{spec.run_id}.json", outcome, f"confirm {spec.run_id}")

        if specs:
            self.log(f"confirming: {len(specs)} run(s) on seeds from {self.CONFIRM_SEED0}")
            self._executor_for().run("vtwin.experiments.paper_c.learners:run_learner", specs, done)
        table: dict[str, Any] = {}
        for label in rewards:
            runs = [_read_json(folder / f"{label}__seed={self.CONFIRM_SEED0 + i}.json")
                    for i in range(s.confirm_seeds)]  # fmt: skip
            good = [x["summary"] for x in runs if x["ok"]]
            table[label] = {
                "runs": len(good),
                "failed": [x["error"] for x in runs if not x["ok"]],
                **{
                    m: {
                        "mean": float(np.mean([g[m] for g in good])) if good else math.nan,
                        "sd": float(np.std([g[m] for g in good], ddof=1)) if len(good) > 1 else 0.0,
                    }
                    for m in KPI_DIRECTIONS
                },
            }
        result = {"seeds": [self.CONFIRM_SEED0 + i for i in range(s.confirm_seeds)],
                  "steps": s.confirm_steps or s.train_steps, "rewards": table}  # fmt: skip
        _write_json(self.dir / "confirm.json", result)
        return result

    # ---- stage 0: the terms of the sanity run
    def recorded_terms(self) -> dict[str, np.ndarray]:
        """Reward terms of one episode of each rule (random, Geo-I, max radius) on the
        preset, stacked over slots and copies: ``[slots·B·3, M]`` (recorded once)."""
        path = self.dir / TERMS_FILE
        if path.exists():
            with np.load(path, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        from vtwin.envs.privacy import REWARD_TERMS, BatchedCrossRealityPrivacy
        from vtwin.envs.privacy_policies import GeoIPolicy, MaxRadiusPolicy, RandomHybridPolicy

        env = BatchedCrossRealityPrivacy(self.env_config(), self.settings.eval_batch)
        rows: dict[str, list[np.ndarray]] = {name: [] for name in REWARD_TERMS}
        policies: tuple[Any, ...] = (
            RandomHybridPolicy(seed=1),
            GeoIPolicy(seed=2),
            MaxRadiusPolicy(seed=3),
        )
        for i, policy in enumerate(policies):
            env.reset(seed=424242 + i)
            policy.reset(env)
            slots = self.settings.record_slots or env.horizon
            for _ in range(min(slots, env.horizon)):
                _, _, _, truncated, info = env.step(policy.act(env))
                policy.observe(info)
                for name in REWARD_TERMS:
                    rows[name].append(np.asarray(info[name]))
                if truncated.all():
                    break
        terms = {k: np.concatenate(v, axis=0) for k, v in rows.items()}
        tmp = path.with_name(".terms.tmp.npz")
        np.savez(tmp, **terms)  # type: ignore[arg-type]
        tmp.replace(path)
        return terms

    def env_config(self) -> Any:
        """The validated config candidates train on (preset + overrides)."""
        from vtwin.config import load_config

        s = self.settings
        return load_config(s.preset, [*s.overrides, f"horizon_slots={s.slots}"])

    # ---- stage 1: generate
    def prompt(self, r: int) -> list[dict[str, str]]:
        """Round ``r``'s messages (stored in ``prompt.json``; a stored prompt is reused)."""
        path = self.round_dir(r) / "prompt.json"
        if path.exists():
            return list(_read_json(path))
        user = self.initial_prompt()
        if r > 0:
            user += "\n\n" + self.feedback_prompt(r - 1)
        messages = [
            {"role": "system", "content": load_prompt("system").template.strip()},
            {"role": "user", "content": user},
        ]
        _write_json(path, messages)
        return messages

    def initial_prompt(self) -> str:
        """The task, terms, rules, env source and answer format (round 0's whole prompt)."""
        from vtwin.envs import privacy
        from vtwin.rewards.paper_c import PaperCReward
        from vtwin.rewards.sandbox import _worker

        config = self.env_config()
        w = PaperCReward().weights
        task = load_prompt("task").substitute(
            n_avs=config.vehicles.count,
            r_max_deg=config.privacy.r_max_deg,
            n_rsus=config.servers.rsu.count,
            w_entropy=w["entropy"],
            w_latency=w["latency"],
            w_qos=w["qos"],
        )
        rules = load_prompt("rules").substitute(
            numpy_names=", ".join(f"np.{n}" for n in _worker.NUMPY_NAMES)
            + ", "
            + ", ".join(f"math.{n}" for n in _worker.MATH_NAMES),
            builtins=", ".join(_worker.SAFE_BUILTINS),
            cpu_s=f"{self.settings.sandbox.cpu_s:g}",
        )
        source = inspect.getsource(privacy) if self.settings.env_source else "(omitted)"
        return load_prompt("initial").substitute(
            task=task.strip(),
            terms=load_prompt("terms").template.strip(),
            rules=rules.strip(),
            env_source=source.strip(),
            output_format=load_prompt("output_format").template.strip(),
        )

    def feedback_prompt(self, r: int) -> str:
        """Round ``r``'s results as the refinement request of round ``r + 1``."""
        results = _read_json(self.round_dir(r) / "results.json")
        best = self.best()
        trained = [c for c in results["candidates"] if c["kpis"]]
        lines = ["| candidate | " + " | ".join(f"{k} | z" for k in KPI_DIRECTIONS) + " |"]
        lines.append("|---" * (1 + 2 * len(KPI_DIRECTIONS)) + "|")
        for c in trained:
            cells = [f"{c['kpis'][k]:.4g} | {c['z'][k]:+.2f}" for k in KPI_DIRECTIONS]
            lines.append(f"| {c['id']} ({c['name']}) | " + " | ".join(cells) + " |")
        if not trained:
            lines.append("| (no candidate trained) |")
        failures = [c for c in results["candidates"] if not c["kpis"]]
        failed_text = ""
        if failures:
            failed_text = "Candidates that failed, and why:\n\n" + "\n".join(
                f"- {c['id']} ({c['name']}): {c['stage']}: {c['reason']}" for c in failures
            )
        preference = ""
        if self.settings.preference.strip():
            preference = "# The human expert's preference\n\n" + self.settings.preference.strip()
        return load_prompt("feedback").substitute(
            round=r,
            method=self.settings.method.upper(),
            steps=self.settings.train_steps,
            results="\n".join(lines),
            failures=failed_text,
            best_name=best["id"] if best else "none",
            best_utility=f"{best['kpis']['utility']:.4g}" if best else "n/a",
            best_code=(self.dir / BEST_CODE).read_text() if best else "# none yet",
            preference=preference,
            output_format="Answer in the same JSON format as before.",
        )

    def generate(self, r: int, k: int, messages: list[dict[str, str]]) -> dict[str, Any]:
        """Sample ``k`` of round ``r``: the model's reply (``reply.json``), once."""
        path = self.sample_dir(r, k) / "reply.json"
        if path.exists():
            return dict(_read_json(path))
        reply = self.client.complete(
            messages,
            seed=1000 * r + k,
            temperature=self.settings.temperature,
            max_tokens=self.settings.max_tokens,
        )
        record = {
            "content": reply.content,
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
            "cost_usd": reply.cost_usd,
            "cached": reply.cached,
            "attempts": reply.attempts,
            "seconds": reply.seconds,
            "cache_key": reply.key,
        }
        _write_json(path, record)
        self.log(f"  {candidate_id(r, k)}: reply of {reply.completion_tokens} tokens")
        return record

    # ---- stage 2: filter
    def filter(self, r: int, k: int, terms: dict[str, np.ndarray]) -> dict[str, Any]:
        """Extraction, the static check and the sanity run (``verdict.json``), once."""
        where = self.sample_dir(r, k)
        path = where / "verdict.json"
        if path.exists():
            return dict(_read_json(path))
        cid = candidate_id(r, k)
        reply = _read_json(where / "reply.json")
        got = extract_candidate(reply["content"], fallback_name=cid)
        verdict: dict[str, Any] = {"id": cid, "name": got.name, "how": got.how,
                                   "rationale": got.rationale}  # fmt: skip
        if got.code is not None:
            write_text_atomic(where / "candidate.py", got.code)
        if got.code is None:
            verdict |= {"ok": False, "stage": "extract", "reason": got.reason}
        elif got.reason:
            verdict |= {"ok": False, "stage": "static", "reason": got.reason}
        else:
            ok, reason, stats = self.sanity(got.code, terms)
            verdict |= {"ok": ok, "stage": "sanity", "reason": reason, "sanity": stats}
        _write_json(path, verdict)
        self.log(f"  {cid}: {'kept' if verdict['ok'] else 'refused'}: {verdict['reason'] or 'ok'}")
        return verdict

    def sanity(self, code: str, terms: dict[str, np.ndarray]) -> tuple[bool, str, dict[str, Any]]:
        """Run the candidate in the sandbox on recorded terms: (ok, reason, statistics)."""
        try:
            with SandboxedReward(code, tuple(terms), limits=self.settings.sandbox) as reward:
                value, parts = reward(terms)
        except SandboxError as exc:
            return False, f"{exc.kind}: {exc}", {}
        stats: dict[str, Any] = {
            "reward_mean": float(value.mean()),
            "reward_std": float(value.std()),
            "component_mean_abs": {n: float(np.abs(p).mean()) for n, p in parts.items()},
        }
        if not value.std() > 1e-9 * max(1.0, abs(float(value.mean()))):
            return False, "the reward is constant over the recorded slots", stats
        sizes = stats["component_mean_abs"]
        if len(sizes) >= 2:
            big = max(sizes, key=sizes.__getitem__)
            rest = sum(v for n, v in sizes.items() if n != big)
            ratio = sizes[big] / rest if rest > 0 else math.inf
            if ratio > self.settings.max_weight_ratio:
                return (
                    False,
                    f"component '{big}' dominates: its mean |value| is {ratio:.3g}× that of "
                    f"all other components together (limit {self.settings.max_weight_ratio:g})",
                    stats,
                )
        return True, "", stats

    # ---- stage 3: evaluate
    def evaluate(self, r: int) -> None:
        """Train and score every survivor of round ``r`` without ``kpis.json`` yet."""
        from vtwin.experiments.spec import RunSpec

        specs: list[RunSpec] = []
        for k in range(self.settings.samples):
            where = self.sample_dir(r, k)
            verdict = _read_json(where / "verdict.json")
            if not verdict["ok"] or (where / "kpis.json").exists():
                continue
            for seed in range(self.settings.seeds):
                if (where / f"seed_{seed}.json").exists():
                    continue
                specs.append(self._spec(r, k, seed))
        if specs:
            self.log(f"round {r}: training {len(specs)} run(s) of {self.settings.method}")
            self._executor_for().run(
                "vtwin.experiments.paper_c.learners:run_learner", specs, self._on_done
            )
        for k in range(self.settings.samples):
            self._collect(r, k)

    def _spec(self, r: int, k: int, seed: int) -> Any:
        """The training run of sample ``k`` of round ``r`` with ``seed``."""
        code_path = (self.sample_dir(r, k) / "candidate.py").resolve()
        run_id = f"{candidate_id(r, k)}__seed={seed}"
        return self._run_spec(run_id, seed, f"sandbox:{code_path}", self.settings.train_steps)

    def _run_spec(self, run_id: str, seed: int, reward_kind: str, steps: int) -> Any:
        """One training run of ``method`` on ``reward_kind`` for paper C's ``run_learner``."""
        from vtwin.experiments.spec import RunSpec

        s = self.settings
        return RunSpec(
            experiment="reward-design",
            method=s.method if s.method != "hppo" else "h_ppo",
            seed=seed,
            budget={
                "steps": steps,
                "slots": s.slots,
                "batch": s.batch,
                "eval_batch": s.eval_batch,
                "eval_episodes": s.eval_episodes,
            },
            overrides=(*s.overrides, f"reward.kind={reward_kind}"),
            run_id=run_id,
            preset=s.preset,
        )

    def _executor_for(self) -> Any:
        if self._executor is None:
            from vtwin.experiments.executor import make_executor

            self._executor = make_executor(self._backend, self._workers, self._address)
        return self._executor

    def _on_done(self, spec: Any, outcome: Any) -> None:
        cid, _, seed = spec.run_id.partition("__seed=")
        r, k = int(cid[1:3]), int(cid[-2:])
        self._save_outcome(
            self.sample_dir(r, k) / f"seed_{seed}.json", outcome, f"{cid} seed {seed}"
        )

    def _save_outcome(self, path: Path, outcome: Any, label: str) -> None:
        """A training run's summary (or its one-line error) as ``path``, and a log line."""
        if isinstance(outcome, BaseException):
            message = " ".join(str(outcome).split())[:400]
            _write_json(path, {"ok": False, "error": f"{type(outcome).__name__}: {message}"})
            self.log(f"  {label}: training failed: {message}")
        else:
            summary = {k: float(v) for k, v in outcome.summary.items()}
            _write_json(path, {"ok": True, "summary": summary})
            self.log(f"  {label}: utility {summary.get('utility', math.nan):.4g}")

    def _collect(self, r: int, k: int) -> None:
        """``kpis.json`` of a sample from its per-seed results (mean over seeds)."""
        where = self.sample_dir(r, k)
        if (where / "kpis.json").exists() or not _read_json(where / "verdict.json")["ok"]:
            return
        runs = [where / f"seed_{s}.json" for s in range(self.settings.seeds)]
        if not all(p.exists() for p in runs):
            return
        results = [_read_json(p) for p in runs]
        failed = [x["error"] for x in results if not x["ok"]]
        if failed:
            record = {"ok": False, "error": failed[0]}
        else:
            kpis = {m: float(np.mean([x["summary"][m] for x in results])) for m in KPI_DIRECTIONS}
            record = {"ok": True, "kpis": kpis, "seeds": [x["summary"] for x in results]}
        _write_json(where / "kpis.json", record)

    # ---- stage 4: summarise and keep the best
    def summarise(self, r: int) -> dict[str, Any]:
        """Round ``r``'s standardised table and the best so far (``results.json``,
        ``best.json``, ``best_reward.py``)."""
        rows = []
        for k in range(self.settings.samples):
            where = self.sample_dir(r, k)
            verdict = _read_json(where / "verdict.json")
            row = {"id": verdict["id"], "name": verdict["name"], "stage": verdict["stage"],
                   "reason": verdict["reason"], "kpis": {}, "z": {}}  # fmt: skip
            kpi_path = where / "kpis.json"
            if verdict["ok"] and kpi_path.exists():
                kpis = _read_json(kpi_path)
                if kpis["ok"]:
                    row["kpis"] = kpis["kpis"]
                else:
                    row |= {"stage": "train", "reason": kpis["error"]}
            elif verdict["ok"]:
                row |= {"stage": "train", "reason": "training did not finish"}
            rows.append(row)
        trained = [row for row in rows if row["kpis"]]
        for metric, direction in KPI_DIRECTIONS.items():
            for row, z in zip(
                trained, standardise([t["kpis"][metric] for t in trained], direction), strict=True
            ):
                row["z"][metric] = z
        results = {"round": r, "select": self.settings.select, "candidates": rows}
        self._update_best(r, trained)
        _write_json(self.round_dir(r) / "results.json", results)
        best = self.best()
        if best is not None:
            self.log(
                f"round {r}: best so far {best['id']} ({best['name']}), "
                f"{self.settings.select} {best['kpis'][self.settings.select]:.4g}"
            )
        return results

    def _update_best(self, r: int, trained: list[dict[str, Any]]) -> None:
        metric = self.settings.select
        sign = KPI_DIRECTIONS[metric]
        best = self.best()
        changed = False
        for row in trained:
            if best is None or sign * row["kpis"][metric] > sign * best["kpis"][metric]:
                best = row | {"round": r}
                changed = True
        if best is not None and changed:
            k = int(best["id"][-2:])
            code = (self.sample_dir(best["round"], k) / "candidate.py").read_text()
            write_text_atomic(self.dir / BEST_CODE, code)
            _write_json(self.dir / BEST_FILE, {k2: v for k2, v in best.items() if k2 != "z"})

    def best(self) -> dict[str, Any] | None:
        """The best candidate so far (``best.json``), or None."""
        path = self.dir / BEST_FILE
        return dict(_read_json(path)) if path.exists() else None

    def write_usage(self) -> dict[str, Any]:
        """Token and cost totals over every stored reply (``usage.json``)."""
        replies = [_read_json(p) for p in sorted(self.dir.glob("round_*/sample_*/reply.json"))]
        usage = {
            "replies": len(replies),
            "from_cache": sum(1 for x in replies if x["cached"]),
            "prompt_tokens": sum(int(x["prompt_tokens"]) for x in replies),
            "completion_tokens": sum(int(x["completion_tokens"]) for x in replies),
            "cost_usd": float(sum(float(x["cost_usd"]) for x in replies)),
        }
        _write_json(self.dir / USAGE_FILE, usage)
        return usage

    def with_settings(self, **changes: Any) -> DesignSettings:
        """These settings with some fields changed (for callers building variants)."""
        return replace(self.settings, **changes)


def copy_best(run_dir: Path, target: Path) -> Path:
    """Copy a run's ``best_reward.py`` to ``target`` (a file path)."""
    source = run_dir / BEST_CODE
    if not source.exists():
        raise ValueError(f"{run_dir}: has no {BEST_CODE} yet")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target
