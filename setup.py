"""Packaging beyond pyproject.toml: the bundled scenarios and experiments are installed with the package.

The top-level ``scenarios/`` and ``experiments/`` directories stay where they are in the source tree;
an installed copy has them as ``sim/_bundled/scenarios`` and ``sim/_bundled/experiments``, with the
same layout, so ``base = "calibrated_syria_as_of_2020-03-06.toml"`` (and the posterior CSV it names) and ``scenario = "../scenarios/..."`` resolve
there too. Every sub-directory holding TOML files is mapped, so new ones need no edit here.
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent


def bundled() -> dict[str, str]:
    mapping = {}
    for top in ("scenarios", "experiments"):
        for folder in sorted([HERE / top, *(p for p in (HERE / top).rglob("*") if p.is_dir())]):
            if folder.is_dir() and any(folder.glob("*.toml")) and "__pycache__" not in folder.parts:
                rel = folder.relative_to(HERE).as_posix()
                mapping["sim._bundled." + rel.replace("/", ".")] = rel
    return mapping


BUNDLED = bundled()

setup(
    packages=find_packages(include=["sim", "sim.*"]) + list(BUNDLED),
    package_dir=BUNDLED,
    package_data={name: ["*.toml", "*.csv"] for name in BUNDLED},
)
