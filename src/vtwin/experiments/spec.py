"""Declarative experiment specs: what a paper figure needs, expanded into one spec per run.

An :class:`Experiment` names a preset, the methods compared, an optional :class:`Sweep` of one
parameter, the budgets of ``--quick`` and full runs, the figures drawn and the paper's claims
checked. :func:`expand` turns it into :class:`RunSpec` s (methods × sweep values × seeds); a
run function ``run(spec: RunSpec) -> RunResult`` does one of them. Everything here is plain,
picklable data so a run can travel to another process or machine.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pandas as pd

    from vtwin.config import VTwinConfig

__all__ = [
    "BUDGET_MODES",
    "Claim",
    "Experiment",
    "Figure",
    "RunResult",
    "RunSpec",
    "Sweep",
    "expand",
    "import_object",
    "make_run_id",
]

BUDGET_MODES: tuple[str, ...] = ("quick", "full")
"""Budget names every experiment defines: ``--quick`` (minutes, a smoke test) and full."""

BUDGET_SWEEP_PREFIX = "budget."
"""A sweep key starting with this sets a budget entry (e.g. ``budget.episodes``), not config."""

FigureKind = Literal["bar", "line", "curve", "custom"]
FIGURE_KINDS: tuple[str, ...] = ("bar", "line", "curve", "custom")

SweepScalar = str | int | float | bool

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=-]*$")  # run ids also hold key=value
_PATH_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_UNSAFE_RE = re.compile(r"[^A-Za-z0-9._-]+")


def _check_name(what: str, value: str) -> None:
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise ValueError(
            f"{what} = {value!r}: use letters, digits, '.', '_' or '-' (no spaces or slashes), "
            "starting with a letter or digit"
        )


def _check_path(what: str, value: str) -> None:
    if not isinstance(value, str) or not _PATH_RE.match(value):
        raise ValueError(
            f"{what} = {value!r}: must be an import path 'package.module:function' "
            "(e.g. 'vtwin.experiments.paper_a.uav:run_planner')"
        )


def import_object(path: str) -> Any:
    """Import ``'package.module:attr.sub'`` and return the object it names."""
    _check_path("import path", path)
    module_name, _, attr_path = path.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ValueError(
                f"import path {path!r}: module '{module_name}' has no attribute '{attr_path}'"
            ) from None
    return obj


def import_callable(path: str) -> Callable[..., Any]:
    """Like :func:`import_object`, but the object must be callable."""
    obj = import_object(path)
    if not callable(obj):
        raise ValueError(f"import path {path!r} names a {type(obj).__name__}, not a function")
    return obj


def _scalar(what: str, value: Any) -> SweepScalar:
    """A JSON/YAML scalar (numpy scalars unwrapped); anything else is an error."""
    if hasattr(value, "item") and not isinstance(value, str | int | float | bool):
        value = value.item()
    if not isinstance(value, str | int | float | bool):
        raise ValueError(f"{what} = {value!r}: must be a str, int, float or bool")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{what} = {value!r}: must be finite")
    return value


# --------------------------------------------------------------------------------------------
# Declarations
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sweep:
    """One swept parameter: a dotted config key (or ``budget.<name>``), its values and a label."""

    key: str
    values: tuple[SweepScalar, ...]
    label: str

    def __post_init__(self) -> None:
        if (
            not isinstance(self.key, str)
            or not self.key
            or any(not part for part in self.key.split("."))
        ):
            raise ValueError(
                f"sweep key = {self.key!r}: must be a dotted key like 'vehicles.count'"
            )
        values = tuple(_scalar(f"sweep {self.key} value", v) for v in self.values)
        if not values:
            raise ValueError(f"sweep {self.key}: values must not be empty")
        if len(set(map(repr, values))) != len(values):
            raise ValueError(f"sweep {self.key}: values {list(values)} contain duplicates")
        object.__setattr__(self, "values", values)

    @property
    def short_key(self) -> str:
        """The key's last part, used in run ids (``vehicles.count`` → ``count``)."""
        return self.key.rsplit(".", 1)[-1]

    @property
    def is_budget(self) -> bool:
        """Whether the sweep sets a budget entry instead of a config value."""
        return self.key.startswith(BUDGET_SWEEP_PREFIX)


