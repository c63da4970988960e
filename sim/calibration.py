"""Calibration on the case base: a sequential Monte Carlo sampler over the mechanism parameters.

The free parameters are global ``[dynamics]`` rates (each with a prior: uniform on a linear or log
scale), plus, with ``pooling = true``, a conflict effect: every case of conflict c has its offensive
rates multiplied by exp(sigma * z_c), z_c ~ N(0, 1), sigma ~ half-normal(``pooling_scale``). That is
partial pooling: cases of one conflict share z_c, conflicts share sigma, and a new conflict's forecast
draws a fresh z.

Likelihood of a case at a parameter point, estimated from ``replications`` simulated runs:

- collapsed at t months, started by a: a kernel density of log time at log t over the runs that
  collapsed with initiator a (Gaussian kernel, ``bandwidth`` in log months), mixed with weight
  ``defensive`` with a broad reference density (log-uniform over 0.01-60 months, initiators equally
  likely), so that one unlucky estimate never gives a point likelihood zero;
- still holding at c months (censored): the share of runs still holding at c (plus a half-count),
  mixed likewise with the reference's P(T > c).
Runs are simulated only as far as the likelihood looks: to t x exp(3 bandwidth) for a collapsed case
and to c for a censored one.

Sampler (Del Moral, Doucet & Jasra 2006, with adaptive tempering): particles from the prior; the
likelihood is raised to a temperature phi from 0 to 1 in steps chosen so that each reweighting keeps an
effective sample size of ``ess_fraction`` x particles; after each step the particles are resampled
and moved by random-walk Metropolis-Hastings steps (proposal covariance from the particle cloud) whose
likelihood is re-simulated (pseudo-marginal), at least ``moves`` of them and more until at least
1 - ``unmoved_share`` of the particles have moved (at most ``max_moves``): resampled duplicates must
spread out, or two runs from different seeds would keep different prior draws. A pseudo-marginal move is
accepted less often the noisier the likelihood estimate (Doucet, Pitt, Deligiannidis & Kohn 2015 put the best
standard deviation of the summed log-likelihood estimate near 1.2-1.5); with ``allocation = "noise"`` each
case's runs are shared out so as to minimise that noise for the same cost (see :func:`allocate_replications`;
the noise is measured at the particles by splitting each estimate's runs in halves), and changed during the run
by an exchange step that keeps the sampler exact. Every simulation is seeded by (seed,
evaluation, case, chunk of particles), never by the worker that ran it, so results are identical on
any number of local cores or on a Dask cluster.
"""

from __future__ import annotations

import datetime as dt
import glob
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sim.montecarlo import advance_to_horizon, build_model
from sim.params import field_info
from sim.rng import BLOCK_SIZE
from sim.filekinds import wrong_kind
from sim.limits import MAX_PROBLEMS_FORMATTED, slug_problem
from sim.scenario import InputError, format_error, load_scenario, read_input, read_toml
from sim.schema import DAYS_PER_MONTH, Dynamics, Scenario
from sim.sources import WRITTEN_BY_CALIBRATE

CALIBRATION_TAG = 0x43414C  # separates calibration streams from runs and sweeps
REPLICATIONS_PER_CHUNK = 6144   # a model advances about this many runs at once: big enough to batch well
REFERENCE_RANGE = (0.01, 60.0)   # months: support of the defensive reference density
RUN_COST_MONTHS = 13.0           # a run's cost that does not grow with its horizon, in simulated months
                                 # (measured at posterior particles: 0.056 s per 1,000 runs of a 0.4-month case,
                                 # 0.30 s of a 60-month one, whatever the runs per particle)
RATE_PATHS = ("dynamics.offensive_rate_covered", "dynamics.offensive_rate_independent")
MAX_CASES = 200                  # historical cases one calibration may fit (the case base has 19)


# --- the calibration file ------------------------------------------------------------------------

class FreeParameter(BaseModel):
    # strict: no coercion of strings or booleans ("0.2", "yes"); numbers are finite
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)
    path: str
    """A ``dynamics.*`` key path: global rates only, never a case's own conditions."""
    low: float | None = None
    high: float | None = None
    scale: Literal["linear", "log"] | None = None
    """Prior uniform on this scale ("linear" or "log") between low and high; default: the schema's prior."""
    source: str = ""

    @model_validator(mode="after")
    def _check(self) -> "FreeParameter":
        for name in ("low", "high"):
            v = getattr(self, name)
            if v is not None and not math.isfinite(v):
                raise ValueError(f"{name}: must be a finite number")
        return self


