"""``ceasefire explore``: what the interactive page computes, and how it is served.

The page itself (Solara components) is :mod:`sim.explore_app`; this module has no Solara import, so
its functions are plain and testable:

* which parameters get a slider: by default the stable key paths :data:`DEFAULT_KEYS` and the long-run
  level of each exogenous process, each only if the scenario has it, plus any ``--param KEY``; slider
  ranges come from the calibration prior where the parameter has one, else the schema
  (:func:`sim.params.path_info`), so they follow it as it changes;
* :func:`outcome`: a run of the scenario with the sliders' values, cached by settings, always with the
  same seed, so that two settings are compared on common random numbers (a change shows the effect of
  the change, not new dice);
* :func:`scenario_toml`: the current settings as a small scenario file, ``base = "<original>"`` plus
  the changed keys, which ``ceasefire validate`` accepts.

Install the page's dependencies with ``pip install ".[explore]"``: Solara, and solara-assets so that
the page's JavaScript and fonts are served by the local server, never fetched from a CDN.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

EXPLORE_EXTRA = 'pip install ".[explore]"'
ENV = "CEASEFIRE_EXPLORE"  # how `ceasefire explore` passes its settings to the page

# A stable contract with the model: the four factors of document 000.
DEFAULT_KEYS = ("actors.turkey.deterrence", "actors.russia.interest_in_guarantor", "actors.regime.exhaustion",
                "actors.hts.pretext_strength")
# The field holding an exogenous process's long-run level, by preference.
LONG_RUN_FIELDS = ("mean", "sanctions")
HEADLINE_MONTH = 24


def require_solara():
    """Import Solara, or raise ImportError saying how to install the explorer's extra."""
    try:
        import solara  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"ceasefire explore needs Solara: {EXPLORE_EXTRA}", name=exc.name) from None


@dataclass(frozen=True)
class Settings:
    scenario_path: str
    scenario_name: str
    keys: tuple[str, ...]
    compare_path: str | None = None
    runs: int = 2000
    seed: int = 0
    save_dir: str = "."
    choices: dict = field(default_factory=dict)   # label -> scenario path, for the comparison menu

    def to_env(self) -> str:
        return json.dumps({**asdict(self), "keys": list(self.keys)})

    @classmethod
    def from_env(cls, text: str) -> "Settings":
        data = json.loads(text)
        return cls(**{**data, "keys": tuple(data["keys"])})


def default_keys(scenario) -> list[str]:
    """The default sliders that this scenario has: the four factors, then each process's long-run level."""
    from sim.scenario import get_path
    data = scenario.model_dump(mode="python")
    keys = []
    for key in DEFAULT_KEYS:
        try:
            value = get_path(data, key)
        except KeyError:
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            keys.append(key)
    for name, process in (data.get("processes") or {}).items():
        if isinstance(process, dict):
            for f in LONG_RUN_FIELDS:
                if isinstance(process.get(f), (int, float)) and not isinstance(process.get(f), bool):
                    keys.append(f"processes.{name}.{f}")
                    break
    return keys


def check_keys(scenario, keys) -> list[str]:
    """Problems with the key paths asked for (unknown, not numeric), one line each."""
    from sim.scenario import get_path
    data = scenario.model_dump(mode="python")
    problems = []
    for key in keys:
        try:
            value = get_path(data, key)
        except KeyError as exc:
            problems.append(f"--param {key}: {exc.args[0]}")
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"--param {key}: not a numeric parameter")
    return problems


def settings_from_args(scenario: str, *, params=(), compare: str | None = None, runs: int = 2000, seed: int = 0,
                       save_dir=".") -> Settings:
    """Settings for the page, checked: the scenario and the comparison load, every key is a number."""
    from sim.bundled import bundled_dir, bundled_names, locate
    from sim.scenario import InputError, load_scenario
    path = locate(scenario, "scenarios")
    loaded = load_scenario(path)
    keys = list(dict.fromkeys([*default_keys(loaded), *params]))
    problems = check_keys(loaded, params)
    compare_path = None
    if compare is not None:
        compare_path = locate(compare, "scenarios")
        load_scenario(compare_path)
    if problems:
        raise InputError(problems)
    root = bundled_dir("scenarios")
    choices = {name: str(root / f"{name}.toml") for name in bundled_names("scenarios")
               if not name.startswith(("history/", "calibrated_"))} if root else {}   # cases and fit fragments
    return Settings(str(Path(path).resolve()), loaded.name, tuple(keys),
                    str(Path(compare_path).resolve()) if compare_path else None, runs, seed,
                    str(Path(save_dir).resolve()), choices)


def slider(scenario, key: str) -> dict:
    """A slider for a key path: label, range, a step of 1/100 of it, the scenario's value, unit.

    The range is the calibration prior's where the parameter has one (the schema's bounds on rates only catch
    typos and run to a million), else the schema's; either is widened to hold the scenario's value.
    """
    from sim.params import path_info
    from sim.scenario import get_path
    value = float(get_path(scenario.model_dump(mode="python"), key))
    try:
        info = path_info(key, scenario)
        lo, hi = float(info["minimum"]), float(info["maximum"])
        if info.get("prior"):
            lo, hi = float(info["prior"][1]), float(info["prior"][2])
        lo, hi = min(lo, value), max(hi, value)
        unit, doc = info["unit"], info["doc"]
    except (KeyError, TypeError):
        lo, hi, unit, doc = min(0.0, value), max(1.0, 2 * value), "", ""
    step = (hi - lo) / 100 if hi > lo else 0.01
    return {"key": key, "min": lo, "max": hi, "step": step, "value": value, "unit": unit, "doc": doc}


