"""Fitting the free global rates to the past Idlib truces, and scoring forecasts leave-one-out.

Method (documented in MODEL.md, "Calibration"): the free parameters get a uniform prior on a box
(in log scale where asked). A Latin hypercube of ``points`` parameter sets is drawn from the prior,
and every historical case is simulated at every point on common random numbers. For each case and
point the simulated likelihood of the observed outcome is smoothed: the share of replications
collapsing within a log-time window around the observed duration (at the step resolution), times
the share of those started by the observed initiator, each with a half-count added so no point has
likelihood zero. The posterior over the design points has weights proportional to the product of
the cases' likelihoods (importance sampling from the prior); its mode is the fitted value, its
weighted quantiles the uncertainty, and its effective sample size says how well the design covers
it.

Leave-one-out: the posterior that predicts case k uses the likelihoods of the other cases only;
case k's simulations enter only its predictive distribution, never its weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from scipy.stats import qmc

from sim import scoring
from sim.model import CeasefireModel
from sim.montecarlo import advance_to_horizon
from sim.rng import BlockStreams
from sim.filekinds import wrong_kind
from sim.limits import MAX_PROBLEMS_FORMATTED, slug_problem
from sim.scenario import InputError, format_error, load_scenario, read_input, read_toml
from sim.schema import Dynamics, Scenario
from sim.sweep import point_blocks

CALIBRATION_TAG = 0x43414C  # separates calibration streams from runs and sweeps
PREDICT_MONTHS = (1, 3, 6, 12)
REPLICATIONS_PER_TASK = 8000
MAX_CASES = 200


class FreeParameter(BaseModel):
    # strict: no coercion of strings or booleans; numbers are finite
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)
    path: str
    """A ``dynamics.*`` key path: global rates only, never a case's own conditions."""
    low: float
    high: float
    scale: Literal["linear", "log"] = "linear"
    """Prior uniform on this scale between low and high."""
    source: str = ""

    @model_validator(mode="after")
    def _check(self) -> "FreeParameter":
        if not self.low < self.high:
            raise ValueError(f"low ({self.low:g}) must be below high ({self.high:g})")
        if self.scale == "log" and self.low <= 0:
            raise ValueError("a log-scale parameter needs low > 0")
        return self

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        if self.scale == "log":
            return np.exp(np.log(self.low) + u * (np.log(self.high) - np.log(self.low)))
        return self.low + u * (self.high - self.low)


