"""Experiment files: which scenario parameters to vary, how to sample them, what to measure.

Scenarios fix values; experiments give ranges, samplers and named outcomes (STYLE.md principle 3).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sim.filekinds import wrong_kind
from sim.limits import MAX_PROBLEMS_FORMATTED, slug_problem
from sim.scenario import InputError, format_error, get_path, load_scenario, parse_toml, read_input
from sim.sensitivity import MAX_GRID_POINTS
from sim.schema import Scenario

SAMPLERS = ("grid", "random", "latin", "sobol", "morris")
MAX_DESIGN_POINTS = MAX_GRID_POINTS  # what sim.sensitivity.sample accepts for a grid
OUTCOME_PATTERN = re.compile(r"^(p_collapse_by_(\d+(\.\d+)?)|p_collapse|rmst|initiator_share:[A-Za-z0-9_:.-]+"
                             r"|p_initiated_by:[A-Za-z0-9_:.-]+)$")


def outcome_column(outcome: str) -> str:
    """The CSV column of a named outcome: safe for R's ``read.csv`` and pandas attribute access.

    Experiment files keep the outcome syntax (``p_initiated_by:regime``); the columns written for it
    replace every character other than a letter, a digit or '_' by '_' (``p_initiated_by_regime``).
    """
    return re.sub(r"[^A-Za-z0-9_]", "_", outcome)


class Factor(BaseModel):
    """One scenario parameter to vary."""

    # strict: `low = "0.2"` or `keep_replications = "yes"` are errors, not coerced; numbers are finite
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)
    path: str
    """Key path in the scenario, e.g. ``actors.turkey.deterrence``."""
    low: float
    high: float
    distribution: Literal["uniform", "triangular", "truncnormal"] = "uniform"
    mode: float | None = None
    """Peak of a triangular distribution."""
    mean: float | None = None
    """Mean of a truncated normal (truncated to [low, high])."""
    sd: float | None = Field(None, gt=0)
    """Standard deviation of a truncated normal."""
    source: str = ""
    """Why this range: the claim it rests on."""

    @model_validator(mode="after")
    def _shape(self) -> "Factor":
        if not self.low < self.high:
            raise ValueError(f"low ({self.low:g}) must be below high ({self.high:g})")
        if self.distribution == "triangular" and (self.mode is None or not self.low <= self.mode <= self.high):
            raise ValueError("a triangular factor needs mode between low and high")
        if self.distribution == "truncnormal" and (self.mean is None or self.sd is None):
            raise ValueError("a truncnormal factor needs mean and sd")
        if self.distribution != "uniform":
            with np.errstate(all="ignore"):
                q = self.from_unit(np.array([0.0, 1e-6, 0.5, 1 - 1e-6, 1.0]))
            if not (np.all(np.isfinite(q)) and np.all((q >= self.low) & (q <= self.high))):
                raise ValueError(f"the {self.distribution} distribution cannot be sampled on [{self.low:g}, "
                                 f"{self.high:g}] (mean {self.mean}, sd {self.sd}): its values would not be "
                                 f"finite numbers in the range")
        return self

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Map [0, 1] to the factor's values by the inverse CDF of its distribution."""
        u = np.asarray(u, dtype=float)
        width = self.high - self.low
        if self.distribution == "uniform":
            return self.low + u * width
        from scipy import stats   # here: reading an experiment (and every report) need not import scipy.stats
        if self.distribution == "triangular":
            return stats.triang.ppf(u, (self.mode - self.low) / width, loc=self.low, scale=width)
        a, b = (self.low - self.mean) / self.sd, (self.high - self.mean) / self.sd
        return stats.truncnorm.ppf(u, a, b, loc=self.mean, scale=self.sd)


