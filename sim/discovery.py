r"""Scenario discovery: where in the factor space of a sweep is collapse likely? PRIM with soft labels.

PRIM (the patient rule induction method, Friedman and Fisher 1999; as used for scenario discovery by
Bryant and Lempert 2010 and the EMA Workbench) looks for a box, limits on a few factors, that holds
many of the cases of interest (*coverage*) and few others (*density*):

* **peeling** starts from the whole design and repeatedly removes the slice of ``peel_alpha`` of the
  points in the box, at the lower or upper end of one factor, whichever raises the density most per
  point removed (the "lenient" objective); it stops when no slice raises the density or the box
  would hold less than ``mass_min`` of the points. The boxes along the way are the *peeling
  trajectory*, trading coverage for density;
* the box reported is the one on the trajectory with the highest coverage among those whose density
  is at least ``min_density``;
* **pasting** then widens that box, a ``paste_alpha`` slice at a time, while the density does not fall
  (it undoes peels that went too far);
* **covering**: the points of the box are set aside and the search repeats for up to ``max_boxes``
  boxes.

**Censoring and soft labels.** The outcome of a ceasefire is a time to collapse, right-censored at
the horizon H: a replication still holding at H tells us only that it lasted at least H months. A
sweep runs every replication of every point to H, so for any T <= H whether a replication collapsed
within T is observed for all of them, and a point's share ``p_collapse_by_T = k / n`` *is* its
Kaplan-Meier estimate of 1 - S(T) (no replication is censored before T), given with its Wilson
interval. Discovery does not reduce a point to 0/1 (by its replications' status at the horizon, or by
whether its estimate clears the threshold): each point i carries a *soft label* w_i in [0, 1], the
probability that its true value is a case of interest given its n replications:

* ``kind="likely"`` (default): w_i = P(theta_i >= t | k_i, n_i), theta_i's posterior being
  Beta(k_i + 1/2, n_i - k_i + 1/2) (Jeffreys prior), for shares such as P(collapse within T); for
  other outcomes (RMST) the normal approximation from the 95% CI, Phi((estimate - t) / se). A point
  at 72% from 50 replications is then about 0.6 of a case for t = 70%, not 1; a point at 68%, about 0.4.
* ``kind="probability"``: w_i = the estimate itself, so that the cases of interest are the
  replications that collapse within T: density is then the mean P(collapse within T) in the box and
  coverage the share of all such collapses that happen in the box.

Coverage, density and mass are then sums of soft labels: coverage = sum_{i in box} w_i / sum_i w_i,
density = sum_{i in box} w_i / n_box, mass = n_box / m. With hard labels they are PRIM's usual ones.
For each restricted factor of a box, ``restrictions`` give the density with that restriction
dropped and a quasi-p-value (binomial, as in the EMA Workbench: the chance of the box's density
or more if the restriction did nothing; indicative only, the box having been chosen on the same
data).

Shapes: ``x`` is (m points, d factors), ``y`` and soft labels are (m,), box limits are (d, 2) with
columns (low, high). Functions here are pure: :func:`discover_sweep` reads a sweep directory and
writes through :mod:`sim.store`.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats

from sim.survival import Z95


# --- soft labels -----------------------------------------------------------------------------------

def soft_labels(estimate, *, threshold: float | None = None, trials=None, ci_low=None, ci_high=None,
                kind: str = "likely", below: bool = False) -> np.ndarray:
    """The soft label of each point, shape (m,), from its estimate (and how sure it is).

    ``kind="likely"``: the probability that the point's true value is at least ``threshold`` (below
    it with ``below=True``): from the Jeffreys Beta posterior when ``trials`` (replications per point,
    scalar or (m,)) is given and the estimate is a share, else from the normal approximation with the
    standard error of the 95% CI ``ci_low``, ``ci_high``. ``kind="probability"``: the estimate itself
    (a share in [0, 1]; with ``below``, one minus it). NaN estimates (failed or undefined points) stay NaN.
    """
    est = np.asarray(estimate, dtype=float)
    if est.ndim != 1:
        raise ValueError(f"estimate must be one-dimensional, got shape {est.shape}")
    if kind == "probability":
        if np.any((est[np.isfinite(est)] < 0) | (est[np.isfinite(est)] > 1)):
            raise ValueError("kind='probability' needs estimates that are shares in [0, 1]")
        return 1.0 - est if below else est.copy()
    if kind != "likely":
        raise ValueError(f"kind must be 'likely' or 'probability', not {kind!r}")
    if threshold is None or not np.isfinite(threshold):
        raise ValueError("threshold must be a finite number when kind='likely'")
    if trials is not None:
        n = np.broadcast_to(np.asarray(trials, dtype=float), est.shape)
        if np.any(n[np.isfinite(est)] < 1):
            raise ValueError("trials must be at least 1 where the estimate is defined")
        k = np.round(est * n)
        with np.errstate(invalid="ignore"):
            above = stats.beta.sf(threshold, k + 0.5, n - k + 0.5)
        out = 1.0 - above if below else above
        return np.where(np.isfinite(est), out, np.nan)
    if ci_low is None or ci_high is None:
        raise ValueError("give trials (for shares) or ci_low and ci_high (normal approximation)")
    se = (np.asarray(ci_high, dtype=float) - np.asarray(ci_low, dtype=float)) / (2 * Z95)
    with np.errstate(divide="ignore", invalid="ignore"):
        zscore = np.where(se > 0, (est - threshold) / np.where(se > 0, se, 1.0),
                          np.where(est >= threshold, np.inf, -np.inf))
    out = stats.norm.cdf(-zscore) if below else stats.norm.cdf(zscore)
    return np.where(np.isfinite(est), out, np.nan)


# --- PRIM ------------------------------------------------------------------------------------------

@dataclass
class Step:
    """One box of a trajectory."""

    limits: np.ndarray          # (d, 2)
    coverage: float
    density: float
    mass: float
    n_points: int
    phase: str                  # "start", "peel" or "paste"

    def restricted(self, bounds: np.ndarray) -> list[int]:
        return [j for j in range(bounds.shape[0]) if self.limits[j, 0] > bounds[j, 0] or self.limits[j, 1] < bounds[j, 1]]


@dataclass
class Box:
    """A box found by PRIM: its limits, statistics and the trajectory that led to it."""

    limits: np.ndarray          # (d, 2) after pasting
    coverage: float
    density: float
    mass: float
    n_points: int
    restricted: list[int]
    trajectory: list[Step]
    chosen_step: int            # index in trajectory of the box chosen before pasting
    meets_min_density: bool
    restrictions: list[dict] = field(default_factory=list)


@dataclass
class PrimResult:
    boxes: list[Box]
    bounds: np.ndarray          # (d, 2): the limits of the whole space
    total: float                # sum of the soft labels: the number of cases of interest
    n_points: int
    options: dict


def _check(x, y, bounds):
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"x must be two-dimensional (points, factors), got shape {x.shape}")
    if y.shape != (x.shape[0],):
        raise ValueError(f"y must have one value per row of x ({x.shape[0]}), got shape {y.shape}")
    if x.shape[0] < 2 or x.shape[1] < 1:
        raise ValueError("x needs at least 2 points and 1 factor")
    if not np.all(np.isfinite(x)) or not np.all(np.isfinite(y)):
        raise ValueError("x and y must be finite (drop failed points first)")
    if np.any((y < 0) | (y > 1)):
        raise ValueError("y must be soft labels in [0, 1]")
    if bounds is None:
        bounds = np.column_stack([x.min(axis=0), x.max(axis=0)])
    bounds = np.asarray(bounds, dtype=float)
    if bounds.shape != (x.shape[1], 2) or np.any(bounds[:, 0] > x.min(axis=0)) or np.any(bounds[:, 1] < x.max(axis=0)):
        raise ValueError("bounds must have shape (factors, 2) and contain every point")
    return x, y, bounds


def _inside(x: np.ndarray, limits: np.ndarray) -> np.ndarray:
    return np.all((x >= limits[:, 0]) & (x <= limits[:, 1]), axis=1)


def prim(x, y, *, bounds=None, peel_alpha: float = 0.05, paste_alpha: float = 0.05, mass_min: float = 0.05,
         min_density: float = 0.8, max_boxes: int = 3) -> PrimResult:
    """PRIM boxes for soft labels ``y`` (m,) over the points ``x`` (m, d); see the module docstring.

    ``bounds`` (d, 2) are the limits of the factor space (default: the range of ``x``); a box limit
    equal to a bound is no restriction. Returns the boxes in the order found (the first box is
    always returned; further ones only if they reach ``min_density``).
    """
    x, y, bounds = _check(x, y, bounds)
    for name, value, lo, hi in (("peel_alpha", peel_alpha, 0, 0.5), ("paste_alpha", paste_alpha, 0, 0.5),
                                ("mass_min", mass_min, 0, 1), ("min_density", min_density, 0, 1)):
        if not lo < value <= hi:
            raise ValueError(f"{name} must be in ({lo}, {hi}], got {value}")
    if max_boxes < 1:
        raise ValueError("max_boxes must be at least 1")
    m = x.shape[0]
    total = float(y.sum())
    remaining = np.ones(m, dtype=bool)
    boxes: list[Box] = []
    while len(boxes) < max_boxes and remaining.any() and y[remaining].sum() > 0:
        box = _find_box(x, y, remaining, bounds, total, peel_alpha, paste_alpha, mass_min, min_density)
        if boxes and not box.meets_min_density:
            break
        boxes.append(box)
        remaining &= ~_inside(x, box.limits)
    options = {"peel_alpha": peel_alpha, "paste_alpha": paste_alpha, "mass_min": mass_min,
               "min_density": min_density, "max_boxes": max_boxes}
    return PrimResult(boxes, bounds, total, m, options)


def _stats(x, y, remaining, limits, total, m, phase) -> Step:
    inside = remaining & _inside(x, limits)
    n = int(inside.sum())
    covered = float(y[inside].sum())
    return Step(limits.copy(), covered / total if total > 0 else float("nan"), covered / n if n else float("nan"),
                n / m, n, phase)


def _find_box(x, y, remaining, bounds, total, peel_alpha, paste_alpha, mass_min, min_density) -> Box:
    m, d = x.shape
    limits = bounds.copy()
    trajectory = [_stats(x, y, remaining, limits, total, m, "start")]
    # peeling
    while True:
        inside = remaining & _inside(x, limits)
        n_old, mean_old = int(inside.sum()), float(y[inside].mean())
        best = None
        for j in range(d):
            xj = x[inside, j]
            for side in (0, 1):
                cut = _peel_cut(xj, peel_alpha, side)
                if cut is None:
                    continue
                new = limits.copy()
                new[j, side] = cut
                keep = inside & (x[:, j] >= cut if side == 0 else x[:, j] <= cut)
                n_new = int(keep.sum())
                if n_new == 0 or n_new >= n_old:
                    continue
                gain = (float(y[keep].mean()) - mean_old) / (n_old - n_new)
                # ties: the peel that restricts fewer factors, then the first found (deterministic)
                key = (gain, -len(Step(new, 0, 0, 0, 0, "").restricted(bounds)))
                if best is None or key > best[0]:
                    best = (key, new, n_new)
        if best is None or best[0][0] <= 0 or best[2] / m < mass_min:
            break
        limits = best[1]
        trajectory.append(_stats(x, y, remaining, limits, total, m, "peel"))
    # the box reported: highest coverage with enough density; else the densest
    dense = [i for i, s in enumerate(trajectory) if s.density >= min_density]
    chosen = max(dense, key=lambda i: (trajectory[i].coverage, -i)) if dense else \
        max(range(len(trajectory)), key=lambda i: (trajectory[i].density, -i))
    limits = trajectory[chosen].limits.copy()
    peeled = trajectory[:]
    # pasting
    while True:
        inside = remaining & _inside(x, limits)
        n_old, mean_old = int(inside.sum()), float(y[inside].mean())
        best = None
        for j in range(d):
            for side in (0, 1):
                if limits[j, side] == bounds[j, side]:
                    continue
                others = limits.copy()
                others[j] = bounds[j]
                pool = remaining & _inside(x, others) & ~inside
                xj = x[pool, j]
                xj = xj[xj < limits[j, 0]] if side == 0 else xj[xj > limits[j, 1]]
                if xj.size == 0:
                    continue
                # a slice of paste_alpha of the candidates, and the nearest value alone (finer)
                for cut in {_paste_cut(xj, paste_alpha, side), float(xj.max() if side == 0 else xj.min())}:
                    new = limits.copy()
                    new[j, side] = cut
                    keep = remaining & _inside(x, new)
                    n_new = int(keep.sum())
                    if n_new <= n_old:
                        continue
                    mean_new = float(y[keep].mean())
                    gain = (mean_new - mean_old) / (n_new - n_old)
                    key = (gain, n_new)  # equal gain: the wider paste
                    if mean_new >= mean_old and (best is None or key > best[0]):
                        best = (key, new)
        if best is None:
            break
        limits = best[1]
        trajectory.append(_stats(x, y, remaining, limits, total, m, "paste"))
    final = _stats(x, y, remaining, limits, total, m, "final")
    restricted = final.restricted(bounds)
    box = Box(limits, final.coverage, final.density, final.mass, final.n_points, restricted, trajectory, chosen,
              bool(final.density >= min_density))
    box.restrictions = _restriction_stats(x, y, remaining, bounds, box)
    del peeled
    return box


def _peel_cut(xj: np.ndarray, alpha: float, side: int) -> float | None:
    """The new limit that peels about ``alpha`` of the points off one end (at least one distinct value)."""
    values = np.unique(xj)
    if values.size < 2:
        return None
    if side == 0:
        cut = float(np.quantile(xj, alpha, method="higher"))
        return cut if cut > values[0] else float(values[1])
    cut = float(np.quantile(xj, 1 - alpha, method="lower"))
    return cut if cut < values[-1] else float(values[-2])


def _paste_cut(xj: np.ndarray, alpha: float, side: int) -> float:
    """The new limit that adds about ``alpha`` of the candidate points (at least the nearest value)."""
    if side == 0:
        return float(np.quantile(xj, 1 - alpha, method="lower")) if xj.size > 1 else float(xj[0])
    return float(np.quantile(xj, alpha, method="higher")) if xj.size > 1 else float(xj[0])


def _restriction_stats(x, y, remaining, bounds, box: Box) -> list[dict]:
    inside = remaining & _inside(x, box.limits)
    k = int(round(float(y[inside].sum())))
    n = int(inside.sum())
    out = []
    for j in box.restricted:
        dropped = box.limits.copy()
        dropped[j] = bounds[j]
        wider = remaining & _inside(x, dropped)
        p0 = float(y[wider].mean()) if wider.any() else float("nan")
        quasi_p = float(stats.binom.sf(k - 1, n, p0)) if n and 0 < p0 < 1 else (0.0 if p0 == 0 and k else 1.0)
        out.append({"factor": j, "density_without": p0, "quasi_p": quasi_p})
    return out


# --- words -----------------------------------------------------------------------------------------

def outcome_phrase(outcome: str, horizon: float | None = None) -> tuple[str, bool]:
    """(a phrase for the outcome, whether it is a share): 'collapse within 24 months', ..."""
    if outcome.startswith("p_collapse_by_"):
        return f"collapse within {outcome.removeprefix('p_collapse_by_')} months", True
    if outcome == "p_collapse":
        return (f"collapse within {horizon:g} months" if horizon else "collapse by the horizon"), True
    if outcome.startswith("p_initiated_by:"):
        return f"a collapse initiated by {outcome.split(':', 1)[1]}", True
    if outcome.startswith("initiator_share:"):
        return f"{outcome.split(':', 1)[1]}'s share of the collapses", True
    if outcome == "rmst":
        return "the mean months holding (RMST)", False
    return outcome, False


def _num(v: float) -> str:
    return f"{v:.3g}"


def conditions(box: Box, bounds: np.ndarray, labels: list[str]) -> str:
    parts = []
    for j in box.restricted:
        lo, hi = box.limits[j]
        low_cut, high_cut = lo > bounds[j, 0], hi < bounds[j, 1]
        if low_cut and high_cut:
            parts.append(f"{labels[j]} is between {_num(lo)} and {_num(hi)}")
        elif low_cut:
            parts.append(f"{labels[j]} ≥ {_num(lo)}")
        else:
            parts.append(f"{labels[j]} ≤ {_num(hi)}")
    if not parts:
        return "anywhere in the space swept"
    return " and ".join(parts) if len(parts) < 3 else ", ".join(parts[:-1]) + " and " + parts[-1]


def sentence(box: Box, bounds, labels, *, phrase: str, share: bool, threshold: float | None, below: bool,
             kind: str, first: bool = True) -> str:
    pct = lambda v: f"{100 * v:.0f}%"  # noqa: E731
    subject = phrase[0].upper() + phrase[1:]
    # a box that restricts no factor is the whole space (or what the earlier boxes left): say so, not "when ..."
    where = f"when {conditions(box, bounds, labels)}" if box.restricted else (
        "across the whole space swept" if first else "across the rest of the space swept")
    if kind == "probability":
        average = pct(1 - box.density if below else box.density)
        head = f"{subject} is {'least' if below else 'most'} likely {where}"
        body = (f": there its probability averages {average}; this box holds {pct(box.coverage)} of all such "
                f"{'non-' if below else ''}events" if box.restricted else f": its probability averages {average} there")
    else:
        if share:
            level = f"{'unlikely' if below else 'likely'} ({'<' if below else '≥'} {pct(threshold)})"
        else:
            level = f"{'below' if below else 'at least'} {threshold:g}"
        head = f"{subject} is {level} {where}"
        body = (f"; this box holds {pct(box.coverage)} of such cases, and {pct(box.density)} of the points in it "
                f"are such cases" if box.restricted else f": {pct(box.density)} of its points are such cases")
    extra = f" ({pct(box.mass)} of the points swept{'' if first else ', outside the earlier boxes'})"
    warn = "" if box.meets_min_density else " [below the density asked for: no box is clearly that likely]"
    return head + body + extra + "." + warn


# --- a sweep directory ----------------------------------------------------------------------------

class DiscoveryError(ValueError):
    """The sweep directory cannot be analysed as asked (the message says why)."""


def _read_csv(path: Path) -> list[dict[str, str]]:
    import csv
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _float(text: str | None) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return float("nan")


def load_sweep(directory: Path) -> dict:
    """The design, per-point outcomes and description of a finished sweep directory."""
    from sim.resultfiles import read_json_object
    directory = Path(directory)
    missing = [n for n in ("outcomes.csv", "design.csv", "sensitivity.json") if not (directory / n).is_file()]
    if missing:
        raise DiscoveryError(f"{directory}: not a finished sweep directory (no {', '.join(missing)})")
    sens = read_json_object(directory / "sensitivity.json")  # a damaged file: one message naming it
    design = _read_csv(directory / "design.csv")
    outcomes = _read_csv(directory / "outcomes.csv")
    names = list(sens["factors"])
    if len(design) != len(outcomes):
        raise DiscoveryError(f"{directory}: design.csv and outcomes.csv have different numbers of points")
    x = np.array([[_float(r[n]) for n in names] for r in design], dtype=float)
    return {"directory": directory, "sensitivity": sens, "names": names, "x": x, "outcomes": outcomes}


def _replication_counts(directory: Path, month: float) -> tuple[np.ndarray, np.ndarray] | None:
    """(collapsed within ``month``, replications) per point from replications.csv/.parquet, if kept."""
    points, hits, counts = None, {}, {}
    if (directory / "replications.parquet").is_file():
        try:
            import pyarrow.parquet as pq
        except ImportError:
            return None
        t = pq.read_table(directory / "replications.parquet").to_pydict()
        rows = zip(t["point"], t["collapsed"], t["months_to_collapse"])
    elif (directory / "replications.csv").is_file():
        rows = ((int(r["point"]), int(r["collapsed"]), float(r["months_to_collapse"]))
                for r in _read_csv(directory / "replications.csv"))
    else:
        return None
    for p, c, mo in rows:
        counts[p] = counts.get(p, 0) + 1
        hits[p] = hits.get(p, 0) + int(bool(c) and mo <= month + 1e-9)
    points = max(counts) + 1 if counts else 0
    k = np.array([hits.get(p, np.nan) for p in range(points)], dtype=float)
    n = np.array([counts.get(p, np.nan) for p in range(points)], dtype=float)
    return k, n


def discover(sweep: dict, *, outcome: str | None = None, threshold: float = 0.5, below: bool = False,
             kind: str = "likely", min_density: float = 0.8, max_boxes: int = 3, peel_alpha: float = 0.05,
             paste_alpha: float = 0.05, mass_min: float = 0.05) -> dict:
    """Scenario discovery on a loaded sweep (:func:`load_sweep`): the JSON-ready result."""
    from sim.experiment import outcome_column
    sens, names, x = sweep["sensitivity"], sweep["names"], sweep["x"]
    listed = list(sens.get("outcomes", {}))
    horizon = float(sens["horizon_months"])
    n_reps = int(sens["replications_per_point"])
    if outcome is None:
        outcome = next((o for o in ("p_collapse_by_24",) if o in listed), None) or \
            next((o for o in listed if o.startswith("p_collapse")), None) or "p_collapse"
    by_column = {outcome_column(o): o for o in listed}
    outcome = by_column.get(outcome, outcome)
    column = outcome_column(outcome)
    rows = sweep["outcomes"]
    ok = np.array([r.get("status") == "ok" for r in rows])
    phrase, share = outcome_phrase(outcome, horizon)
    trials, source = None, "outcomes.csv"
    if column in (rows[0] if rows else {}):
        est = np.array([_float(r[column]) for r in rows])
        low = np.array([_float(r.get(f"{column}_ci_low")) for r in rows])
        high = np.array([_float(r.get(f"{column}_ci_high")) for r in rows])
        if outcome.startswith("p_collapse") or outcome.startswith("p_initiated_by:"):
            trials = n_reps
    else:
        month = None
        if outcome.startswith("p_collapse_by_"):
            try:
                month = float(outcome.removeprefix("p_collapse_by_"))
            except ValueError:
                month = None
        counts = _replication_counts(sweep["directory"], month) if month is not None and month <= horizon else None
        if counts is None or counts[0].size != len(rows):
            raise DiscoveryError(
                f"{sweep['directory']}: the sweep has no outcome '{outcome}' (it has {', '.join(listed)}); "
                f"P(collapse within T) for another T needs the per-replication rows (keep_replications = true) "
                f"and T at most the horizon ({horizon:g} months)")
        k, n = counts
        est, trials, source = k / n, n, "replications"
        low = high = None
    if kind == "probability" and not share:
        raise DiscoveryError(f"--label probability needs an outcome that is a share; {outcome} is not")
    labels_all = soft_labels(est, threshold=threshold, trials=trials, ci_low=low, ci_high=high, kind=kind,
                             below=below)
    use = ok & np.isfinite(labels_all) & np.all(np.isfinite(x), axis=1)
    if use.sum() < 2:
        raise DiscoveryError(f"{sweep['directory']}: fewer than 2 points with a defined {outcome}")
    if not labels_all[use].sum() > 1e-9:
        where = "below" if below else "at least"
        raise DiscoveryError(f"{sweep['directory']}: no point has {outcome} {where} {threshold:g}: nothing to "
                             f"discover (try another --threshold)")
    factors = sens["factors"]
    bounds = np.array([[float(factors[n].get("low", x[use, j].min())), float(factors[n].get("high", x[use, j].max()))]
                       for j, n in enumerate(names)])
    bounds[:, 0] = np.minimum(bounds[:, 0], x[use].min(axis=0))
    bounds[:, 1] = np.maximum(bounds[:, 1], x[use].max(axis=0))
    res = prim(x[use], labels_all[use], bounds=bounds, peel_alpha=peel_alpha, paste_alpha=paste_alpha,
               mass_min=mass_min, min_density=min_density, max_boxes=max_boxes)
    readable = [n.replace("_", " ") for n in names]
    boxes = []
    for b_i, box in enumerate(res.boxes):
        boxes.append({
            "box": b_i + 1,
            "limits": {n: {"low": float(box.limits[j, 0]), "high": float(box.limits[j, 1]),
                           "restricted": j in box.restricted} for j, n in enumerate(names)},
            "restricted_factors": [names[j] for j in box.restricted],
            "coverage": box.coverage, "density": box.density, "mass": box.mass, "points": box.n_points,
            "meets_min_density": box.meets_min_density,
            "restrictions": [{"factor": names[r["factor"]], "density_without": r["density_without"],
                              "quasi_p": r["quasi_p"]} for r in box.restrictions],
            "sentence": sentence(box, res.bounds, readable, phrase=phrase, share=share, threshold=threshold,
                                 below=below, kind=kind, first=b_i == 0),
            "chosen_step": box.chosen_step,
            "trajectory": [{"step": s_i, "phase": s.phase, "coverage": s.coverage, "density": s.density,
                            "mass": s.mass, "points": s.n_points,
                            "restricted_factors": [names[j] for j in s.restricted(res.bounds)],
                            "limits": {n: [float(s.limits[j, 0]), float(s.limits[j, 1])] for j, n in enumerate(names)}}
                           for s_i, s in enumerate(box.trajectory)],
        })
    return {
        "sweep": str(sweep["directory"]), "experiment": sens.get("experiment"),
        "outcome": outcome, "column": column, "outcome_phrase": phrase, "source": source,
        "label": {"kind": kind, "threshold": threshold if kind == "likely" else None, "below": below,
                  "method": ("Jeffreys Beta posterior P(true share >= threshold) per point" if kind == "likely" and
                             trials is not None else "normal approximation from the 95% CI" if kind == "likely"
                             else "the point's estimate as its weight")},
        "horizon_months": horizon, "replications_per_point": n_reps,
        "factors": {n: {"path": factors[n].get("path"), "low": float(res.bounds[j, 0]), "high": float(res.bounds[j, 1])}
                    for j, n in enumerate(names)},
        "points": int(len(rows)), "points_used": int(use.sum()),
        "cases_of_interest": res.total, "base_density": res.total / res.n_points,
        "options": res.options, "boxes": boxes, "sentences": [b["sentence"] for b in boxes],
        "_arrays": {"x": x[use], "labels": labels_all[use], "names": names},
    }


def trajectory_rows(result: dict) -> tuple[list[str], list[list]]:
    """discovery_trajectory.csv: one row per box and step."""
    names = list(result["factors"])
    header = ["box", "step", "phase", "coverage", "density", "mass", "n_restricted", "chosen",
              *[f"{n}_{side}" for n in names for side in ("low", "high")]]
    rows = []
    for b in result["boxes"]:
        for s in b["trajectory"]:
            rows.append([b["box"], s["step"], s["phase"], s["coverage"], s["density"], s["mass"],
                         len(s["restricted_factors"]), int(s["step"] == b["chosen_step"]),
                         *[v for n in names for v in s["limits"][n]]])
    return header, rows


def html_page(result: dict, figures: dict[str, str]) -> str:
    """discovery.html: a small self-contained page (figures inline as SVG), to be folded into reports."""
    esc = html.escape
    pct = lambda v: f"{100 * v:.1f}%"  # noqa: E731
    parts = [f"<section class='discovery' id='discovery'><h2>Where is {esc(result['outcome_phrase'])} "
             f"{'unlikely' if result['label']['below'] else 'likely'}? Scenario discovery</h2>"]
    lab = result["label"]
    parts.append(
        f"<p>PRIM boxes over the {result['points_used']:,} points of the sweep "
        f"<code>{esc(str(result['experiment']))}</code> ({result['replications_per_point']} replications each, "
        f"horizon {result['horizon_months']:g} months). Each point counts as a case of interest with a weight: "
        f"{esc(lab['method'])}"
        + (f", threshold {lab['threshold']:g}" if lab["threshold"] is not None else "")
        + f". Cases of interest: {result['cases_of_interest']:.1f} of {result['points_used']:,} points "
        f"({pct(result['base_density'])}).</p><ul class='sentences'>")
    parts += [f"<li>{esc(s)}</li>" for s in result["sentences"]]
    parts.append("</ul>")
    for b in result["boxes"]:
        rows = "".join(
            f"<tr><td><code>{esc(n)}</code></td><td>{lim['low']:.3g}</td><td>{lim['high']:.3g}</td>"
            f"<td>{'yes' if lim['restricted'] else ''}</td></tr>" for n, lim in b["limits"].items())
        sig = "".join(f"<li><code>{esc(r['factor'])}</code>: density without this limit "
                      f"{pct(r['density_without'])}, quasi-p {r['quasi_p']:.2g}</li>" for r in b["restrictions"])
        parts.append(
            f"<h3>Box {b['box']}</h3><p>coverage {pct(b['coverage'])}, density {pct(b['density'])}, "
            f"mass {pct(b['mass'])} ({b['points']} points)</p><table><tr><th>factor</th><th>low</th><th>high</th>"
            f"<th>restricted</th></tr>{rows}</table>" + (f"<ul>{sig}</ul>" if sig else ""))
    for alt, svg in figures.items():
        parts.append(f"<figure role='img' aria-label='{esc(alt)}'>{svg}</figure>")
    parts.append("</section>")
    body = "".join(parts)
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Scenario discovery: "
            f"{esc(str(result['experiment']))}</title><style>body{{font-family:sans-serif;max-width:60em;margin:auto;"
            "padding:1em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em}"
            f"figure svg{{max-width:100%;height:auto}}</style></head><body>{body}</body></html>\n")


def discover_sweep(directory, *, outcome: str | None = None, threshold: float = 0.5, below: bool = False,
                   kind: str = "likely", min_density: float = 0.8, max_boxes: int = 3, out=None,
                   figures: bool = True) -> dict:
    """Discovery on a sweep directory, written to ``out`` (default ``directory/discovery``):
    discovery.json, discovery_trajectory.csv, discovery_tradeoff.png (and discovery_boxes.png),
    discovery.html, datadictionary.csv. Returns what discovery.json holds, plus ``directory``."""
    from sim.scenario import InputError
    from sim.store import save_discovery
    try:
        sweep = load_sweep(Path(directory))
        result = discover(sweep, outcome=outcome, threshold=threshold, below=below, kind=kind,
                          min_density=min_density, max_boxes=max_boxes)
    except DiscoveryError as exc:
        raise InputError([str(exc)]) from None
    except ValueError as exc:
        raise InputError([f"{directory}: {exc}"]) from None
    out = Path(out) if out is not None else Path(directory) / "discovery"
    save_discovery(result, out, figures=figures)
    result.pop("_arrays", None)
    result["directory"] = str(out)
    return result