class Calibration(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    cases: list[str] = Field(min_length=2)
    """Historical scenario files (relative to this file), each with an [observed] table."""
    points: int = Field(256, ge=8, le=100_000)
    replications: int = Field(300, ge=10, le=100_000)
    horizon_months: float = Field(60, ge=1, le=600)
    seed: int = Field(0, ge=0)
    window: float = Field(0.4, gt=0, le=3)
    """Half-width of the log-time window of the smoothed likelihood."""
    free: dict[str, FreeParameter] = Field(min_length=1)


@dataclass
class Case:
    name: str
    scenario: Scenario
    observed_months: float
    observed_initiator: str
    collapsed: bool


def load_calibration(path: str | Path, cases_dir: str | Path | None = None):
    """The calibration definition and its historical cases. ``cases_dir`` replaces the file's list."""
    path = Path(path)
    raw = read_toml(path)
    other_kind = wrong_kind(raw, "calibration", path)
    if other_kind:
        raise InputError([other_kind])
    bad_name = slug_problem(raw.get("name"))
    problems = [f"{path}: name: {bad_name}"] if bad_name else []
    try:
        cal = Calibration.model_validate(raw)
    except ValidationError as exc:
        errors = [err for err in exc.errors() if not (bad_name and err["loc"] == ("name",))]
        problems += [f"{path}: {_calibration_error(err)}" for err in errors[:MAX_PROBLEMS_FORMATTED]]
        raise InputError(problems, more=max(0, len(errors) - MAX_PROBLEMS_FORMATTED)) from None
    fields = Dynamics.model_fields
    for key, fp in cal.free.items():
        parts = fp.path.split(".")
        if len(parts) != 2 or parts[0] != "dynamics" or parts[1] not in fields:
            problems.append(f"{path}: free.{key}.path: '{fp.path}' is not a dynamics parameter "
                            f"(free parameters are global rates: dynamics.<name>)")
            continue
        extra = fields[parts[1]].json_schema_extra
        if fp.low < extra["minimum"] or fp.high > extra["maximum"]:
            problems.append(f"{path}: free.{key}: [{fp.low:g}, {fp.high:g}] leaves the range "
                            f"[{extra['minimum']:g}, {extra['maximum']:g}] of {fp.path}")
    if problems:
        raise InputError(problems)
    if cases_dir is not None and not Path(cases_dir).is_dir():
        raise InputError([f"{cases_dir}: not a directory (--cases)"])
    files = sorted(Path(cases_dir).glob("*.toml")) if cases_dir is not None else [path.parent / c for c in cal.cases]
    if cases_dir is not None and not files:
        raise InputError([f"{cases_dir}: no scenario files (*.toml) in this directory"])
    if len(files) > MAX_CASES:
        where = f"{cases_dir} (--cases)" if cases_dir is not None else f"{path}: cases"
        raise InputError([f"{where}: {len(files):,} cases; a calibration fits at most {MAX_CASES}"])
    referrers = [f"{cases_dir} (--cases)" if cases_dir is not None else f"{path}: cases[{i}]" for i in range(len(files))]
    for f, referrer in zip(files, referrers):  # a FIFO or a directory among the cases: say who refers to it
        read_input(f, referrer)
    cases = [load_case(f, referrer) for f, referrer in zip(files, referrers)]
    return cal, cases


def _calibration_error(err) -> str:
    """format_error, with the calibration's own keys (not a scenario's) as the suggestions."""
    if err["type"] != "extra_forbidden":
        return format_error(err, {})
    import difflib
    loc = err["loc"]
    allowed = sorted(FreeParameter.model_fields if len(loc) == 3 and loc[0] == "free" else Calibration.model_fields)
    hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
    where = ".".join(str(p) for p in loc)
    return f"{where}: unknown key; " + (f"did you mean '{hint[0]}'?" if hint else f"allowed keys: {', '.join(allowed)}")


def load_case(path: Path, referrer: str | None = None) -> Case:
    scenario = load_scenario(path)
    obs = scenario.observed or {}
    months = obs.get("months_to_collapse")
    initiator = obs.get("initiator")
    if (isinstance(months, bool) or not isinstance(months, (int, float)) or not math.isfinite(months)
            or months <= 0 or not isinstance(initiator, str)):
        raise InputError([f"{referrer + ': ' if referrer else ''}{path}: observed: needs months_to_collapse (a positive, "
                          f"finite number) and initiator (a string)"])
    return Case(scenario.name, scenario, float(months), initiator, bool(obs.get("collapsed", True)))


def design(cal: Calibration) -> tuple[np.ndarray, np.ndarray]:
    """Unit-cube Latin hypercube (points, d) and the parameter values it maps to."""
    d = len(cal.free)
    unit = qmc.LatinHypercube(d, rng=np.random.default_rng(np.random.SeedSequence(cal.seed))).random(cal.points) \
        if _qmc_takes_rng() else qmc.LatinHypercube(d, seed=np.random.default_rng(cal.seed)).random(cal.points)
    values = np.column_stack([fp.from_unit(unit[:, i]) for i, fp in enumerate(cal.free.values())])
    return unit, values


def _qmc_takes_rng() -> bool:
    import inspect
    return "rng" in inspect.signature(qmc.LatinHypercube).parameters


# --- simulating the cases over the design ------------------------------------------------------

@dataclass(frozen=True)
class CaseTask:
    case_index: int
    scenario: Scenario
    seed: int
    horizon_months: float
    replications: int
    paths: tuple[str, ...]
    points: tuple[int, ...]
    values: tuple[tuple[float, ...], ...]


def simulate_case_points(task: CaseTask) -> tuple[int, list[int], np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Months, collapsed flags and initiator codes of every replication at each point, shape (k, reps).

    Common random numbers across points: every point of a case uses the same blocks.
    """
    reps = task.replications
    blocks = []
    for _ in task.points:
        blocks += [((CALIBRATION_TAG, task.case_index, j), n) for (_, _, j), n in point_blocks(0, reps)]
    values = np.asarray(task.values, dtype=float)
    overrides = {p: np.repeat(values[:, i], reps) for i, p in enumerate(task.paths)}
    model = CeasefireModel(task.scenario, BlockStreams(task.seed, blocks), horizon_months=task.horizon_months,
                           overrides=overrides)
    out = advance_to_horizon(model, blocks, record_fan=False)
    k = len(task.points)
    return (task.case_index, list(task.points), out.months.reshape(k, reps), out.collapsed.reshape(k, reps),
            out.initiator.reshape(k, reps), list(out.initiators))


def evaluate_design(cal: Calibration, cases: list[Case], values: np.ndarray, executor, progress=None):
    """Simulated outcomes of every case at every design point: dict case -> arrays (points, reps)."""
    paths = tuple(fp.path for fp in cal.free.values())
    per_task = max(1, min(REPLICATIONS_PER_TASK // cal.replications,
                          math.ceil(values.shape[0] * len(cases) / max(1, 4 * executor.jobs))))
    tasks = []
    for c, case in enumerate(cases):
        for i in range(0, values.shape[0], per_task):
            pts = tuple(range(i, min(i + per_task, values.shape[0])))
            tasks.append(CaseTask(c, case.scenario, cal.seed, cal.horizon_months, cal.replications, paths, pts,
                                  tuple(tuple(map(float, values[p])) for p in pts)))
    m = values.shape[0]
    sims = {c: {"months": np.zeros((m, cal.replications)), "collapsed": np.zeros((m, cal.replications), bool),
                "initiator": np.zeros((m, cal.replications), np.int16), "initiators": None}
            for c in range(len(cases))}
    done = 0
    for c, pts, months, collapsed, initiator, labels in executor.map_unordered(simulate_case_points, tasks):
        sims[c]["months"][pts] = months
        sims[c]["collapsed"][pts] = collapsed
        sims[c]["initiator"][pts] = initiator
        sims[c]["initiators"] = labels
        done += len(pts)
        if progress is not None:
            progress(done, m * len(cases))
    return sims


# --- likelihood, posterior, predictions ---------------------------------------------------------

def case_loglik(case: Case, sim: dict, window: float, dt: float) -> np.ndarray:
    """Smoothed simulated log-likelihood of the case's observed outcome at each design point."""
    months, collapsed, initiator = sim["months"], sim["collapsed"], sim["initiator"]
    n = months.shape[1]
    if not case.collapsed:
        survived = np.sum(~collapsed | (months > case.observed_months), axis=1)
        return np.log((survived + 0.5) / (n + 1.0))
    floor = max(case.observed_months, dt)
    t = np.log(np.maximum(months, dt))
    near = collapsed & (np.abs(t - np.log(floor)) <= window)
    k = near.sum(axis=1)
    code = sim["initiators"].index(case.observed_initiator) if case.observed_initiator in sim["initiators"] else -99
    k_init = (near & (initiator == code)).sum(axis=1)
    return np.log((k + 0.5) / (n + 1.0) / (2 * window)) + np.log((k_init + 0.5) / (k + 1.0))


def posterior_weights(loglik: np.ndarray) -> np.ndarray:
    """Normalised weights from summed log-likelihoods (uniform prior over the design)."""
    z = loglik - np.max(loglik)
    w = np.exp(z)
    return w / w.sum()


def weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    order = np.argsort(x)
    cw = np.cumsum(w[order])
    return float(x[order][min(np.searchsorted(cw, q * cw[-1]), x.size - 1)])


def predictive(sim: dict, weights: np.ndarray, grid: np.ndarray) -> dict:
    """Posterior-weighted predictive distribution of one case: CDF on the grid and initiator shares."""
    months, collapsed = sim["months"], sim["collapsed"]
    m, n = months.shape
    cdf = np.zeros(grid.size)
    for j in np.flatnonzero(weights > 1e-12):
        t = np.sort(months[j][collapsed[j]])
        cdf += weights[j] * np.searchsorted(t, grid, side="right") / n
    shares = {}
    for code, label in enumerate(sim["initiators"]):
        counts = np.sum(collapsed & (sim["initiator"] == code), axis=1)
        totals = np.maximum(np.sum(collapsed, axis=1), 1)
        shares[label] = float(np.sum(weights * counts / totals))
    return {"cdf": cdf, "initiator_share": shares}


def median_from_cdf(grid: np.ndarray, cdf: np.ndarray) -> float | None:
    idx = np.flatnonzero(cdf >= 0.5)
    return float(grid[idx[0]]) if idx.size else None


def case_grid(case: Case, horizon: float) -> np.ndarray:
    dt = case.scenario.dt_months
    return np.arange(1, int(math.floor(horizon / dt + 1e-9)) + 1) * dt


def predict_case(case: Case, sim: dict, weights: np.ndarray, horizon: float) -> dict:
    grid = case_grid(case, horizon)
    pred = predictive(sim, weights, grid)
    cdf = pred["cdf"]
    p_by = {str(mth): float(scoring.pit(grid, cdf, mth)) for mth in PREDICT_MONTHS}
    return {"grid": grid, "cdf": cdf, "p_collapse": p_by, "median_months": median_from_cdf(grid, cdf),
            "observed_percentile": scoring.pit(grid, cdf, case.observed_months),
            "initiator_share": pred["initiator_share"]}


@dataclass
class CalibrationResult:
    cal: Calibration
    cases: list[Case]
    values: np.ndarray
    loglik: np.ndarray            # (cases, points)
    sims: dict

    def fit(self, exclude: int | None = None) -> dict:
        """Posterior over the design from all cases but ``exclude``."""
        rows = [c for c in range(len(self.cases)) if c != exclude]
        total = self.loglik[rows].sum(axis=0)
        w = posterior_weights(total)
        best = int(np.argmax(total))
        params = {}
        for i, (key, fp) in enumerate(self.cal.free.items()):
            x = self.values[:, i]
            params[key] = {"path": fp.path, "map": float(x[best]), "mean": float(np.sum(w * x)),
                           "q05": weighted_quantile(x, w, 0.05), "q50": weighted_quantile(x, w, 0.5),
                           "q95": weighted_quantile(x, w, 0.95), "prior": [fp.low, fp.high, fp.scale]}
        return {"weights": w, "best_point": best, "parameters": params,
                "effective_sample_size": float(1.0 / np.sum(w ** 2)), "max_weight": float(w.max()),
                "loglik_at_map": float(total[best]), "cases_used": [self.cases[c].name for c in rows]}

    def calibration_report(self) -> dict:
        fit = self.fit()
        per_case = []
        for c, case in enumerate(self.cases):
            pred = predict_case(case, self.sims[c], fit["weights"], self.cal.horizon_months)
            per_case.append(_case_row(case, pred))
        return {"name": self.cal.name, "points": self.cal.points, "replications": self.cal.replications,
                "horizon_months": self.cal.horizon_months, "seed": self.cal.seed, "window": self.cal.window,
                "parameters": fit["parameters"],
                "diagnostics": {"effective_sample_size": fit["effective_sample_size"],
                                "max_weight": fit["max_weight"], "loglik_at_map": fit["loglik_at_map"],
                                "loglik_by_case_at_map": {case.name: float(self.loglik[c, fit["best_point"]])
                                                          for c, case in enumerate(self.cases)}},
                "cases": per_case}

    def backtest(self) -> dict:
        """Leave-one-out predictions and scores against the two reference forecasts."""
        rows = []
        for k, case in enumerate(self.cases):
            fit = self.fit(exclude=k)
            pred = predict_case(case, self.sims[k], fit["weights"], self.cal.horizon_months)
            others = [c.observed_months for i, c in enumerate(self.cases) if i != k]
            rows.append({**_case_row(case, pred), "fit_without_case": {
                "parameters": {n: p["map"] for n, p in fit["parameters"].items()},
                "effective_sample_size": fit["effective_sample_size"], "cases_used": fit["cases_used"]},
                "scores": score_case(case, pred["grid"], pred["cdf"], others)})
        return {"cases": rows, "scores": summarise_scores(rows), "reference_forecasts": REFERENCE_NOTES}


REFERENCE_NOTES = {
    "base_rate": "Literature base rate (HISTORY.md): about 80% of ceasefires fail, unmonitored ones mostly within "
                 "a year; taken as a constant hazard with P(collapse within 12 months) = 0.8.",
    "other_cases": "Empirical distribution of the other Idlib cases' durations (leave-one-out), mixed with 5% "
                   "of a uniform spread over the horizon so that no outcome has probability 0.",
}


def _case_row(case: Case, pred: dict) -> dict:
    return {"name": case.name, "observed_months": case.observed_months,
            "observed_initiator": case.observed_initiator,
            "predicted": {"p_collapse": pred["p_collapse"], "median": pred["median_months"],
                          "initiator_share": pred["initiator_share"],
                          "survival": [[float(g), float(1 - f)] for g, f in zip(pred["grid"], pred["cdf"])]},
            "observed_percentile": pred["observed_percentile"]}


def score_case(case: Case, grid: np.ndarray, cdf: np.ndarray, other_durations: list[float]) -> dict:
    forecasts = {"model": cdf, "base_rate": scoring.exponential_cdf(grid, 0.8, 12.0),
                 "other_cases": scoring.empirical_cdf(grid, other_durations, floor=0.05)}
    out = {}
    t = case.observed_months
    for name, f in forecasts.items():
        p = {m: scoring.pit(grid, f, m) for m in PREDICT_MONTHS}
        out[name] = {
            "brier": {str(m): scoring.brier(p[m], t <= m) for m in PREDICT_MONTHS},
            "log": float(np.mean([scoring.log_score(p[m], t <= m) for m in PREDICT_MONTHS])),
            "crps": scoring.crps(grid, f, t),
        }
    return out


def summarise_scores(rows: list[dict]) -> dict:
    names = rows[0]["scores"].keys()
    summary = {}
    for name in names:
        s = [r["scores"][name] for r in rows]
        summary[name] = {
            "brier": {str(m): float(np.mean([x["brier"][str(m)] for x in s])) for m in PREDICT_MONTHS},
            "log": float(np.mean([x["log"] for x in s])),
            "crps": float(np.mean([x["crps"] for x in s])),
        }
    return summary


def calibrate(cal: Calibration, cases: list[Case], executor, progress=None) -> CalibrationResult:
    _, values = design(cal)
    sims = evaluate_design(cal, cases, values, executor, progress)
    loglik = np.vstack([case_loglik(case, sims[c], cal.window, case.scenario.dt_months)
                        for c, case in enumerate(cases)])
    return CalibrationResult(cal, cases, values, loglik, sims)


def dynamics_toml(result: CalibrationResult) -> str:
    """The fitted rates as a file scenarios can inherit with ``base``."""
    fit = result.fit()
    lines = [f"# Calibrated global rates from '{result.cal.name}' ({len(result.cases)} cases, "
             f"{result.cal.points} design points x {result.cal.replications} replications, seed {result.cal.seed}).",
             "# Posterior mode; 90% intervals in calibration.json. Inherit with base = [\"this file\", ...].",
             "", "[dynamics]"]
    for key, p in fit["parameters"].items():
        lines.append(f"{p['path'].split('.', 1)[1]} = {p['map']:.6g}    # 90% interval "
                     f"[{p['q05']:.4g}, {p['q95']:.4g}]")
    return "\n".join(lines) + "\n"