@lru_cache(maxsize=16)
def _scenario(path: str):
    from sim.scenario import load_scenario
    return load_scenario(path)


def variant(path: str, changes: tuple[tuple[str, float], ...]):
    """The scenario at ``path`` with the changes applied (validated)."""
    from sim.scenario import with_value
    base = _scenario(path)
    return with_value(base, dict(changes)) if changes else base


@lru_cache(maxsize=128)
def outcome(path: str, changes: tuple[tuple[str, float], ...], runs: int, seed: int) -> dict:
    """The run of one setting, as the page shows it. Cached by (scenario, changes, runs, seed); the
    seed is the same for every setting, so settings differ on common random numbers."""
    from sim.api import run
    scenario = variant(path, changes)
    result = run(scenario, runs=runs, seed=seed, jobs=1)
    p = result.p_collapse()
    month = str(HEADLINE_MONTH) if str(HEADLINE_MONTH) in p else list(p)[-1]
    return {"name": scenario.name, "runs": runs, "seed": seed, "horizon": result.horizon_months,
            "headline_month": month, "headline": p[month], "p_collapse": p,
            "median": result.median_months(), "survival": result.survival_table(),
            "initiator_share": result.initiator_share(), "trigger_share": result.trigger_share()}


def history(path: str, changes: tuple[tuple[str, float], ...], seed: int, replication: int):
    """One replication's month-by-month history (as ``ceasefire run --replication``), and its outcome."""
    from sim.montecarlo import replay
    return replay(variant(path, changes), seed=seed, replication=replication)


def changed(base_values: dict[str, float], values: dict[str, float]) -> dict[str, float]:
    """The sliders moved away from the scenario's own values."""
    return {k: v for k, v in values.items() if abs(v - base_values.get(k, v)) > 1e-12}


SAVED_MARKER = "# Saved by 'ceasefire explore'"


def scenario_toml(original: str | Path, save_to: str | Path, name: str, changes: dict[str, float],
                  description: str | None = None) -> str:
    """A scenario file inheriting ``original`` with the changed key paths (tables merge key by key)."""
    original, save_to = Path(original).resolve(), Path(save_to).resolve()
    base = os.path.relpath(original, save_to.parent)
    text = description or (f"{name}: as {original.stem} with "
                           + ", ".join(f"{k} = {v:g}" for k, v in changes.items()) if changes else
                           f"{name}: as {original.stem}")
    lines = [SAVED_MARKER + ": the original scenario with the sliders' values.",
             f"base = {json.dumps(Path(base).as_posix())}",
             f"name = {json.dumps(name)}",
             f"description = {json.dumps(text)}", ""]
    tables: dict[str, list[tuple[str, float]]] = {}
    for key, value in changes.items():
        table, _, leaf = key.rpartition(".")
        tables.setdefault(table, []).append((leaf, value))
    for table, items in tables.items():
        lines.append(f"[{table}]")
        lines += [f"{leaf} = {float(value)!r}" for leaf, value in items]
        lines.append("")
    return "\n".join(lines)


def save_scenario(settings: Settings, name: str, changes: dict[str, float]) -> Path:
    """Write the settings as ``<save_dir>/<name>.toml`` and check that it loads; returns the path."""
    import re

    from sim.limits import slug_problem
    from sim.scenario import InputError, load_scenario
    from sim.store import write_text_atomic
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name or "") or slug_problem(name):
        raise InputError([f"'{name}': a scenario name has only letters, digits, '_', '.' and '-' ('.' and '-' not first)"])
    path = Path(settings.save_dir) / f"{name}.toml"
    if os.path.lexists(path) and not _saved_by_explore(path):  # never replace a file explore did not write
        raise InputError([f"{path}: exists and was not saved by 'ceasefire explore'; choose another name"])
    write_text_atomic(path, scenario_toml(settings.scenario_path, path, name, changes))
    load_scenario(path)  # what `ceasefire validate` checks
    return path


def _saved_by_explore(path: Path) -> bool:
    """A regular file whose first line is the one :func:`scenario_toml` writes."""
    if path.is_symlink() or not path.is_file():
        return False
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.readline(200).startswith(SAVED_MARKER)
    except (OSError, UnicodeDecodeError):
        return False


def serve(settings: Settings, *, host: str = "127.0.0.1", port: int = 8765) -> int:
    """Serve the page with Solara's server until interrupted; returns the exit code."""
    require_solara()
    os.environ[ENV] = settings.to_env()
    # No telemetry and no version check: the page must work, and stay quiet, without a network.
    os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")
    # The page's JavaScript, CSS and fonts come from solara-assets (installed with the extra) through
    # the server's asset cache; an asset missing there must fail here, not be fetched from a CDN.
    os.environ.setdefault("SOLARA_ASSETS_CDN", "http://127.0.0.1:9/")
    from solara.__main__ import run as solara_run
    try:
        solara_run.main(["sim.explore_app", "--host", host, "--port", str(port), "--production", "--no-open",
                         "--no-check-version", "--log-level-uvicorn", "warning"], standalone_mode=False)
    except KeyboardInterrupt:
        pass
    return 0