class Calibration(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)
    name: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$", max_length=100)
    description: str = ""
    cases: list[str] = Field(min_length=1)
    """Historical scenario files or glob patterns, relative to this file, each with an [observed] table."""
    particles: int = Field(400, ge=16, le=20_000)
    replications: int = Field(64, ge=4, le=10_000)
    """Simulated runs per particle and case for each likelihood estimate."""
    allocation: Literal["equal", "noise"] = "equal"
    """``equal``: every case gets ``replications`` runs. ``noise``: the same budget (``replications`` runs of
    every case, counted in simulated months) is shared out at each tempering stage so that the summed
    log-likelihood estimate is least noisy: runs in proportion to sqrt(noise / cost) per case."""
    seed: int = Field(0, ge=0)
    bandwidth: float = Field(0.35, gt=0, le=2)
    """Kernel width in log months."""
    defensive: float = Field(0.02, gt=0, lt=1)
    ess_fraction: float = Field(0.5, gt=0.05, lt=1)
    moves: int = Field(3, ge=1, le=50)
    """Metropolis-Hastings moves per tempering step at least ..."""
    max_moves: int = Field(10, ge=1, le=100)
    """... and at most: moves go on until the share of particles that have not moved in the step, estimated
    from the acceptance rate, falls below ``unmoved_share``."""
    unmoved_share: float = Field(0.2, gt=0, lt=1)
    pooling: bool = True
    """Partial pooling by conflict: a conflict effect on the offensive rates."""
    pooling_scale: float = Field(0.5, gt=0, le=5)
    """Scale of sigma's half-normal prior (log-rate units)."""
    predictive_replications: int = Field(24, ge=2, le=10_000)
    """Runs per particle for each case's predictive distribution (calibration report and backtest)."""
    as_of: dt.date | None = None
    """Fit with only what was known on this date: cases that started later are left out, and an outcome
    after it is censored there. A forecast dated D inherits the posterior fitted as of D."""
    free: dict[str, FreeParameter] = Field(min_length=1)


@dataclass
class Observed:
    collapsed: bool
    months: float                    # time of collapse, or the censoring time (capped at the horizon)
    initiator: str | None


@dataclass
class Case:
    name: str
    conflict: str
    scenario: Scenario
    observed: Observed
    alternative: Observed | None
    path: Path = field(default_factory=Path)


@dataclass(frozen=True)
class Prior:
    path: str
    scale: str
    low: float
    high: float

    def from_unit(self, u):
        u = np.asarray(u, dtype=float)
        if self.scale == "log":
            return np.exp(np.log(self.low) + u * (np.log(self.high) - np.log(self.low)))
        return self.low + u * (self.high - self.low)

    def to_unit(self, v):
        v = np.asarray(v, dtype=float)
        if self.scale == "log":
            return (np.log(v) - np.log(self.low)) / (np.log(self.high) - np.log(self.low))
        return (v - self.low) / (self.high - self.low)


def load_calibration(path: str | Path, cases_dir: str | Path | None = None, as_of: dt.date | None = None,
                     design: dict | None = None):
    """The calibration definition, its priors and its historical cases (``as_of`` replaces the file's, and
    ``design`` its ``particles``/``replications`` where given, validated like the file's own values).

    The file must be a calibration file (a scenario or experiment given here is named as such), with a
    name that is a safe directory name, no coerced types and finite numbers; its cases (files or glob
    patterns, or the ``*.toml`` of ``cases_dir``) are at most :data:`MAX_CASES` readable regular files.
    """
    path = Path(path)
    raw = read_toml(path)
    other_kind = wrong_kind(raw, "calibration", path)
    if other_kind:
        raise InputError([other_kind])
    if as_of is not None:
        raw = {**raw, "as_of": as_of}
    design = {k: v for k, v in (design or {}).items() if v is not None}
    raw = {**raw, **design}
    bad_name = slug_problem(raw.get("name"))
    problems = [f"{path}: name: {bad_name}"] if bad_name else []
    try:
        cal = Calibration.model_validate(raw)
    except ValidationError as exc:
        errors = [err for err in exc.errors() if not (bad_name and err["loc"] == ("name",))]
        problems += [f"--{err['loc'][0]} (replacing {path}'s): {_calibration_error(err)}"
                     if err["loc"] and err["loc"][0] in design else f"{path}: {_calibration_error(err)}"
                     for err in errors[:MAX_PROBLEMS_FORMATTED]]
        raise InputError(problems, more=max(0, len(errors) - MAX_PROBLEMS_FORMATTED)) from None
    if problems:
        raise InputError(problems)
    priors = []
    for key, fp in cal.free.items():
        parts = fp.path.split(".")
        if len(parts) != 2 or parts[0] != "dynamics" or parts[1] not in Dynamics.model_fields:
            problems.append(f"{path}: free.{key}.path: '{fp.path}' is not a dynamics parameter "
                            f"(free parameters are global rates: dynamics.<name>)")
            continue
        info = field_info(Dynamics, parts[1])
        default = info["prior"] or ["linear", info["minimum"], info["maximum"]]
        scale = fp.scale or default[0]
        low = fp.low if fp.low is not None else default[1]
        high = fp.high if fp.high is not None else default[2]
        if not low < high:
            problems.append(f"{path}: free.{key}: low ({low:g}) must be below high ({high:g})")
        elif low < info["minimum"] or high > info["maximum"]:
            problems.append(f"{path}: free.{key}: [{low:g}, {high:g}] leaves the range "
                            f"[{info['minimum']:g}, {info['maximum']:g}] of {fp.path}")
        elif scale == "log" and low <= 0:
            problems.append(f"{path}: free.{key}: a log-scale prior needs low > 0")
        else:
            priors.append(Prior(fp.path, scale, float(low), float(high)))
    if problems:
        raise InputError(problems)
    if cases_dir is not None:
        if not Path(cases_dir).is_dir():
            raise InputError([f"{cases_dir}: not a directory (--cases)"])
        files = _first_files(Path(cases_dir).glob("*.toml"), f"{cases_dir} (--cases)")
        if not files:
            raise InputError([f"{cases_dir}: no scenario files (*.toml) in this directory"])
        referrers = [f"{cases_dir} (--cases)"] * len(files)
    else:
        files, referrers = [], []
        for i, pattern in enumerate(cal.cases):
            found = _first_files(map(Path, glob.iglob(str(path.parent / pattern))), f"{path}: cases[{i}]")
            if not found:
                raise InputError([f"{path}: cases[{i}]: '{pattern}' matches no file"])
            files += found
            referrers += [f"{path}: cases[{i}]"] * len(found)
    unique = dict(zip(files, referrers))
    if len(unique) > MAX_CASES:
        where = f"{cases_dir} (--cases)" if cases_dir is not None else f"{path}: cases"
        raise InputError([f"{where}: {len(unique):,} cases; a calibration fits at most {MAX_CASES}"])
    for f, referrer in unique.items():  # a FIFO or a directory among the cases: say who refers to it
        read_input(f, referrer)
    cases = []
    for f, referrer in unique.items():
        try:
            cases.append(load_case(f))
        except InputError as exc:  # the case file's own problems, with the calibration that names it
            raise InputError([f"{referrer}: {p}" for p in exc.problems], more=getattr(exc, "more", 0)) from None
    if cal.as_of is not None:
        cases = [as_known_on(c, cal.as_of) for c in cases if c.scenario.start < cal.as_of]
    if len(cases) < 2:
        raise InputError([f"{path}: cases: a calibration needs at least two cases, found {len(cases)}"])
    return cal, priors, cases


