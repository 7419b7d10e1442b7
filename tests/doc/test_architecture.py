"""doc/ARCHITECTURE.md stays a true map: every path it names exists, every package is named, the README links it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAP = ROOT / "doc" / "ARCHITECTURE.md"
# A path in backticks: a folder (ends with /) or a file with an extension the lab's tree holds.
PATH = re.compile(r"`([A-Za-z_][\w./-]*(?:/|\.(?:py|md|toml|yml|sh)))`")


def named_paths(text: str) -> set[str]:
    return {m for m in PATH.findall(text) if "<" not in m}


def test_every_path_the_map_names_exists():
    text = MAP.read_text()
    paths = named_paths(text)
    assert len(paths) > 40  # it names the folders and modules it talks about
    # A module named inside a folder's line (``service.py`` under api_model/) exists somewhere in the tree.
    missing = [p for p in paths if not (ROOT / p).exists() and not any(ROOT.glob(f"*/**/{p}"))]
    assert missing == []


def test_every_package_is_named_and_is_a_layer_of_the_contracts():
    text = MAP.read_text()
    packages = sorted(p.parent.name for p in ROOT.glob("*/__init__.py") if p.parent.name != "tests")
    assert {"api_common", "api_model", "api_scoring", "feature_store", "lab", "benchmark", "cli"} <= set(packages)
    assert [p for p in packages if f"`{p}/`" not in text] == []
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    assert sorted(layers) == packages  # every package sits on a floor the linter checks


def test_the_map_is_short_and_the_readme_links_it():
    assert len(MAP.read_text().splitlines()) <= 150
    assert "doc/ARCHITECTURE.md" in (ROOT / "README.md").read_text()


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    lint = Path(sys.executable).with_name("lint-imports")
    env = os.environ | {"PYTHONPATH": str(root)}  # the copy's packages before the installed (editable) ones
    return subprocess.run([str(lint), "--no-logo", "--no-cache"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def test_the_contracts_hold_and_fail_on_an_upward_import_naming_it(tmp_path):
    assert _lint_imports(ROOT).returncode == 0
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    for package in config["root_packages"]:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    with (tmp_path / "lab" / "health.py").open("a") as f:  # the stack runtime reaching up to the experiments
        f.write("\nfrom benchmark import rundir  # noqa: E402,F401\n")
    broken = _lint_imports(tmp_path)
    assert broken.returncode == 1
    assert (
        "lab is not allowed to import benchmark" in broken.stdout and "lab.health -> benchmark.rundir" in broken.stdout
    )
