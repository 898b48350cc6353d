"""A clean install: the wheel, into an empty virtualenv, with only what pyproject declares.

The project's .venv also holds the dev tools (and what they pull in, such as click), which
could hide an undeclared import; an empty virtualenv cannot.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mm2plan import __version__

ROOT = Path(__file__).parents[2]

pytestmark = pytest.mark.install
PIP = ("-m", "pip", "--quiet", "--disable-pip-version-check")
NOT_SOURCE = (
    ".git",
    ".venv",
    ".mm2plan",
    ".hypothesis",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*cache",
)


def run(*cmd: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def ok(r: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert r.returncode == 0, f"{r.args}\n{r.stdout}\n{r.stderr}"
    return r


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip wheel --no-deps` of a copy of the tree: setuptools builds in-tree, and a build/ left
    by an earlier build could put stale modules in the wheel. The build backend comes from PyPI
    or pip's cache."""
    src = tmp_path_factory.mktemp("src") / "mm2plan"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    out = tmp_path_factory.mktemp("wheel")
    ok(run(sys.executable, *PIP, "wheel", "--no-deps", "--wheel-dir", out, src, cwd=out))
    (whl,) = out.glob("mm2plan-*.whl")
    return whl


def test_wheel_holds_the_schema_and_the_lab_pom(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "mm2plan/data/topology.schema.json" in names
    assert "mm2plan/lab/pom.xml" in names
    assert "mm2plan/py.typed" in names
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)


def test_wheel_installs_and_runs_in_an_empty_virtualenv(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    ok(run(sys.executable, "-m", "venv", venv, cwd=tmp_path))  # no system site-packages
    py = venv / "bin" / "python"
    ok(run(py, *PIP, "install", wheel, cwd=tmp_path))  # its dependencies: PyPI or pip's cache
    exe = venv / "bin" / "mm2plan"  # the console script, run outside the source tree

    r = ok(run(exe, "--version", cwd=tmp_path))
    assert r.stdout.strip() == f"mm2plan {__version__}"

    r = ok(run(exe, "validate", ROOT / "examples" / "active-passive.yaml", cwd=tmp_path))
    assert "active-passive.yaml is valid" in r.stderr

    # validate reads the schema from the installed package; an invalid file is reported.
    bad = ROOT / "examples" / "invalid" / "identity-active-active.yaml"
    r = run(exe, "validate", bad, cwd=tmp_path)
    assert r.returncode == 1 and "error[" in r.stderr and "Traceback" not in r.stderr

    r = run(exe, "validate", "--format", "xml", cwd=tmp_path)
    assert r.returncode == 64 and "Traceback" not in r.stderr