def _first_files(paths, where: str) -> list[Path]:
    """The paths in order, refused with one message past :data:`MAX_CASES` (a pattern such as
    ``/**/*.toml`` is not read to its end)."""
    found = []
    for p in paths:
        found.append(p)
        if len(found) > MAX_CASES:
            raise InputError([f"{where}: more than {MAX_CASES} files; a calibration fits at most {MAX_CASES} cases"])
    return sorted(found)


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


def as_known_on(case: Case, date: dt.date) -> Case:
    """The case as it was known on ``date``: an outcome after that date becomes 'still holding then'."""
    known = (date - case.scenario.start).days / DAYS_PER_MONTH
    obs = case.observed
    if obs.months <= known:
        return case
    censored = Observed(False, min(known, obs.months), None)
    return Case(case.name, case.conflict, case.scenario, censored, None, case.path)


def _observed(table: dict, scenario: Scenario, where: str) -> Observed:
    status = table.get("status", "collapsed")
    horizon = float(scenario.horizon_months)
    if status == "censored":
        at = table.get("censored_at")
        if isinstance(at, dt.date):
            months = (at - scenario.start).days / DAYS_PER_MONTH
        elif isinstance(at, (int, float)) and not isinstance(at, bool) and math.isfinite(at):
            months = float(at)
        else:
            raise InputError([f"{where}.censored_at: a censored case needs the date it was last known to hold"])
        if months <= 0:
            raise InputError([f"{where}.censored_at: must be after the start"])
        return Observed(False, min(months, horizon), None)
    if status != "collapsed":
        raise InputError([f"{where}.status: must be 'collapsed' or 'censored', not {status!r}"])
    months = table.get("months_to_collapse")
    initiator = table.get("initiator")
    if isinstance(months, bool) or not isinstance(months, (int, float)) or not math.isfinite(months) \
            or not months > 0 or not isinstance(initiator, str):
        raise InputError([f"{where}: a collapsed case needs months_to_collapse (a positive, finite number) and "
                          f"initiator"])
    if months > horizon:    # collapsed after the horizon: held throughout it
        return Observed(False, horizon, None)
    known = {k for k, a in scenario.actors.items() if "belligerent" in a.roles}
    known |= {f"clash:{a.guarantor}-{k}" for k, a in scenario.actors.items() if "patron" in a.roles and a.guarantor}
    if initiator not in known:
        raise InputError([f"{where}.initiator: '{initiator}' is not a belligerent of the case "
                          f"(one of {', '.join(sorted(known))})"])
    return Observed(True, float(months), initiator)


def load_case(path: Path) -> Case:
    scenario = load_scenario(path)
    obs = scenario.observed or {}
    if not obs:
        raise InputError([f"{path}: observed: a historical case needs an [observed] table"])
    if not scenario.conflict:
        raise InputError([f"{path}: conflict: a historical case needs the conflict it belongs to"])
    primary = _observed(obs, scenario, f"{path}: observed")
    alt = obs.get("alternative")
    alternative = _observed(alt, scenario, f"{path}: observed.alternative") if isinstance(alt, dict) else None
    return Case(scenario.name, scenario.conflict, scenario, primary, alternative, Path(path))


# --- parameter space ---------------------------------------------------------------------------

# Written out as scipy.stats computes them (bit for bit): reading a calibration file need not import
# scipy.stats, which takes about a second.
_LOG_SQRT_2PI = np.log(np.sqrt(2 * np.pi))