@dataclass(frozen=True)
class Figure:
    """A figure to draw from the runs of an experiment.

    ``bar``: a summary metric per method (mean ± std over seeds; grouped by sweep value when
    the experiment sweeps). ``line``: a summary metric against the sweep value, one line per
    method. ``curve``: a column of the per-step metrics table against its ``step`` column,
    one line per method (and sweep value). ``custom``: ``draw(runs, ax) -> DataFrame`` gets
    the completed ``(RunSpec, RunResult)`` pairs and a matplotlib Axes and returns what it drew.
    """

    name: str
    kind: FigureKind
    metric: str
    title: str
    ylabel: str
    xlabel: str = ""
    draw: str | None = None

    def __post_init__(self) -> None:
        _check_name("figure name", self.name)
        if self.kind not in FIGURE_KINDS:
            raise ValueError(
                f"figure {self.name}: kind = {self.kind!r}; allowed: {', '.join(FIGURE_KINDS)}"
            )
        if self.kind == "custom":
            if self.draw is None:
                raise ValueError(f"figure {self.name}: kind 'custom' needs draw='module:function'")
            _check_path(f"figure {self.name} draw", self.draw)
        elif self.draw is not None:
            raise ValueError(f"figure {self.name}: draw is only used by kind 'custom'")
        if self.kind != "custom" and not self.metric:
            raise ValueError(f"figure {self.name}: metric must name a column")

    @classmethod
    def bar(cls, name: str, metric: str, title: str, ylabel: str, xlabel: str = "") -> Figure:
        """A ``bar`` figure: summary ``metric`` per method."""
        return cls(name, "bar", metric, title, ylabel, xlabel)

    @classmethod
    def line(cls, name: str, metric: str, title: str, ylabel: str, xlabel: str) -> Figure:
        """A ``line`` figure: summary ``metric`` against the sweep value (labelled ``xlabel``)."""
        return cls(name, "line", metric, title, ylabel, xlabel)

    @classmethod
    def curve(cls, name: str, metric: str, title: str, ylabel: str, xlabel: str) -> Figure:
        """A ``curve`` figure: the per-step ``metric`` column against ``step``."""
        return cls(name, "curve", metric, title, ylabel, xlabel)

    @classmethod
    def custom(cls, name: str, draw: str, title: str, ylabel: str) -> Figure:
        """A ``custom`` figure drawn by ``draw`` (``'module:function'``)."""
        return cls(name, "custom", "", title, ylabel, draw=draw)


@dataclass(frozen=True)
class Claim:
    """A claim of the paper and how to check it.

    ``compute`` is ``'module:function'``; the function takes the summary table (one row per
    run: ``method``, ``sweep_value`` when the experiment sweeps, ``seed`` and the summary
    metrics) and returns ``(our_value: str, agrees: bool | None)``.
    """

    text: str
    paper_value: str
    compute: str

    def __post_init__(self) -> None:
        if not self.text:
            raise ValueError("claim text must not be empty")
        _check_path(f"claim {self.text!r} compute", self.compute)


@dataclass(frozen=True)
class Experiment:
    """A named, declarative reproduction of one paper figure or table."""

    name: str
    paper: str
    title: str
    preset: str
    methods: tuple[str, ...]
    run: str
    seeds: int = 3
    sweep: Sweep | None = None
    budgets: Mapping[str, Mapping[str, int | float]] = field(
        default_factory=lambda: {"quick": {}, "full": {}}, hash=False
    )
    figures: tuple[Figure, ...] = ()
    claims: tuple[Claim, ...] = ()
    overrides: tuple[str, ...] = ()
    notes: str = ""
    """Markdown shown under the claims in REPORT.md: set-up choices, known disagreements."""
    reads_config: bool = True
    """False when the runs ignore the preset (e.g. forecasters trained on datasets), so
    that user overrides are refused instead of silently doing nothing."""
    same_as: str | None = None
    """``'module:function'`` taking a :class:`RunSpec` of this experiment and returning the
    spec of another experiment's run that computes exactly the same result, or None. A run
    whose twin is stored complete in the same output folder is copied from it instead of
    computed again (e.g. a sweep's point at another figure's default setting)."""

    def __post_init__(self) -> None:
        _check_name("experiment name", self.name)
        methods = tuple(self.methods)
        if not methods:
            raise ValueError(f"experiment {self.name}: methods must not be empty")
        for method in methods:
            _check_name(f"experiment {self.name} method", method)
        if len(set(methods)) != len(methods):
            raise ValueError(f"experiment {self.name}: methods {list(methods)} repeat a name")
        object.__setattr__(self, "methods", methods)
        _check_path(f"experiment {self.name} run", self.run)
        if self.same_as is not None:
            _check_path(f"experiment {self.name} same_as", self.same_as)
        if isinstance(self.seeds, bool) or not isinstance(self.seeds, int) or self.seeds < 1:
            raise ValueError(f"experiment {self.name}: seeds = {self.seeds!r} must be an int ≥ 1")
        missing = [m for m in BUDGET_MODES if m not in self.budgets]
        extra = [m for m in self.budgets if m not in BUDGET_MODES]
        if missing or extra:
            raise ValueError(
                f"experiment {self.name}: budgets keys are {sorted(self.budgets)}; "
                f"they must be exactly {list(BUDGET_MODES)}"
            )
        budgets: dict[str, dict[str, int | float]] = {}
        for mode in BUDGET_MODES:
            entries = dict(self.budgets[mode])
            for key, value in entries.items():
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ValueError(
                        f"experiment {self.name}: budgets.{mode}.{key} = {value!r} must be a number"
                    )
            budgets[mode] = entries
        object.__setattr__(self, "budgets", budgets)
        figures = tuple(self.figures)
        names = [f.name for f in figures]
        if len(set(names)) != len(names):
            raise ValueError(f"experiment {self.name}: figure names {names} repeat a name")
        for fig in figures:
            if fig.kind == "line" and self.sweep is None:
                raise ValueError(
                    f"experiment {self.name}: figure {fig.name} is a 'line' plot against the "
                    "sweep value, but the experiment has no sweep"
                )
        object.__setattr__(self, "figures", figures)
        object.__setattr__(self, "claims", tuple(self.claims))
        overrides = tuple(self.overrides)
        for item in overrides:
            if "=" not in item:
                raise ValueError(
                    f"experiment {self.name}: override {item!r} must look like key.sub=value"
                )
        object.__setattr__(self, "overrides", overrides)


