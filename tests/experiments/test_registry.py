"""The registry: lookup errors name valid choices; paper modules load lazily."""

from __future__ import annotations

from pathlib import Path

import pytest
import toy_experiments as toys

from vtwin.experiments import (
    UnknownExperimentError,
    UnknownMethodError,
    get_experiment,
    list_experiments,
    register,
    registry,
    resolve_methods,
)


def test_get_and_list() -> None:
    assert get_experiment("toy") is toys.TOY
    names = [e.name for e in list_experiments()]
    assert {"toy", "toy-flat", "toy-slow", "toy-fail"} <= set(names)


def test_unknown_experiment_lists_valid_names_and_closest_match() -> None:
    with pytest.raises(UnknownExperimentError) as info:
        get_experiment("toy-slwo")
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert "unknown experiment 'toy-slwo'" in message
    assert "Did you mean 'toy-slow'?" in message
    assert "toy-flat" in message and "toy-fail" in message


def test_resolve_methods() -> None:
    assert resolve_methods(toys.TOY, None) == ("good", "bad")
    assert resolve_methods(toys.TOY, ["bad", "good"]) == ("good", "bad")  # spec order
    assert resolve_methods(toys.TOY, ["bad"]) == ("bad",)
    with pytest.raises(UnknownMethodError) as info:
        resolve_methods(toys.TOY, ["good", "goood", "nope"])
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert "'goood', 'nope'" in message and "Did you mean 'good'?" in message
    assert "Valid methods: good, bad" in message


def test_register_rejects_a_different_experiment_with_the_same_name() -> None:
    register(toys.TOY)  # the same definition again is fine
    clone = toys.Experiment(**{**toys.TOY.__dict__, "title": "another"})
    with pytest.raises(ValueError, match="already registered"):
        register(clone)
    assert get_experiment("toy") is toys.TOY


def test_paper_modules_load_lazily_and_missing_ones_are_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "fake_paper_z.py").write_text(
        "from vtwin.experiments import Experiment, register\n"
        "register(Experiment(name='fake-z', paper='Z', title='z', preset='paper-a',\n"
        "    methods=('a',), run='fake_paper_z:run', budgets={'quick': {}, 'full': {}}))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_EXPERIMENT_MODULES", ("vtwin_no_such_paper", "fake_paper_z"))
    monkeypatch.setattr(registry, "_loaded", False)
    try:
        assert "fake_paper_z" not in __import__("sys").modules
        assert get_experiment("fake-z").paper == "Z"
    finally:
        registry.unregister("fake-z")
        __import__("sys").modules.pop("fake_paper_z", None)


def test_a_paper_module_with_a_missing_dependency_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "fake_paper_y.py").write_text("import vtwin_dependency_not_installed\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_EXPERIMENT_MODULES", ("fake_paper_y",))
    monkeypatch.setattr(registry, "_loaded", False)
    with pytest.raises(ModuleNotFoundError, match="vtwin_dependency_not_installed"):
        list_experiments()
