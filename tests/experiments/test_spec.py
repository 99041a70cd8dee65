"""Experiment specs: validation, expansion into runs, stable filesystem-safe run ids."""

from __future__ import annotations

import re

import pytest
import toy_experiments as toys
from hypothesis import given
from hypothesis import strategies as st

from vtwin.experiments import Experiment, Figure, RunSpec, Sweep, expand, make_run_id

SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=-]*$")


def test_expand_is_methods_by_sweep_by_seeds() -> None:
    specs = expand(toys.TOY, quick=True)
    assert len(specs) == 2 * 2 * 2
    assert [(s.method, s.sweep_value, s.seed) for s in specs[:4]] == [
        ("good", 1, 0),
        ("good", 1, 1),
        ("good", 2, 0),
        ("good", 2, 1),
    ]
    assert {s.method for s in specs} == {"good", "bad"}
    assert all(s.budget == {"steps": 4} and s.mode == "quick" for s in specs)
    assert specs[2].overrides == ("vehicles.count=2",)
    assert len({s.run_id for s in specs}) == len(specs)


def test_run_ids_are_stable_and_readable() -> None:
    first = [s.run_id for s in expand(toys.TOY, quick=False, seeds=3)]
    again = [s.run_id for s in expand(toys.TOY, quick=False, seeds=3)]
    assert first == again
    assert first[0] == "full__method=good__count=1__seed=0"
    assert make_run_id("durp", 0, "vehicles.count", 60, "quick") == (
        "quick__method=durp__count=60__seed=0"
    )
    assert make_run_id("greedy", 2) == "full__method=greedy__seed=2"


def test_quick_and_full_runs_never_share_a_folder() -> None:
    quick = {s.run_id for s in expand(toys.TOY, quick=True)}
    full = {s.run_id for s in expand(toys.TOY, quick=False)}
    assert not quick & full


def test_seeds_and_method_subset() -> None:
    specs = expand(toys.TOY_FLAT, quick=True, seeds=5, methods=("bad",))
    assert [s.seed for s in specs] == [0, 1, 2, 3, 4]
    assert {s.method for s in specs} == {"bad"}
    assert all(s.sweep_value is None and s.overrides == () for s in specs)
    with pytest.raises(ValueError, match="seeds = 0"):
        expand(toys.TOY_FLAT, quick=True, seeds=0)


def test_user_overrides_go_after_the_experiments_and_before_the_sweep() -> None:
    specs = expand(toys.TOY, quick=True, overrides=(" reward.weights.overload=2 ",))
    assert specs[2].overrides == ("reward.weights.overload=2", "vehicles.count=2")
    plain = expand(toys.TOY, quick=True)
    assert specs[2].run_id == plain[2].run_id  # same folder name ...
    assert specs[2].fingerprint() != plain[2].fingerprint()  # ... but not the same run


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (("vehicles.count",), "must look like key.sub=value"),
        (("=3",), "must look like key.sub=value"),
        (("slot_s=1", "slot_s=2"), "override slot_s is given twice"),
        (("vehicles.count=5",), "vehicles.count is what experiment toy sweeps"),
        (("vehicles.cuont=5",), "cuont: unknown key"),
        (("slot_s=soon",), "slot_s = 'soon'"),
    ],
)
def test_bad_user_overrides_are_refused_naming_them(
    overrides: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        expand(toys.TOY, quick=True, overrides=overrides)


def test_overrides_are_refused_where_the_runs_read_no_config() -> None:
    from vtwin.experiments.registry import get_experiment

    table2 = get_experiment("paper-b-table2")
    assert not table2.reads_config
    with pytest.raises(ValueError, match="does not read a config"):
        expand(table2, quick=True, overrides=("slot_s=2",))
    budget_sweep = expand(toys.TOY_SLOW, quick=True, overrides=("vehicles.count=3",))
    assert budget_sweep[0].overrides == ("vehicles.count=3",)  # a budget sweep sets no key


def test_budget_sweep_sets_budget_not_config() -> None:
    specs = expand(toys.TOY_SLOW, quick=True)
    assert [s.budget["steps"] for s in specs] == [2, 3, 4, 5, 2, 3, 4, 5]
    assert all(s.budget["sleep"] == 0.3 and s.overrides == () for s in specs)


def test_runspec_round_trips_through_a_dict_and_fingerprint_tracks_budget() -> None:
    spec = expand(toys.TOY, quick=True)[3]
    assert RunSpec.from_dict(spec.to_dict()) == spec
    assert RunSpec.from_dict(spec.to_dict()).fingerprint() == spec.fingerprint()
    changed = RunSpec.from_dict({**spec.to_dict(), "budget": {"steps": 5}})
    assert changed.run_id == spec.run_id and changed.fingerprint() != spec.fingerprint()


@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=6, unique=True))
def test_any_sweep_values_give_safe_unique_ids_or_a_clear_error(values: list[str]) -> None:
    exp = Experiment(
        name="prop",
        paper="T",
        title="t",
        preset="paper-a",
        methods=("a",),
        run="m:f",
        seeds=1,
        sweep=Sweep("x.y", tuple(values), "y"),
        budgets={"quick": {}, "full": {}},
    )
    try:
        specs = expand(exp, quick=True)
    except ValueError as exc:
        assert "same run id" in str(exc)
        return
    ids = [s.run_id for s in specs]
    assert len(set(ids)) == len(ids)
    assert all(SAFE.match(i) and "/" not in i for i in ids)