# --------------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------------


def _safe(value: Any) -> str:
    return _UNSAFE_RE.sub("_", str(value)).strip("_") or "_"


def make_run_id(
    method: str,
    seed: int,
    sweep_key: str | None = None,
    sweep_value: Any = None,
    mode: str = "full",
) -> str:
    """A stable, filesystem-safe run id, e.g. ``quick__method=durp__count=60__seed=0``."""
    parts = [mode, f"method={_safe(method)}"]
    if sweep_key is not None:
        parts.append(f"{_safe(sweep_key.rsplit('.', 1)[-1])}={_safe(sweep_value)}")
    parts.append(f"seed={int(seed)}")
    return "__".join(parts)


@dataclass(frozen=True)
class RunSpec:
    """Everything one run needs: method, seed, sweep value, budget and config overrides.

    ``overrides`` already hold the experiment's overrides and the sweep's ``key=value``
    (unless the sweep sets a budget entry); :meth:`load_config` resolves them on the preset.
    """

    experiment: str
    method: str
    seed: int
    sweep_value: SweepScalar | None = None
    budget: Mapping[str, int | float] = field(default_factory=dict, hash=False)
    overrides: tuple[str, ...] = ()
    run_id: str = ""
    preset: str = field(default="", kw_only=True)
    sweep_key: str | None = field(default=None, kw_only=True)
    mode: str = field(default="full", kw_only=True)

    def __post_init__(self) -> None:
        if self.mode not in BUDGET_MODES:
            raise ValueError(f"run mode = {self.mode!r}; allowed: {', '.join(BUDGET_MODES)}")
        object.__setattr__(self, "budget", dict(self.budget))
        object.__setattr__(self, "overrides", tuple(self.overrides))
        if not self.run_id:
            run_id = make_run_id(
                self.method, self.seed, self.sweep_key, self.sweep_value, self.mode
            )
            object.__setattr__(self, "run_id", run_id)
        elif not _RUN_ID_RE.match(self.run_id):
            raise ValueError(f"run_id = {self.run_id!r} is not filesystem-safe")

    def to_dict(self) -> dict[str, Any]:
        """Plain data (YAML/JSON-ready) describing the run."""
        return {
            "run_id": self.run_id,
            "experiment": self.experiment,
            "preset": self.preset,
            "mode": self.mode,
            "method": self.method,
            "seed": self.seed,
            "sweep_key": self.sweep_key,
            "sweep_value": self.sweep_value,
            "budget": dict(self.budget),
            "overrides": list(self.overrides),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSpec:
        """Inverse of :meth:`to_dict`."""
        return cls(
            experiment=data["experiment"],
            method=data["method"],
            seed=int(data["seed"]),
            sweep_value=data.get("sweep_value"),
            budget=dict(data.get("budget") or {}),
            overrides=tuple(data.get("overrides") or ()),
            run_id=data.get("run_id", ""),
            preset=data.get("preset", ""),
            sweep_key=data.get("sweep_key"),
            mode=data.get("mode", "full"),
        )

    def fingerprint(self) -> str:
        """Hash of everything that determines the run's result (a changed budget ⇒ rerun)."""
        payload = self.to_dict()
        blob = json.dumps(payload, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def load_config(self) -> VTwinConfig:
        """The validated config of this run: the preset with :attr:`overrides` applied."""
        from vtwin.config import load_config

        return load_config(self.preset, self.overrides)


@dataclass
class RunResult:
    """What a run returns: a per-step/per-episode metrics table, summary numbers, extras.

    ``metrics`` should have a ``step`` column when a ``curve`` figure plots it; ``summary``
    maps metric names to floats; ``artifacts`` holds JSON-serialisable extras (a route, a
    map) for custom figures.
    """

    metrics: pd.DataFrame
    summary: dict[str, float]
    artifacts: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        import pandas as pd

        if not isinstance(self.metrics, pd.DataFrame):
            raise TypeError(
                f"RunResult.metrics must be a pandas DataFrame, got {type(self.metrics).__name__}"
            )
        summary: dict[str, float] = {}
        for key, value in dict(self.summary).items():
            if not isinstance(key, str):
                raise TypeError(f"RunResult.summary key {key!r} must be a str")
            try:
                summary[key] = float(value)
            except (TypeError, ValueError):
                raise TypeError(
                    f"RunResult.summary[{key!r}] = {value!r} must be a number"
                ) from None
        self.summary = summary
        if not isinstance(self.artifacts, dict):
            raise TypeError(
                f"RunResult.artifacts must be a dict, got {type(self.artifacts).__name__}"
            )


# --------------------------------------------------------------------------------------------
# Expansion
# --------------------------------------------------------------------------------------------


def check_overrides(experiment: Experiment, overrides: Sequence[str]) -> tuple[str, ...]:
    """User overrides for every run of ``experiment``, checked: each ``key=value``, no key
    twice, not the sweep's key, and the preset with them a valid config (else a one-line
    :class:`ValueError` naming the override)."""
    from vtwin.config import load_config

    items = tuple(str(o).strip() for o in overrides)
    if items and not experiment.reads_config:
        raise ValueError(
            f"experiment {experiment.name} does not read a config, so overrides "
            f"({', '.join(items)}) would change nothing"
        )
    keys: list[str] = []
    for item in items:
        key = item.partition("=")[0].strip()
        if "=" not in item or not key:
            raise ValueError(f"override {item!r} must look like key.sub=value")
        if key in keys:
            raise ValueError(f"override {key} is given twice")
        sweep = experiment.sweep
        if sweep is not None and not sweep.is_budget and key == sweep.key:
            raise ValueError(
                f"override {item!r}: {key} is what experiment {experiment.name} sweeps "
                f"({sweep.label}); pick another experiment or key"
            )
        keys.append(key)
    if items:
        load_config(experiment.preset, [*experiment.overrides, *items])  # ConfigError names it
    return items


def expand(
    experiment: Experiment,
    *,
    quick: bool,
    seeds: int | None = None,
    methods: Sequence[str] | None = None,
    overrides: Sequence[str] = (),
) -> list[RunSpec]:
    """One :class:`RunSpec` per (method, sweep value, seed), in that nesting order.

    ``overrides`` (dotted ``key=value``, e.g. ``reward.weights.failure=3``) apply to every
    run after the experiment's own overrides; they may not set the sweep's key.

    The number of seeds is ``seeds`` when given, else the budget's ``seeds`` entry when it
    has one (e.g. fewer seeds for ``--quick``), else the experiment's ``seeds``. A budget's
    ``sweep_stride`` entry keeps every n-th sweep value (a coarser sweep for ``--quick``).
    """
    mode = "quick" if quick else "full"
    default_seeds = int(experiment.budgets[mode].get("seeds", experiment.seeds))
    n_seeds = default_seeds if seeds is None else seeds
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, int) or n_seeds < 1:
        raise ValueError(f"seeds = {n_seeds!r} must be an int ≥ 1")
    chosen = tuple(experiment.methods if methods is None else methods)
    sweep = experiment.sweep
    stride = int(experiment.budgets[mode].get("sweep_stride", 1))
    if stride < 1:
        raise ValueError(f"experiment {experiment.name}: budgets.{mode}.sweep_stride must be ≥ 1")
    values: tuple[SweepScalar | None, ...] = (None,) if sweep is None else sweep.values[::stride]
    extra = check_overrides(experiment, overrides)
    specs: list[RunSpec] = []
    for method in chosen:
        for value in values:
            budget = dict(experiment.budgets[mode])
            run_overrides = [*experiment.overrides, *extra]
            if sweep is not None:
                if sweep.is_budget:
                    budget_key = sweep.key.removeprefix(BUDGET_SWEEP_PREFIX)
                    budget[budget_key] = value  # type: ignore[assignment]
                else:
                    run_overrides.append(f"{sweep.key}={json.dumps(value)}")
            for seed in range(n_seeds):
                specs.append(
                    RunSpec(
                        experiment=experiment.name,
                        method=method,
                        seed=seed,
                        sweep_value=value,
                        budget=budget,
                        overrides=tuple(run_overrides),
                        preset=experiment.preset,
                        sweep_key=None if sweep is None else sweep.key,
                        mode=mode,
                    )
                )
    ids = [s.run_id for s in specs]
    if len(set(ids)) != len(ids):
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(
            f"experiment {experiment.name}: sweep values map to the same run id {dupes[:3]}; "
            "make the values differ in letters, digits, '.', '_' or '-'"
        )
    return specs
