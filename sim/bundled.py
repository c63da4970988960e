"""Finding the bundled scenarios and experiments by name, from any directory.

A command-line argument or a path given to :func:`sim.load_scenario` is tried as a path first; if no
such file exists, as the name of a bundled file (``idlib_2020_moscow``, ``idlib_2020_moscow.toml``,
``history/moscow_2020``). The bundled files are those of the installed package
(``sim/_bundled/scenarios``, ``sim/_bundled/experiments``) or, in a source checkout or an editable
install, the top-level ``scenarios/`` and ``experiments/`` directories beside ``sim/``.
"""

from __future__ import annotations

from pathlib import Path

KINDS = ("scenarios", "experiments")


def bundled_dir(kind: str) -> Path | None:
    """The directory of bundled ``kind`` files ('scenarios' or 'experiments'), or None if absent."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    here = Path(__file__).resolve().parent
    for candidate in (here / "_bundled" / kind, here.parent / kind):
        if candidate.is_dir() and any(candidate.glob("*.toml")):
            return candidate
    return None


def bundled_names(kind: str) -> list[str]:
    """Every bundled file of the kind, as the names :func:`locate` accepts (no '.toml')."""
    root = bundled_dir(kind)
    if root is None:
        return []
    return sorted(p.relative_to(root).with_suffix("").as_posix() for p in root.rglob("*.toml"))


def bundled(name: str | Path, kind: str) -> Path | None:
    """The bundled file of that name (with or without '.toml'), or None."""
    root = bundled_dir(kind)
    name = Path(name)
    if root is None or name.is_absolute():
        return None
    for candidate in (root / name, root / f"{name.as_posix()}.toml"):
        if candidate.is_file() and root in candidate.resolve().parents:
            return candidate
    return None


def locate(path: str | Path, kind: str) -> Path:
    """``path`` if it exists; else the bundled file of that name; else ``path`` unchanged.

    Returning the path unchanged when nothing matches keeps the caller's own "no such file" message.
    """
    path = Path(path)
    if path.exists():
        return path
    return bundled(path, kind) or path