def _exp(**changes: object) -> Experiment:
    base: dict[str, object] = {
        "name": "e",
        "paper": "T",
        "title": "t",
        "preset": "paper-a",
        "methods": ("a", "b"),
        "run": "m:f",
        "budgets": {"quick": {"episodes": 1}, "full": {"episodes": 10}},
    }
    base.update(changes)
    return Experiment(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"budgets": {"quick": {}}}, "must be exactly"),
        ({"methods": ("a", "a")}, "repeat a name"),
        ({"methods": ()}, "methods must not be empty"),
        ({"run": "no_colon"}, "import path"),
        ({"seeds": 0}, "seeds = 0"),
        ({"name": "bad/name"}, "experiment name"),
        ({"figures": (Figure("f", "line", "cost", "t", "y"),)}, "has no sweep"),
        ({"budgets": {"quick": {"episodes": "x"}, "full": {}}}, "must be a number"),
    ],
)
def test_bad_declarations_are_clear_errors(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _exp(**changes)


def test_figure_and_sweep_validation() -> None:
    with pytest.raises(ValueError, match="needs draw"):
        Figure("f", "custom", "", "t", "y")
    with pytest.raises(ValueError, match="kind = 'pie'"):
        Figure("f", "pie", "cost", "t", "y")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="duplicates"):
        Sweep("a.b", (1, 1), "b")
    with pytest.raises(ValueError, match="must be a str, int, float or bool"):
        Sweep("a.b", ([1],), "b")


def test_budget_may_set_seeds_and_thin_the_sweep() -> None:
    exp = Experiment(
        **{
            **toys.TOY.__dict__,
            "name": "toy-thin",
            "sweep": Sweep("vehicles.count", (1, 2, 3, 4, 5), "Vehicles"),
            "budgets": {"quick": {"seeds": 1, "sweep_stride": 2}, "full": {}},
        }
    )
    quick = expand(exp, quick=True)
    assert sorted({s.sweep_value for s in quick}) == [1, 3, 5]
    assert {s.seed for s in quick} == {0}
    assert len(expand(exp, quick=True, seeds=2)) == 2 * 3 * 2  # --seeds wins over the budget
    full = expand(exp, quick=False)
    assert len(full) == 2 * 5 * exp.seeds
    bad = Experiment(**{**exp.__dict__, "budgets": {"quick": {"sweep_stride": 0}, "full": {}}})
    with pytest.raises(ValueError, match="sweep_stride must be ≥ 1"):
        expand(bad, quick=True)


def test_figure_shorthands_equal_the_full_form() -> None:
    assert Figure.bar("f", "cost", "t", "y") == Figure("f", "bar", "cost", "t", "y")
    line = Figure("f", "line", "cost", "t", "y", xlabel="x")
    assert Figure.line("f", "cost", "t", "y", "x") == line
    curve = Figure("f", "curve", "reward", "t", "y", xlabel="step")
    assert Figure.curve("f", "reward", "t", "y", "step") == curve
    custom = Figure("f", "custom", "", "t", "y", draw="m:draw")
    assert Figure.custom("f", "m:draw", "t", "y") == custom
