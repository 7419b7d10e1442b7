"""The command line: a missing optional part is reported with the make target that installs it."""

from __future__ import annotations

import importlib.util

import pytest

from cli import main as cli

REAL_FIND_SPEC = importlib.util.find_spec


@pytest.fixture
def no_model_servers(monkeypatch):
    """This checkout as a fresh clone without ``make servers``: BentoML and XGBoost do not import."""
    absent = {"bentoml", "xgboost"}
    find = lambda name, *a: None if name in absent else REAL_FIND_SPEC(name, *a)  # noqa: E731
    monkeypatch.setattr(importlib.util, "find_spec", find)


def test_make_up_of_a_model_server_variant_names_make_servers(no_model_servers, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path))
    assert cli.main(["up", "--variant", "async-bentoml-xgboost"]) == 2  # before anything starts
    err = capsys.readouterr().err
    assert "error: variant async-bentoml-xgboost needs xgboost, bentoml, not installed" in err
    assert "make servers installs them" in err


def test_lab_variants_says_how_to_install_what_a_variant_lacks(no_model_servers, capsys):
    assert cli.main(["variants"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("async-bentoml-xgboost "))
    assert line.endswith("[needs xgboost, bentoml, not installed (make servers installs them)]")