class Experiment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    question: str = ""
    """The question the experiment answers, in plain words."""
    scenario: str
    """The base scenario file, relative to the experiment file."""
    sampler: Literal["grid", "random", "latin", "sobol", "morris"]
    points: int = Field(ge=1, le=1_000_000)
    """grid: values per factor; random/latin: points; sobol: base sample size N (a power of 2;
    N * (factors + 2) points); morris: trajectories (trajectories * (factors + 1) points)."""
    levels: int = Field(4, ge=2, le=20)
    """Morris grid levels."""
    replications: int = Field(ge=1, le=100_000)
    horizon_months: float = Field(ge=1, le=600)
    seed: int = Field(0, ge=0)
    outcomes: list[str] = Field(default_factory=lambda: ["p_collapse", "rmst"], min_length=1)
    """Named outcomes: ``p_collapse`` (by the horizon), ``p_collapse_by_<months>``, ``rmst``,
    ``initiator_share:<initiator>``, ``p_initiated_by:<initiator>``."""
    analyse: str | None = None
    """The outcome the figures and the ranking use (default: the first)."""
    factors: dict[str, Factor] = Field(min_length=1)
    keep_replications: bool = False
    """Write per-replication rows too (large)."""
    use_posterior: bool = True
    """Spread each point's replications over the scenario's calibrated posterior draws (false: point values)."""

    @model_validator(mode="after")
    def _check(self) -> "Experiment":
        problems = []
        for outcome in self.outcomes:
            if not OUTCOME_PATTERN.match(outcome):
                problems.append(f"outcomes: '{outcome}' is not an outcome (p_collapse, p_collapse_by_<months>, "
                                f"rmst, initiator_share:<initiator>, p_initiated_by:<initiator>)")
            m = re.match(r"^p_collapse_by_(\d+(\.\d+)?)$", outcome)
            if m and float(m.group(1)) > self.horizon_months:
                problems.append(f"outcomes: '{outcome}' is beyond horizon_months {self.horizon_months:g}")
        columns = [outcome_column(o) for o in self.outcomes]
        for o, c in zip(self.outcomes, columns):
            if columns.count(c) > 1 and self.outcomes.count(o) == 1:
                problems.append(f"outcomes: '{o}' is written as the column '{c}', like another outcome; "
                                f"rename an initiator or drop one of them")
                break
        if self.analyse is not None and self.analyse not in self.outcomes:
            problems.append(f"analyse: '{self.analyse}' is not one of the outcomes")
        if self.sampler == "sobol" and (self.points & (self.points - 1)):
            problems.append(f"points: {self.points} must be a power of 2 for the sobol sampler")
        d = len(self.factors)
        total = {"grid": self.points ** d, "random": self.points, "latin": self.points}.get(self.sampler)
        if total is not None and total < d + 2:
            problems.append(f"points: {self.points} gives {total} design points; the regression analysis of "
                            f"{d} factor(s) needs at least {d + 2}")
        if self.sampler in ("sobol", "morris") and self.points < 2:
            problems.append(f"points: the {self.sampler} sampler needs at least 2")
        if self.sampler == "morris" and self.levels % 2:
            problems.append(f"levels: {self.levels} must be even, so that the Morris step lands on the grid")
        size = design_size(self.sampler, self.points, d)
        if size > MAX_DESIGN_POINTS:
            shown = f"{size:,}" if size < 10 ** 15 else f"about 10^{len(str(size)) - 1}"
            problems.append(f"points: {self.points} gives {shown} design points with {d} factor(s) and the "
                            f"{self.sampler} sampler, more than the {MAX_DESIGN_POINTS:,} a sweep may have")
        paths = [f.path for f in self.factors.values()]
        if len(set(paths)) != len(paths):
            problems.append("factors: the same path is varied twice")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def analysed_outcome(self) -> str:
        return self.analyse or self.outcomes[0]


def design_size(sampler: str, points: int, factors: int) -> int:
    """Design points of a sampler: grid points**d, sobol N*(d+2), morris r*(d+1), else points."""
    if sampler == "grid":
        size = 1
        for _ in range(factors):  # stop early: 1000 factors of 1000 values is not worth computing
            size *= points
            if size > MAX_DESIGN_POINTS:
                return size
        return size
    return points * {"sobol": factors + 2, "morris": factors + 1}.get(sampler, 1)


class LoadedExperiment:
    """An experiment with its validated base scenario."""

    def __init__(self, experiment: Experiment, scenario: Scenario, path: Path, text: str):
        self.experiment = experiment
        self.scenario = scenario
        self.path = path
        self.fingerprint = hashlib.sha256(
            (text + json.dumps(scenario.model_dump(mode="json"), sort_keys=True)).encode()).hexdigest()

    @property
    def factor_names(self) -> list[str]:
        return list(self.experiment.factors)


