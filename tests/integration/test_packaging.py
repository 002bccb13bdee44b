"""Packaging: the wheel ships the spaces, so a search by name works from any folder after
``pip install``; ``make search`` installs what a search needs and nothing of the dev extra.

The wheel is built offline from a copy of the sources (``pip wheel --no-deps
--no-build-isolation``, with the setuptools already installed) and run unpacked, from a folder
outside the repository, on the spaces it carries."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPACES = ROOT / "hybridnas" / "spaces"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "setup.cfg", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "hybridnas", src / "hybridnas", ignore=shutil.ignore_patterns("__pycache__"))
    dist = tmp_path_factory.mktemp("dist")
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                          "-q", "-w", str(dist), str(src)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    [whl] = dist.glob("hybridnas-*.whl")
    return whl


def test_the_wheel_holds_every_space_and_table_and_the_console_script(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = sorted(p.relative_to(ROOT).as_posix() for p in SPACES.rglob("*") if p.suffix in (".yaml", ".csv"))
    assert shipped and all(f in names for f in shipped), sorted(set(shipped) - names)
    assert "hybridnas/spaces/fashion_mnist.yaml" in names and "hybridnas/spaces/digits.yaml" in names
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "hybridnas = hybridnas.cli.main:main" in zipfile.ZipFile(wheel).read(entry).decode()


def test_a_search_by_name_runs_from_the_installed_package_anywhere(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    tiny = ["--set", "threads=1", "--set", "data.subset=200", "--set", "block.width=4", "--set", "block.cells=3",
            "--set", "block.warmup_epochs=0", "--set", "block.epochs=1", "--set", "block.library=[{}]",
            "--set", "evaluation.epochs=1", "--set", "evaluation.workers=1", "--set", "engine.pop_size=4",
            "--set", "engine.generations=1", "--no-export", "--quiet"]
    code = ("import sys, hybridnas; from pathlib import Path; "
            f"assert Path(hybridnas.__file__).is_relative_to({str(site)!r}), hybridnas.__file__; "
            "from hybridnas.cli.main import main; sys.exit(main(sys.argv[1:]))")
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code, "search", "digits", *tiny], cwd=elsewhere, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert (elsewhere / "runs" / "digits" / "front.csv").is_file()
    # an unknown name lists the spaces the package carries
    out = subprocess.run([sys.executable, "-c", code, "search", "nope"], cwd=elsewhere, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "digits, digits_table, fashion_mnist" in out.stderr


def test_make_search_installs_only_what_a_search_needs(tmp_path):
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    venv = tmp_path / "venv"
    dry = lambda target: subprocess.run([make, "-n", "-C", str(ROOT), target, f"VENV={venv}"],  # noqa: E731
                                        capture_output=True, text=True, timeout=60).stdout
    search, test = dry("search"), dry("test")
    assert "pip install -q -e ." in search and "[dev]" not in search and "hybridnas search" in search
    assert "pip install -q -e \".[dev]\"" in test and "pytest" in test