def _normal_logpdf(x: np.ndarray) -> np.ndarray:
    return -x**2 / 2.0 - _LOG_SQRT_2PI


def _halfnormal_logpdf(x: np.ndarray, scale: float) -> np.ndarray:
    y = np.asarray(x, dtype=float) / scale
    return np.where(y >= 0, 0.5 * np.log(2.0 / np.pi) - y * y / 2.0 - np.log(scale), -np.inf)


@dataclass(frozen=True)
class Space:
    """The sampler's coordinates: logit of each prior's unit value, then log sigma and the z's."""

    priors: tuple[Prior, ...]
    conflicts: tuple[str, ...]
    pooling: bool
    pooling_scale: float

    @property
    def dim(self) -> int:
        return len(self.priors) + (1 + len(self.conflicts) if self.pooling else 0)

    def names(self) -> list[str]:
        out = [p.path for p in self.priors]
        if self.pooling:
            out += ["conflict_sigma"] + [f"conflict_effect.{c}" for c in self.conflicts]
        return out

    def sample_prior(self, n: int, rng: np.random.Generator) -> np.ndarray:
        d = len(self.priors)
        x = np.empty((n, self.dim))
        u = rng.random((n, d))
        x[:, :d] = np.log(u) - np.log1p(-u)
        if self.pooling:
            sigma = np.abs(rng.standard_normal(n)) * self.pooling_scale
            x[:, d] = np.log(sigma)
            x[:, d + 1:] = rng.standard_normal((n, len(self.conflicts)))
        return x

    def log_prior(self, x: np.ndarray) -> np.ndarray:
        """Log density of the prior in these coordinates (Jacobians included)."""
        d = len(self.priors)
        logit = x[:, :d]
        out = -np.sum(np.logaddexp(0, logit) + np.logaddexp(0, -logit), axis=1)
        if self.pooling:
            log_sigma = x[:, d]
            sigma = np.exp(log_sigma)
            out += _halfnormal_logpdf(sigma, self.pooling_scale) + log_sigma
            out += np.sum(_normal_logpdf(x[:, d + 1:]), axis=1)
        return out

    def values(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Global parameter values of each particle (without the conflict effect)."""
        d = len(self.priors)
        u = 1.0 / (1.0 + np.exp(-x[:, :d]))
        return {p.path: p.from_unit(u[:, i]) for i, p in enumerate(self.priors)}

    def sigma(self, x: np.ndarray) -> np.ndarray:
        return np.exp(x[:, len(self.priors)]) if self.pooling else np.zeros(x.shape[0])

    def effect(self, x: np.ndarray, conflict: str | None) -> np.ndarray:
        """exp(sigma z) of a conflict in the case base (None: 1, no pooling)."""
        if not self.pooling or conflict is None:
            return np.ones(x.shape[0])
        z = x[:, len(self.priors) + 1 + self.conflicts.index(conflict)]
        return np.exp(self.sigma(x) * z)

    def case_overrides(self, x: np.ndarray, conflict: str | None, new_conflict_z: np.ndarray | None = None,
                       dynamics: Dynamics | None = None):
        """Parameter values per particle for simulating a case of ``conflict`` (or a new conflict, given z);
        a launch rate that is not free keeps the case's own value (``dynamics``), times the conflict effect."""
        vals = self.values(x)
        factor = np.exp(self.sigma(x) * new_conflict_z) if new_conflict_z is not None else self.effect(x, conflict)
        own = dynamics or Dynamics()
        for path in RATE_PATHS:
            if path in vals:
                vals[path] = vals[path] * factor
            elif self.pooling:
                vals[path] = getattr(own, path.split(".")[1]) * factor
        return vals


# --- simulating cases --------------------------------------------------------------------------

@dataclass(frozen=True)
class CaseTask:
    """One chunk of particles of one case, for one likelihood evaluation: small and picklable."""

    case_index: int
    scenario: Scenario
    seed: int
    evaluation: int
    chunk: int
    horizon_months: float
    replications: int
    values: dict            # path -> tuple of values, one per particle of the chunk

    @property
    def particles(self) -> int:
        return len(next(iter(self.values.values())))


def _expected_cost(task: CaseTask) -> float:
    """Runs times months: what a chunk costs to simulate, up to the runs that end early."""
    return task.particles * task.replications * task.horizon_months


def simulate_chunk(task: CaseTask):
    """Times, collapse flags and initiator labels of every run, shape (particles, replications)."""
    k = task.particles
    reps = task.replications
    n = k * reps
    blocks = [((CALIBRATION_TAG, task.evaluation, task.case_index, task.chunk, j), min(BLOCK_SIZE, n - j * BLOCK_SIZE))
              for j in range(math.ceil(n / BLOCK_SIZE))]
    overrides = {p: np.repeat(np.asarray(v, dtype=float), reps) for p, v in task.values.items()}
    model = build_model(task.scenario, task.seed, blocks, task.horizon_months, None, overrides)
    out = advance_to_horizon(model, blocks, record_fan=False, first_collapse_only=True)
    labels = np.array(["none", *out.initiators], dtype=object)[out.initiator.astype(np.int64) + 1]
    return (task.case_index, task.chunk, out.months.reshape(k, reps), out.collapsed.reshape(k, reps),
            labels.reshape(k, reps))


def likelihood_horizon(case: Case, bandwidth: float) -> float:
    """How far the likelihood of the case looks: past the observed time by three kernel widths."""
    obs = case.observed
    if obs.collapsed:
        return float(min(case.scenario.horizon_months, obs.months * math.exp(3 * bandwidth)))
    return float(obs.months)


def simulate_cases(cases: list[Case], space: Space, x: np.ndarray, *, seed: int, evaluation: int,
                   replications: int | list[int], horizons: list[float], executor, new_conflict_z=None,
                   scenarios=None, progress=None) -> list[dict]:
    """Per case: arrays (particles, replications) of months, collapsed, initiator labels. ``replications`` is
    one count for every case or a list with one per case."""
    n = x.shape[0]
    reps = [replications] * len(cases) if isinstance(replications, int) else list(replications)
    per_chunk = [max(1, REPLICATIONS_PER_CHUNK // r) for r in reps]   # depends on the settings only, never on jobs
    tasks = []
    for c, case in enumerate(cases):
        scenario = case.scenario if scenarios is None else scenarios[c]
        vals = space.case_overrides(x, case.conflict if new_conflict_z is None else None,
                                    None if new_conflict_z is None else new_conflict_z, scenario.dynamics)
        for chunk, start in enumerate(range(0, n, per_chunk[c])):
            sl = slice(start, min(start + per_chunk[c], n))
            tasks.append(CaseTask(c, scenario, seed, evaluation, chunk, horizons[c], reps[c],
                                  {p: tuple(map(float, v[sl])) for p, v in vals.items()}))
    # the costliest first (runs times months to simulate), so that what runs last, while a worker may wait for the
    # others, is short: the cases' horizons run from days to five years, and in case order a long one could come
    # last. Each result goes to its own place, so the order changes no number.
    tasks.sort(key=_expected_cost, reverse=True)
    out = [{"months": np.zeros((n, r)), "collapsed": np.zeros((n, r), bool),
            "initiator": np.empty((n, r), dtype=object)} for r in reps]
    done = 0
    for c, chunk, months, collapsed, labels in executor.map_unordered(simulate_chunk, tasks):
        sl = slice(chunk * per_chunk[c], chunk * per_chunk[c] + months.shape[0])
        out[c]["months"][sl], out[c]["collapsed"][sl], out[c]["initiator"][sl] = months, collapsed, labels
        done += 1
        if progress is not None:
            progress(done, len(tasks))
    return out


def case_loglik(obs: Observed, sim: dict, bandwidth: float, defensive: float, n_initiators: int) -> np.ndarray:
    """Estimated log-likelihood of the observed outcome at each particle (see the module docstring)."""
    return case_loglik_and_noise(obs, sim, bandwidth, defensive, n_initiators)[0]


def case_loglik_and_noise(obs: Observed, sim: dict, bandwidth: float, defensive: float,
                          n_initiators: int) -> tuple[np.ndarray, np.ndarray]:
    """The estimated log-likelihood at each particle, and the estimate's variance times the number of runs it
    came from, measured by splitting the runs in two halves: (half difference)^2 / 2 is the variance of an
    estimate from half the runs. Dividing the second array by a number of runs predicts the variance of an
    estimate from that many (a slight overestimate where hits are rare, as the log of a small count is
    noisier than the count itself, which suits its use: giving such cases more runs)."""
    months, collapsed = sim["months"], sim["collapsed"]
    reps = months.shape[1]
    lo, hi = REFERENCE_RANGE
    span = math.log(hi / lo)
    if not obs.collapsed:
        per_run = ~collapsed | (months > obs.months + 1e-9)
        c = min(max(obs.months, lo), hi)
        reference = math.log(hi / c) / span

        def mixed(runs):
            return (1 - defensive) * (runs.sum(axis=1) + 0.5) / (runs.shape[1] + 1.0) + defensive * reference
    else:
        t = max(obs.months, lo)
        match = collapsed & (sim["initiator"] == obs.initiator)
        z = (np.log(np.maximum(months, 1e-6)) - math.log(t)) / bandwidth
        per_run = np.where(match, np.exp(-0.5 * z * z), 0.0)
        reference = 1.0 / (t * span * max(n_initiators, 1))

        def mixed(runs):
            kernel = runs.sum(axis=1) / (runs.shape[1] * bandwidth * math.sqrt(2 * math.pi) * t)
            return (1 - defensive) * kernel + defensive * reference
    half = reps // 2
    if half == 0:
        return np.log(mixed(per_run)), np.zeros(months.shape[0])
    split = np.log(mixed(per_run[:, :half])) - np.log(mixed(per_run[:, half:2 * half]))
    return np.log(mixed(per_run)), split * split / 2 * half


def allocate_replications(unit_variance: np.ndarray, costs: list[float], base: int) -> list[int]:
    """Runs per case that make the summed log-likelihood estimate least noisy for the cost of ``base`` runs of
    every case (Neyman allocation: runs in proportion to sqrt(noise / cost), noise being each case's mean unit
    variance over the particles), each case at least a quarter of ``base`` (a case that looks noiseless because
    none of its runs came near the observation must still be able to), at most 16 times it."""
    noise = np.maximum(np.asarray(unit_variance, dtype=float).mean(axis=1), 0.0)
    cost = np.asarray(costs, dtype=float)
    budget = base * cost.sum()
    low, high = max(4, base // 4), min(10_000, 16 * base)
    share = np.sqrt(noise / cost)
    reps = np.full(cost.size, float(base))
    fixed = np.zeros(cost.size, dtype=bool)
    for _ in range(cost.size + 1):   # cases pinned at a bound leave the rest of the budget to the others
        free = ~fixed
        weight = float(np.sum(share[free] * cost[free]))
        if weight <= 0:
            reps[free] = low if fixed.any() else base
            break
        reps[free] = (budget - np.sum(reps[fixed] * cost[fixed])) * share[free] / weight
        pinned = free & ((reps < low) | (reps > high))
        if not pinned.any():
            break
        reps[pinned] = np.clip(reps[pinned], low, high)
        fixed |= pinned
    return [int(r) for r in np.clip(np.rint(reps), low, high)]


def n_initiators(case: Case) -> int:
    """Who can start a collapse: every belligerent, and every guarantor-patron pair that can clash."""
    actors = case.scenario.actors.values()
    return sum("belligerent" in a.roles for a in actors) + sum(
        1 for a in actors if "patron" in a.roles and a.guarantor)


# --- the sampler -------------------------------------------------------------------------------

@dataclass
class SMCResult:
    cal: Calibration
    space: Space
    cases: list[Case]
    particles: np.ndarray          # (N, dim), equally weighted
    loglik: np.ndarray             # (cases, N) at the final particles
    stages: list[dict]
    ess_final: float
    seed: int

    def values(self) -> dict[str, np.ndarray]:
        out = self.space.values(self.particles)
        if self.space.pooling:
            out["conflict_sigma"] = self.space.sigma(self.particles)
            d = len(self.space.priors)
            for i, c in enumerate(self.space.conflicts):
                out[f"conflict_effect.{c}"] = self.particles[:, d + 1 + i]
        return out

    def summary(self) -> dict:
        out = {}
        for name, v in self.values().items():
            q05, q50, q95 = np.quantile(v, [0.05, 0.5, 0.95])
            out[name] = {"median": float(q50), "mean": float(v.mean()), "q05": float(q05), "q95": float(q95)}
        for p in self.space.priors:
            out[p.path]["prior"] = [p.scale, p.low, p.high]
        return out

    def unique_particles(self) -> int:
        return int(np.unique(self.particles, axis=0).shape[0])

    def effective_sample_size(self) -> float:
        """The smaller of the last reweighting's ESS and the number of distinct particles after the moves."""
        return float(min(self.ess_final, self.unique_particles()))


def _estimate_variance(unit_variance: np.ndarray, reps: list[int]) -> float:
    """Predicted variance of the summed log-likelihood estimate with ``reps`` runs per case (mean over particles)."""
    return float(np.sum(unit_variance.mean(axis=1) / np.asarray(reps, dtype=float)))


def _ess(logw: np.ndarray) -> float:
    w = np.exp(logw - logw.max())
    return float(w.sum() ** 2 / np.sum(w * w))


def _systematic(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = weights.size
    positions = (rng.random() + np.arange(n)) / n
    return np.minimum(np.searchsorted(np.cumsum(weights), positions), n - 1)


def run_smc(cal: Calibration, priors: list[Prior], cases: list[Case], executor, *, seed: int | None = None,
            progress=None) -> SMCResult:
    """Sample the posterior of the free parameters given every case's observed outcome."""
    seed = cal.seed if seed is None else seed
    conflicts = tuple(sorted({c.conflict for c in cases}))
    space = Space(tuple(priors), conflicts, cal.pooling, cal.pooling_scale)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(CALIBRATION_TAG, 0x534D43)))
    horizons = [likelihood_horizon(c, cal.bandwidth) for c in cases]
    n_init = [n_initiators(c) for c in cases]
    costs = [h + RUN_COST_MONTHS for h in horizons]
    counter = {"evaluation": 0}

    def loglik(x: np.ndarray, reps: list[int]) -> tuple[np.ndarray, np.ndarray]:
        counter["evaluation"] += 1
        sims = simulate_cases(cases, space, x, seed=seed, evaluation=counter["evaluation"],
                              replications=reps, horizons=horizons, executor=executor)
        pairs = [case_loglik_and_noise(c.observed, s, cal.bandwidth, cal.defensive, k)
                 for c, s, k in zip(cases, sims, n_init)]
        return np.vstack([p[0] for p in pairs]), np.vstack([p[1] for p in pairs])

    n = cal.particles
    reps = [cal.replications] * len(cases)
    x = space.sample_prior(n, rng)
    ll, noise = loglik(x, reps)
    phi = 0.0
    stages = []
    scale = 2.38 / math.sqrt(space.dim)
    ess_final = float(n)
    while True:
        carried = np.zeros(n)
        if cal.allocation == "noise":
            better = allocate_replications(noise, costs, cal.replications)
            now, then = _estimate_variance(noise, reps), _estimate_variance(noise, better)
            # Exchange step (Chopin, Jacob & Papaspiliopoulos 2013): new estimates from the new run counts, the
            # particles reweighted by the ratio of new to old at the current temperature, which keeps the
            # sampler exact for its target. Worth it only for a clear gain, and only while the ratio's spread,
            # phi^2 (var now + var then), costs less of the ESS than a tempering step may: later, the weights
            # would fall on a few particles (the allocation is then fixed for the rest of the run).
            if then < 0.8 * now and phi * phi * (now + then) <= math.log(1 / cal.ess_fraction):
                reps = better
                ll_new, noise = loglik(x, reps)
                carried = phi * (ll_new.sum(axis=0) - ll.sum(axis=0))
                ll = ll_new
        total = ll.sum(axis=0)
        target = cal.ess_fraction * n
        if _ess(carried + (1.0 - phi) * total) >= target:
            new_phi = 1.0
        else:
            lo, hi = phi, 1.0
            for _ in range(60):
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if _ess(carried + (mid - phi) * total) >= target else (lo, mid)
            new_phi = lo if lo > phi else hi
        logw = carried + (new_phi - phi) * total
        ess = _ess(logw)
        w = np.exp(logw - logw.max())
        w /= w.sum()
        idx = _systematic(w, rng)
        x, ll, noise = x[idx], ll[:, idx], noise[:, idx]
        phi = new_phi
        ess_final = ess
        cov = np.cov(x, rowvar=False) + 1e-9 * np.eye(space.dim)
        chol = np.linalg.cholesky(cov)
        accepted = 0
        moved = np.zeros(n, dtype=bool)
        moves = 0
        while moves < cal.moves or (moves < cal.max_moves and np.mean(~moved) > cal.unmoved_share):
            proposal = x + scale * (rng.standard_normal(x.shape) @ chol.T)
            ll_new, noise_new = loglik(proposal, reps)
            log_ratio = phi * (ll_new.sum(axis=0) - ll.sum(axis=0)) + space.log_prior(proposal) - space.log_prior(x)
            accept = np.log(rng.random(n)) < log_ratio
            x[accept], ll[:, accept], noise[:, accept] = proposal[accept], ll_new[:, accept], noise_new[:, accept]
            accepted += int(accept.sum())
            moved |= accept
            moves += 1
        rate = accepted / (moves * n)
        scale *= math.exp(rate - 0.25)      # keep the acceptance rate near a quarter
        predicted_sd = math.sqrt(_estimate_variance(noise, reps))
        stages.append({"temperature": phi, "ess": ess, "acceptance": rate, "moves": moves,
                       "moved_share": float(np.mean(moved)), "evaluations": counter["evaluation"],
                       "loglik_sd": predicted_sd, "replications": dict(zip((c.name for c in cases), reps))})
        if progress is not None:
            progress(phi, stages[-1])
        if phi >= 1.0:
            break
    return SMCResult(cal, space, cases, x, ll, stages, ess_final, seed)


def reproducibility(a: SMCResult, b: SMCResult) -> dict:
    """How far two independent runs' posterior medians lie apart, as a fraction of the 90% interval width."""
    sa, sb = a.summary(), b.summary()
    shifts = {}
    for name in sa:
        width = ((sa[name]["q95"] - sa[name]["q05"]) + (sb[name]["q95"] - sb[name]["q05"])) / 2
        shifts[name] = abs(sa[name]["median"] - sb[name]["median"]) / width if width > 0 else 0.0
    globals_only = {k: v for k, v in shifts.items() if not k.startswith("conflict_effect.")}
    return {"seeds": [a.seed, b.seed], "shift": shifts, "max_shift": max(globals_only.values()),
            "max_shift_including_conflict_effects": max(shifts.values()),
            "definition": "|median(run 1) - median(run 2)| / mean width of the two 90% intervals"}


# --- outputs for scenarios ---------------------------------------------------------------------

def posterior_rows(result: SMCResult, conflict: str | None) -> tuple[list[str], np.ndarray]:
    """Draws of the global parameters for scenarios of ``conflict`` (None: a conflict not in the case base,
    with a fresh conflict effect per draw)."""
    x = result.particles
    z = None
    if conflict is None and result.space.pooling:
        rng = np.random.default_rng(np.random.SeedSequence(result.seed, spawn_key=(CALIBRATION_TAG, 0x4E4557)))
        z = rng.standard_normal(x.shape[0])
    vals = result.space.case_overrides(x, conflict, z)
    order = np.random.default_rng(np.random.SeedSequence(result.seed, spawn_key=(CALIBRATION_TAG, 0x4F5244)))\
        .permutation(x.shape[0])
    names = list(vals)
    return names, np.column_stack([vals[k] for k in names])[order]


def dynamics_toml(result: SMCResult, posterior_file: str, conflict: str | None) -> str:
    """A fragment scenarios inherit: the posterior file, and posterior medians as point values."""
    names, rows = posterior_rows(result, conflict)
    who = f"conflict '{conflict}'" if conflict else "a conflict outside the case base"
    lines = [f"# Calibrated dynamics for {who}, from '{result.cal.name}' ({len(result.cases)} cases, "
             f"{result.cal.particles} particles, seed {result.seed}).",
             "# Runs spread their replications over the posterior draws in the file named below; the [dynamics]",
             "# values are the posterior medians, used only when a run asks for point values (--no-posterior).",
             f"# Inherit with base = \"this file\". {WRITTEN_BY_CALIBRATE}; do not edit by hand.",
             "", f'posterior = "{posterior_file}"', "", "[dynamics]"]
    for i, name in enumerate(names):
        q05, q50, q95 = np.quantile(rows[:, i], [0.05, 0.5, 0.95])
        lines.append(f"{name.split('.', 1)[1]} = {q50:.6g}    # 90% interval [{q05:.4g}, {q95:.4g}]")
    return "\n".join(lines) + "\n"


# --- reports and files -------------------------------------------------------------------------

def fit_report(result: SMCResult, sims: list[dict]) -> list[dict]:
    """In-sample posterior predictive of every case (all particles equally weighted)."""
    from sim.backtest import SCORE_MONTHS, grid_months, initiator_shares, predictive_cdf
    from sim import scoring
    n = result.particles.shape[0]
    weights = np.full(n, 1.0 / n)
    rows = []
    for case, sim in zip(result.cases, sims):
        grid = grid_months(case.scenario.horizon_months)
        cdf = predictive_cdf(sim, weights, grid)
        obs = case.observed
        rows.append({"name": case.name, "conflict": case.conflict,
                     "observed": {"collapsed": obs.collapsed, "months": obs.months, "initiator": obs.initiator},
                     "predicted": {"p_collapse": {str(m): scoring.at(grid, cdf, m) for m in SCORE_MONTHS},
                                   "median": (lambda q: q if math.isfinite(q) else None)(scoring.quantile(grid, cdf, 0.5)),
                                   "initiator_share": initiator_shares(sim, weights),
                                   "survival": [[round(float(g), 4), round(float(1 - f), 5)]
                                                for g, f in zip(grid[::4], cdf[::4])]},
                     "observed_percentile": scoring.pit(grid, cdf, obs.months, censored=not obs.collapsed)})
    return rows


def calibration_report(result: SMCResult, repro: dict | None, fit_rows: list[dict]) -> dict:
    cal = result.cal
    return {
        "name": cal.name, "description": cal.description,
        "cases": [{"name": c.name, "conflict": c.conflict, "file": str(c.path),
                   "observed": {"collapsed": c.observed.collapsed, "months": c.observed.months,
                                "initiator": c.observed.initiator}} for c in result.cases],
        "settings": {k: v for k, v in cal.model_dump().items() if k not in ("free", "cases", "name", "description")},
        "parameters": result.summary(),
        "diagnostics": {"effective_sample_size": result.effective_sample_size(),
                        "ess_last_reweighting": result.ess_final, "unique_particles": result.unique_particles(),
                        "particles": int(result.particles.shape[0]), "stages": result.stages,
                        "evaluations": result.stages[-1]["evaluations"] if result.stages else 0},
        "reproducibility": repro,
        "fit": fit_rows,
        "method": "sequential Monte Carlo with adaptive likelihood tempering and pseudo-marginal random-walk moves "
                  "(sim.calibration); partial pooling by conflict" + ("" if cal.pooling else " switched off"),
    }


def particles_table(result: SMCResult) -> tuple[list[str], list[list[float]]]:
    """The sampler's final particles (its coordinates) and each case's log-likelihood there."""
    header = [f"x:{n}" for n in result.space.names()] + [f"loglik:{c.name}" for c in result.cases]
    rows = np.hstack([result.particles, result.loglik.T])
    return header, rows.tolist()


def read_particles(directory: Path, cal: Calibration, priors: list[Prior], cases: list[Case],
                   seed: int) -> SMCResult:
    """An SMCResult from a calibration directory's particles.csv, checked against the cases given."""
    import csv

    from sim.limits import MAX_DATA_BYTES, FileRefused, read_text
    path = Path(directory) / "particles.csv"
    try:
        rows = list(csv.reader(read_text(path, MAX_DATA_BYTES).splitlines()))
    except FileRefused as exc:
        raise InputError([f"--from {directory}: '{path}' {exc.reason}; give the directory of a finished "
                          f"'ceasefire calibrate'"]) from None
    try:
        header = rows[0]
        for n, r in enumerate(rows[1:], start=2):
            if len(r) != len(header):
                raise ValueError(f"line {n} has {len(r)} values, the header {len(header)}")
        data = np.array([[float(v) for v in r] for r in rows[1:]], dtype=float).reshape(len(rows) - 1, len(header))
        if data.shape[0] < 1 or np.isnan(data).any():
            raise ValueError("no rows, or a value that is not a number")
    except (ValueError, IndexError) as exc:
        raise InputError([f"{path}: not the particles ceasefire calibrate writes ({exc})"]) from None
    conflicts = tuple(sorted({c.conflict for c in cases}))
    space = Space(tuple(priors), conflicts, cal.pooling, cal.pooling_scale)
    expected = [f"x:{n}" for n in space.names()] + [f"loglik:{c.name}" for c in cases]
    if header != expected:
        raise InputError([f"{path}: these particles come from another calibration or case base "
                          f"(columns differ from what {cal.name} with these cases gives)"])
    d = space.dim
    return SMCResult(cal, space, cases, data[:, :d], data[:, d:].T, [], float(data.shape[0]), seed)
