"""The layer contract (`lint-imports`, in `make lint`) holds on the tree, and fails on a
deliberate back-edge: the contract is not vacuous."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.stack import ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=tree, capture_output=True,
                          text=True, timeout=120, env={"PATH": "/usr/bin:/bin",
                                                       "PYTHONPATH": str(tree)})


def _copy_tree(destination: Path) -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for package in config["tool"]["importlinter"]["root_packages"]:
        shutil.copytree(ROOT / package, destination / package,
                        ignore=shutil.ignore_patterns("__pycache__", "static", "templates"))
    shutil.copy(ROOT / "pyproject.toml", destination / "pyproject.toml")


def test_the_tree_keeps_the_layers(tmp_path: Path) -> None:
    _copy_tree(tmp_path)
    result = _lint(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_a_back_edge_breaks_the_contract(tmp_path: Path) -> None:
    _copy_tree(tmp_path)
    # The ground floor reaching up into a domain, as core/celery_app.py once did by naming it.
    with (tmp_path / "core" / "audit.py").open("a") as module:
        module.write("\nimport alerts.tasks  # noqa: E402,F401\n")
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
    assert "core.audit -> alerts.tasks" in result.stdout