def load_experiment(path: str | Path) -> LoadedExperiment:
    """Read and validate an experiment file (a path, or the name of a bundled experiment)."""
    from sim.bundled import locate
    path = locate(path, "experiments")
    text = read_input(path)
    raw = parse_toml(text, path)
    other_kind = wrong_kind(raw, "experiment", path)
    if other_kind:
        raise InputError([other_kind])
    bad_name = slug_problem(raw.get("name"))
    try:
        experiment = Experiment.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{path}: name: {bad_name}"] if bad_name else []
        for err in exc.errors():
            if bad_name and err["loc"] == ("name",):
                continue
            line = format_error(err, {})
            if err["type"] == "extra_forbidden":
                line = _experiment_hint(err, line)
            if err["type"] == "value_error" and len(err["loc"]) == 0:
                problems.extend(f"{path}: {part}" for part in line.split(": ", 1)[1].split("; "))
            else:
                problems.append(f"{path}: {line}")
        raise InputError(problems[:MAX_PROBLEMS_FORMATTED],
                         more=max(0, len(problems) - MAX_PROBLEMS_FORMATTED)) from None
    if bad_name:
        raise InputError([f"{path}: name: {bad_name}"])
    scenario_path = path.parent / experiment.scenario
    if not os.path.lexists(scenario_path):
        raise InputError([f"{path}: scenario: {scenario_path}: no such file"])
    read_input(scenario_path, f"{path}: scenario")  # a FIFO or a directory: say who refers to it
    scenario = load_scenario(scenario_path)
    problems = _factor_problems(experiment, scenario)
    if problems:
        raise InputError([f"{path}: {p}" for p in problems])
    return LoadedExperiment(experiment, scenario, path, text)


def _experiment_hint(err, line: str) -> str:
    import difflib
    loc = err["loc"]
    allowed = list(Factor.model_fields) if len(loc) == 3 and loc[0] == "factors" else list(Experiment.model_fields)
    hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
    path = ".".join(str(p) for p in loc)
    return f"{path}: unknown key; did you mean '{hint[0]}'?" if hint else f"{path}: unknown key; allowed: {', '.join(allowed)}"


def _factor_problems(experiment: Experiment, scenario: Scenario) -> list[str]:
    problems = []
    data = scenario.model_dump()
    for name, factor in experiment.factors.items():
        where = f"factors.{name}.path"
        try:
            value = get_path(data, factor.path)
        except KeyError as exc:
            problems.append(f"{where}: {exc.args[0]} (in scenario {experiment.scenario})")
            continue
        if factor.path.split(".")[0] not in ("actors", "processes", "dynamics") or isinstance(value, bool) \
                or not isinstance(value, float):
            problems.append(f"{where}: '{factor.path}' is not a numeric parameter a sweep can vary (the float "
                            f"parameters of actors, processes and dynamics)")
            continue
        if factor.path in scenario.uncertain:
            problems.append(f"{where}: '{factor.path}' is an uncertain setting of the scenario (its [uncertain] "
                            f"table); vary it there or here, not both")
            continue
        setters = [name for name, ev in scenario.events.items() if factor.path in ev.set]
        if setters:
            problems.append(f"{where}: '{factor.path}' is also set by the scenario's event(s) "
                            f"{', '.join(setters)}, which would overwrite the swept value part-way through "
                            f"the run; vary another parameter or use a scenario without that event")
            continue
        lo, hi = _schema_range(scenario, factor.path)
        if lo is not None and factor.low < lo:
            problems.append(f"factors.{name}.low: {factor.low:g} is below the minimum {lo:g} of {factor.path}")
        if hi is not None and factor.high > hi:
            problems.append(f"factors.{name}.high: {factor.high:g} is above the maximum {hi:g} of {factor.path}")
    initiators = {k for k, a in scenario.actors.items() if "belligerent" in a.roles}
    initiators |= {f"clash:{a.guarantor}-{p}" for p, a in scenario.actors.items()
                   if "patron" in a.roles and a.guarantor}
    for outcome in experiment.outcomes:
        if ":" in outcome:
            who = outcome.split(":", 1)[1]
            if who not in initiators:
                problems.append(f"outcomes: '{outcome}': '{who}' is not an initiator in the scenario "
                                f"(one of {', '.join(sorted(initiators))})")
    return problems


def _schema_range(scenario: Scenario, path: str) -> tuple[float | None, float | None]:
    """The schema's range of the numeric field at ``path``."""
    from sim.schema import CrossTheatreTension, Dynamics, Economy, OtherFronts
    parts = path.split(".")
    if parts[0] == "actors":
        cls = type(scenario.actors[parts[1]])
    elif parts[0] == "dynamics":
        cls = Dynamics
    elif parts[0] == "processes":
        cls = {"cross_theatre_tension": CrossTheatreTension, "economy": Economy, "other_fronts": OtherFronts}[parts[1]]
    else:
        return None, None
    extra = cls.model_fields[parts[-1]].json_schema_extra or {}
    return extra.get("minimum"), extra.get("maximum")
