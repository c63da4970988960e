"""Global sensitivity analysis: sample -> evaluate -> analyse, as pure functions on arrays.

This module never runs the simulation. A sweep is three separate steps::

    design = sample("sobol", bounds, n=1024, seed=1)         # design.points: (m, d)
    outputs = np.array([evaluate(x) for x in design.points])  # yours: (m,), NaN = failed point
    result = analyse(design, outputs, noise_variance=var)     # indices with bootstrap intervals

Factors are numbered by their column in ``bounds`` (shape (d, 2), one ``[low, high]`` row per
factor); ``result.as_rows(names)`` attaches names for a CSV, ``result.as_dict()`` gives JSON.

Samplers and the analysis each one gets
---------------------------------------
``"grid"``, ``"random"``, ``"latin"``
    Standardised regression coefficients (SRC) by least squares, with R^2 (how much of the output
    variance a linear model explains, so how far the SRC ranking can be trusted).
``"sobol"``
    Saltelli (2010) design and first-order estimator, Jansen (1999) total-effect estimator.
``"morris"``
    Elementary effects on Morris (1991) one-at-a-time trajectories; mu, mu* (Campolongo et al.
    2007) and sigma.

Every analysis reports bootstrap percentile intervals, the number of failed points and of points
used, and ``noise_share`` when the outputs are Monte Carlo estimates (see ``analyse``).

References
----------
- Saltelli, A. et al. (2010). Variance based sensitivity analysis of model output. Design and
  estimator for the total sensitivity index. Comput. Phys. Commun. 181(2), 259-270.
- Jansen, M. J. W. (1999). Analysis of variance designs for model output. Comput. Phys. Commun.
  117(1-2), 35-43.
- Sobol', I. M. and Levitan, Y. L. (1999). On the use of variance reducing multipliers in Monte
  Carlo computations of a global sensitivity index. Comput. Phys. Commun. 117(1), 52-61 (centring).
- Morris, M. D. (1991). Factorial sampling plans for preliminary computational experiments.
  Technometrics 33(2), 161-174.
- Campolongo, F., Cariboni, J. and Saltelli, A. (2007). An effective screening design for
  sensitivity analysis of large models. Environ. Model. Softw. 22(10), 1509-1518.
- Saltelli, A. et al. (2008). Global Sensitivity Analysis: The Primer, ch. 1.2.5 (SRC).
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Sequence

import numpy as np

__all__ = ["SAMPLERS", "Design", "SensitivityResult", "analyse", "sample"]

SAMPLERS = ("grid", "random", "latin", "sobol", "morris")
MAX_GRID_POINTS = 10_000_000
_BOOTSTRAP_TAG = 0x53454E53  # "SENS": the bootstrap stream is its own child of the analysis seed
_BOOTSTRAP_CHUNK = 1 << 22   # resampled rows held in memory at once


def _qmc():
    """scipy.stats.qmc and the name of its engines' generator argument (``rng`` from scipy 1.15, ``seed``
    before). Imported here: reading or validating an experiment need not import scipy.stats (slow)."""
    from scipy.stats import qmc
    return qmc, ("rng" if "rng" in inspect.signature(qmc.Sobol).parameters else "seed")


def _scale(unit: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Points of the unit cube in factor units, computed as ``scipy.stats.qmc.scale`` computes them."""
    lower, upper = np.asarray(bounds[:, 0], dtype=float), np.asarray(bounds[:, 1], dtype=float)
    return unit * (upper - lower) + lower


def _child_generator(rng: np.random.Generator) -> np.random.Generator:
    """A generator on the next child of ``rng``'s seed sequence, as scipy.stats.qmc's engines make their own."""
    bit = rng.bit_generator
    return np.random.Generator(type(bit)(bit.seed_seq.spawn(1)[0]))


def _latin_hypercube(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """``scipy.stats.qmc.LatinHypercube(d, rng=rng).random(n)`` (scrambled, strength 1, no optimisation)
    written out, the same numbers (a test compares them), so that a Latin-hypercube sweep need not import
    scipy.stats: about 0.7 s before the first point could run. Like scipy's engine, it draws from a child of
    ``rng``'s seed sequence: one uniform per cell, then one shuffle of the strata per factor."""
    child = _child_generator(rng)
    jitter = child.uniform(size=(n, d))
    strata = np.tile(np.arange(1, n + 1), (d, 1))
    for i in range(d):
        child.shuffle(strata[i, :])
    return (strata.T - jitter) / n


SOBOL_BITS = 30      # scipy.stats.qmc.Sobol's default: points are multiples of 2**-30


def _sobol_direction_numbers(dim: int):
    """The first ``dim`` primitive polynomials and initial direction numbers of Joe & Kuo's table (search
    criterion D(6), [@joe-kuo-2008]), read from the file scipy.stats ships them in, without importing
    scipy.stats; None where that file is not found (the caller then uses scipy.stats.qmc itself)."""
    import importlib.util
    from pathlib import Path
    spec = importlib.util.find_spec("scipy")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "stats" / "_sobol_direction_numbers.npz"
    if not path.is_file():
        return None
    with np.load(path) as table:
        poly, vinit = table["poly"], table["vinit"]
        if poly.shape[0] < dim:
            return None
        return [int(v) for v in poly[:dim]], vinit[:dim].astype(np.int64)


def _sobol_directions(poly: list[int], vinit: np.ndarray, bits: int) -> np.ndarray:
    """Direction numbers, (dim, bits), scaled so that column ``j`` carries bit ``bits - 1 - j`` first
    (Bratley & Fox's recurrence, [@bratley-fox-1988]; the first dimension all ones)."""
    out = np.zeros((len(poly), bits), dtype=np.int64)
    out[0, :] = 1
    for dim, p in enumerate(poly[1:], start=1):
        degree = p.bit_length() - 1
        row = [int(v) for v in vinit[dim, :degree]]
        for j in range(degree, bits):
            value = row[j - degree]
            for k in range(degree):
                if (p >> (degree - 1 - k)) & 1:
                    value ^= row[j - k - 1] << (k + 1)
            row.append(value)
        out[dim, :] = row[:bits]
    return out << np.arange(bits - 1, -1, -1, dtype=np.int64)


def _sobol_unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray | None:
    """``scipy.stats.qmc.Sobol(dim, scramble=True, rng=rng).random_base2(log2 n)`` written out: the same numbers
    (a test compares them), so that a Sobol sweep need not import scipy.stats, about a second before its first
    point could run. Like scipy's engine it draws from a child of ``rng``'s seed sequence: a random digital
    shift, then a random lower-triangular binary matrix per dimension (linear matrix scrambling, [@matousek-1998])
    applied to the direction numbers; point ``i`` is the shift XOR the scrambled directions of the bits of
    ``i``'s Gray code. None where the direction numbers cannot be read."""
    table = _sobol_direction_numbers(dim)
    if table is None:
        return None
    bits = SOBOL_BITS
    directions = _sobol_directions(*table, bits)
    child = _child_generator(rng)
    shift_bits = child.integers(0, 2, size=(dim, bits), dtype=np.uint32).astype(np.int64)
    shift = shift_bits @ (np.int64(1) << np.arange(bits, dtype=np.int64))
    lower = np.tril(child.integers(0, 2, size=(dim, bits, bits), dtype=np.uint32).astype(np.int64))
    lower[:, np.arange(bits), np.arange(bits)] = 1
    # scrambled bit (bits - 1 - p) of a direction = parity of (row p of its dimension's matrix, read with its
    # first entry as the highest bit) AND the direction
    positions = np.arange(bits, dtype=np.int64)
    direction_bits = (directions[:, :, None] >> positions) & 1                   # (dim, bits, k)
    row_bits = lower[:, :, ::-1]                                                  # (dim, p, k): bit k of row p
    parity = np.einsum("djk,dpk->djp", direction_bits, row_bits) & 1
    scrambled = parity @ (np.int64(1) << (bits - 1 - positions))                  # (dim, bits)
    index = np.arange(n, dtype=np.int64)
    gray = index ^ (index >> 1)
    quasi = np.broadcast_to(shift, (n, dim)).copy()
    for b in range((n - 1).bit_length()):
        quasi ^= ((gray >> b) & 1)[:, None] * scrambled[:, b][None, :]
    return quasi.astype(np.uint32) * (1.0 / 2 ** bits)


# --- design ----------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Design:
    """Points to evaluate and the structure the analysis needs. Arrays are read-only.

    Attributes
    ----------
    sampler : str
        One of ``SAMPLERS``.
    bounds : ndarray, shape (d, 2)
        ``[low, high]`` per factor.
    points : ndarray, shape (m, d)
        Points in factor units; evaluate the model at each row, in order.
    n : int
        The ``n`` passed to ``sample``: points per factor (grid), points (random, latin), base rows
        (sobol) or trajectories (morris).
    seed : int
    groups : ndarray of int, shape (n_groups, group_size), or None
        Row indices of ``points`` that are analysed together and dropped together when one fails.
        Sobol: group ``j`` is ``[A_j, B_j, AB_1j, ..., AB_dj]``. Morris: group ``t`` is the ``d + 1``
        rows of trajectory ``t`` in walking order. None for grid, random and latin.
    levels : int or None
        Morris grid levels ``p``.
    delta : float or None
        Morris step ``p / (2 (p - 1))`` on the normalised [0, 1] scale.
    step_factor : ndarray of int, shape (n, d), or None
        Morris: factor moved at step ``k`` of trajectory ``t`` (from row ``k`` to row ``k + 1``).
    step_delta : ndarray, shape (n, d), or None
        Morris: signed size of that move on the normalised scale (``+-delta``).
    grid_levels : tuple of int or None
        Grid: values per factor.
    """

    sampler: str
    bounds: np.ndarray
    points: np.ndarray
    n: int
    seed: int
    groups: np.ndarray | None = None
    levels: int | None = None
    delta: float | None = None
    step_factor: np.ndarray | None = None
    step_delta: np.ndarray | None = None
    grid_levels: tuple[int, ...] | None = None

    def __post_init__(self):
        for name in ("bounds", "points", "groups", "step_factor", "step_delta"):
            arr = getattr(self, name)
            if arr is not None:
                arr.flags.writeable = False

    @property
    def d(self) -> int:
        return self.bounds.shape[0]

    @property
    def m(self) -> int:
        return self.points.shape[0]


def sample(sampler: str, bounds: np.ndarray, *, n: int, seed: int, levels: int = 4,
           grid_levels: list[int] | None = None) -> Design:
    """Points at which to evaluate a model for a sensitivity analysis.

    Parameters
    ----------
    sampler : {"grid", "random", "latin", "sobol", "morris"}
    bounds : array_like, shape (d, 2)
        ``[low, high]`` per factor, finite, ``low < high``.
    n : int
        - grid: values per factor (so ``n**d`` points) unless ``grid_levels`` is given, in which
          case ``n`` is not used;
        - random, latin: number of points;
        - sobol: base rows of A and B, a power of 2 (at least 2); ``n * (d + 2)`` points;
        - morris: number of trajectories r (at least 2); ``n * (d + 1)`` points.
    seed : int
        Non-negative root seed; the generator is ``default_rng(SeedSequence(seed))``. The grid is
        deterministic and does not use it.
    levels : int
        Morris only: even number of grid levels p >= 2 on each factor's range.
    grid_levels : list of int, length d, optional
        Grid only: values per factor (each >= 2), evenly spaced and including both bounds.

    Returns
    -------
    Design
        ``points`` of shape (m, d) in factor units, with the block or trajectory structure.

    Notes
    -----
    Row orders (``m`` rows in all):

    - grid: full factorial, the last factor varying fastest (``itertools.product`` order).
    - random: ``n`` i.i.d. uniform points.
    - latin: ``scipy.stats.qmc.LatinHypercube(d)``, ``n`` points.
    - sobol: blocks ``[A; B; AB_1; ...; AB_d]`` of ``n`` rows each, so block ``k`` is rows
      ``k*n .. k*n + n - 1``. A and B are the first and last ``d`` columns of ``2**log2(n)`` points
      of a scrambled ``scipy.stats.qmc.Sobol(2 d)``; ``AB_i`` is A with column ``i`` taken from B.
    - morris: trajectory ``t`` is rows ``t*(d+1) .. t*(d+1) + d``. Morris (1991) construction on
      the grid ``{0, 1/(p-1), ..., 1}``: a random base point from ``{0, ..., 1 - delta}``, then one
      factor at a time, in random order, moves by ``+delta`` or ``-delta`` (``delta = p/(2(p-1))``),
      so each trajectory moves every factor exactly once. Trajectories are drawn independently
      (Campolongo et al. 2007's selection of well-spread trajectories is not applied).
    """
    if not isinstance(sampler, str) or sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {', '.join(map(repr, SAMPLERS))}; got {sampler!r}")
    bounds = _check_bounds(bounds)
    d = bounds.shape[0]
    n = _check_int(n, "n", minimum=1)
    seed = _check_int(seed, "seed", minimum=0)
    if grid_levels is not None and sampler != "grid":
        raise ValueError(f"grid_levels is only used by the grid sampler, not {sampler!r}")
    rng = np.random.default_rng(np.random.SeedSequence(seed))

    if sampler == "grid":
        if grid_levels is None:
            n = _check_int(n, "n", minimum=2)
            counts = (n,) * d
        else:
            if np.ndim(grid_levels) != 1 or len(grid_levels) != d:
                raise ValueError(f"grid_levels must have one entry per factor ({d}); got {grid_levels!r}")
            counts = tuple(_check_int(k, "grid_levels entries", minimum=2) for k in grid_levels)
        total = math.prod(counts)
        if total > MAX_GRID_POINTS:
            which = "n" if grid_levels is None else "grid_levels"
            raise ValueError(f"{which} gives a grid of {total} points, more than {MAX_GRID_POINTS}")
        axes = [np.linspace(lo, hi, k) for (lo, hi), k in zip(bounds, counts)]
        mesh = np.meshgrid(*axes, indexing="ij")
        points = np.stack([g.ravel() for g in mesh], axis=1)
        return Design("grid", bounds, points, n, seed, grid_levels=counts)

    if sampler == "random":
        return Design("random", bounds, _scale(rng.random((n, d)), bounds), n, seed)

    if sampler == "latin":
        return Design("latin", bounds, _scale(_latin_hypercube(rng, n, d), bounds), n, seed)

    if sampler == "sobol":
        if n < 2 or n & (n - 1):
            raise ValueError(f"n must be a power of 2 (at least 2) for the sobol sampler; got {n}")
        base = _sobol_unit(rng, n, 2 * d)
        if base is None:     # scipy's table not where it used to be: its own engine, whatever the import costs
            qmc, qmc_rng_kw = _qmc()
            base = qmc.Sobol(2 * d, scramble=True, **{qmc_rng_kw: rng}).random_base2(n.bit_length() - 1)
        a, b = base[:, :d], base[:, d:]
        blocks = [a, b]
        for i in range(d):
            ab = a.copy()
            ab[:, i] = b[:, i]
            blocks.append(ab)
        unit = np.concatenate(blocks)
        points = _scale(unit, bounds)
        groups = np.arange(n)[:, None] + n * np.arange(d + 2)[None, :]
        return Design("sobol", bounds, points, n, seed, groups=groups)

    # morris
    levels = _check_int(levels, "levels", minimum=2)
    if levels % 2:
        raise ValueError(f"levels must be even so that the Morris step lands on the grid; got {levels}")
    n = _check_int(n, "n", minimum=2)
    delta = levels / (2 * (levels - 1))
    span = bounds[:, 1] - bounds[:, 0]
    unit = _morris_trajectories(rng, r=n, d=d, levels=levels, delta=delta)  # (n, d+1, d)
    points = _scale(unit, bounds).reshape(n * (d + 1), d)
    steps = np.diff(points.reshape(n, d + 1, d), axis=1) / span      # (n, d, d), one nonzero a row
    step_factor = np.argmax(np.abs(steps), axis=2)
    step_delta = np.take_along_axis(steps, step_factor[..., None], axis=2)[..., 0]
    groups = np.arange(n * (d + 1)).reshape(n, d + 1)
    return Design("morris", bounds, points, n, seed, groups=groups, levels=levels, delta=delta,
                  step_factor=step_factor, step_delta=step_delta)


def _morris_trajectories(rng: np.random.Generator, *, r: int, d: int, levels: int,
                         delta: float) -> np.ndarray:
    """Morris (1991) B* = (J x* + delta/2 [(2B - J) D* + J]) P*, for r trajectories: (r, d+1, d)."""
    lower = np.tril(np.ones((d + 1, d)), k=-1)                             # B: row k has k ones
    base = rng.integers(0, levels // 2, size=(r, 1, d)) / (levels - 1)     # x* <= 1 - delta
    signs = rng.choice(np.array([-1.0, 1.0]), size=(r, 1, d))              # D*
    walk = base + (delta / 2) * ((2 * lower - 1) * signs + 1)              # (r, d+1, d)
    perm = np.argsort(rng.random((r, 1, d)), axis=2)                       # P*: random factor order
    walk = np.take_along_axis(walk, np.broadcast_to(perm, walk.shape), axis=2)
    return np.clip(walk, 0.0, 1.0)


# --- result ----------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class SensitivityResult:
    """Sensitivity indices, one row per factor, and what they rest on.

    Attributes
    ----------
    method : {"sobol", "morris", "src"}
    sampler : str
    factors : tuple of dict
        One row per factor, ``{"factor": i, <index columns>}``:

        - sobol: ``S1, S1_ci_low, S1_ci_high, ST, ST_ci_low, ST_ci_high``
        - morris: ``mu, mu_star, mu_star_ci_low, mu_star_ci_high, sigma, ee_noise_share``
        - src: ``SRC, SRC_ci_low, SRC_ci_high``
    ranking : tuple of int
        Factors from most to least influential: by ST (sobol), mu* (morris) or |SRC| (src).
    n_points : int
        Rows in the design.
    n_failed_points : int
        Outputs that were NaN.
    n_used : int
        Outputs that entered the estimates (a failed point drops its whole group).
    n_groups_used : int or None
        Sobol base rows or Morris trajectories used; None for src.
    output_variance : float
        Variance of the outputs used (sobol: of the A and B rows, the ``V`` of the estimators).
    noise_share : float or None
        ``mean(noise_variance) / output_variance`` over the same points; None without
        ``noise_variance``.
    r_squared : float or None
        src only: R^2 of the linear fit.
    delta : float or None
        morris only: the step on the normalised scale.
    confidence, n_boot : the bootstrap settings.
    notes : tuple of str
        Conditions a reader must know (e.g. noise larger than the output variance).
    """

    method: str
    sampler: str
    factors: tuple[dict, ...]
    ranking: tuple[int, ...]
    n_points: int
    n_failed_points: int
    n_used: int
    n_groups_used: int | None
    output_variance: float
    noise_share: float | None
    r_squared: float | None
    delta: float | None
    confidence: float
    n_boot: int
    notes: tuple[str, ...] = field(default_factory=tuple)

    def column(self, name: str) -> np.ndarray:
        """One index for every factor, as a float array (None becomes NaN)."""
        if name not in self.factors[0]:
            raise ValueError(f"name must be one of {list(self.factors[0])}; got {name!r}")
        return np.array([np.nan if row[name] is None else row[name] for row in self.factors], dtype=float)

    def as_rows(self, names: Sequence[str] | None = None) -> list[dict]:
        """Tidy rows for a CSV: method, factor (and name when given), then the indices."""
        if names is not None and len(names) != len(self.factors):
            raise ValueError(f"names must have one entry per factor ({len(self.factors)}); got {len(names)}")
        rows = []
        for row in self.factors:
            out = {"method": self.method, "factor": row["factor"]}
            if names is not None:
                out["name"] = names[row["factor"]]
            out.update((k, v) for k, v in row.items() if k != "factor")
            rows.append(out)
        return rows

    def as_dict(self, names: Sequence[str] | None = None) -> dict:
        """JSON-ready: metadata, ranking and the factor rows; non-finite numbers become None."""
        return {
            "method": self.method, "sampler": self.sampler, "ranking": list(self.ranking),
            "n_points": self.n_points, "n_failed_points": self.n_failed_points,
            "n_used": self.n_used, "n_groups_used": self.n_groups_used,
            "output_variance": _finite_or_none(self.output_variance),
            "noise_share": _finite_or_none(self.noise_share),
            "r_squared": _finite_or_none(self.r_squared), "delta": self.delta,
            "confidence": self.confidence, "n_boot": self.n_boot, "notes": list(self.notes),
            "factors": [{k: _finite_or_none(v) if isinstance(v, float) else v for k, v in row.items()
                         if k != "method"} for row in self.as_rows(names)],
        }


def _finite_or_none(x):
    return float(x) if x is not None and np.isfinite(x) else None


# --- analysis --------------------------------------------------------------------------------

def analyse(design: Design, outputs: np.ndarray, *, n_boot: int = 500, seed: int = 0,
            noise_variance: np.ndarray | None = None, confidence: float = 0.95,
            correct_noise: bool = True) -> SensitivityResult:
    r"""Sensitivity indices from a design and the model outputs at its points.

    Parameters
    ----------
    design : Design
        From ``sample``.
    outputs : array_like, shape (m,)
        Model output at ``design.points[k]``; NaN marks a failed point (infinities are an error).
        A failed point drops its whole group: a Sobol base row ``j`` (rows ``A_j``, ``B_j`` and every
        ``AB_ij``) or a Morris trajectory. For grid, random and latin only the point is dropped.
    n_boot : int
        Bootstrap resamples for the percentile intervals (0: intervals are NaN). Sobol resamples
        base rows, Morris trajectories, SRC points.
    seed : int
        Non-negative seed of the bootstrap.
    noise_variance : array_like, shape (m,), optional
        Variance of each output when outputs are Monte Carlo estimates (e.g. ``p (1 - p) / reps``
        for a probability from ``reps`` replications). Noise is assumed independent across points
        and of mean zero.
    confidence : float
        Level of the bootstrap intervals, in (0, 1).
    correct_noise : bool
        Remove ``noise_variance`` from the Sobol estimators (below). False where it is only an upper bound
        on the noise (e.g. replications spread evenly over parameter draws, ``sim.sweep``): subtracting it
        would over-correct, so the indices stay uncorrected and ``noise_share`` bounds their bias.

    Returns
    -------
    SensitivityResult

    Notes
    -----
    **Sobol** (``n`` base rows, outputs ``yA``, ``yB``, ``yAB_i``, centred by the mean of ``yA`` and
    ``yB`` as in Sobol' & Levitan 1999 and ``scipy.stats.sobol_indices``)::

        V    = var(concat(yA, yB))                         (ddof = 0)
        S1_i = mean(yB * (yAB_i - yA)) / V                 Saltelli et al. (2010), Table 2 (b)
        ST_i = mean((yA - yAB_i)**2) / (2 V)               Jansen (1999); Saltelli (2010) Table 2 (f)

    Without noise these equal ``scipy.stats.sobol_indices`` on the same evaluations.

    *Noise correction.* With ``y = f(x) + e``, ``E[e] = 0``, ``var(e) = s^2`` per point and ``e``
    independent across points and of ``x``:

    - ``E[var(y)] = var(f) + mean(s^2)``, so ``V_f = V - mean(s_A^2, s_B^2)`` over the A and B rows.
    - ``E[(yA - yAB_i)^2] / 2 = E[(fA - fAB_i)^2] / 2 + (s_A^2 + s_ABi^2) / 2``, since the cross
      term ``2 (fA - fAB_i)(eA - eAB_i)`` has mean zero; so the ST numerator loses
      ``mean(s_A^2 + s_ABi^2) / 2``.
    - ``yB (yAB_i - yA) = fB (fAB_i - fA) + fB (eAB_i - eA) + eB (fAB_i - fA) + eB (eAB_i - eA)``:
      the three noise terms have mean zero (``eB`` is independent of ``eAB_i`` and ``eA`` as they
      are different points), so the S1 numerator is unbiased and only ``V`` is corrected.

    Uncorrected, noise biases S1 down by the factor ``V_f / (V_f + s^2)`` and ST up. If the
    corrected variance is not positive the indices are NaN and a note says why.

    **Morris**: the elementary effect of the factor moved at a step is
    ``EE = (y[k+1] - y[k]) / step``, where ``step = (x[k+1] - x[k]) / (high - low)`` is ``+-delta``
    on the normalised scale. So EE, ``mu = mean(EE)``, ``mu* = mean(|EE|)`` (Campolongo et al.
    2007) and ``sigma = std(EE, ddof=1)`` (Morris 1991) are in output units per unit of normalised
    factor range: the change in output over a factor's whole range if it acted linearly. For a
    linear model ``y = sum c_i x_i``, ``mu_i = c_i (high_i - low_i)`` and ``sigma_i = 0``.
    ``mu*`` has a bootstrap interval over trajectories. With noise, each EE carries noise of
    variance ``(s_k^2 + s_{k+1}^2) / step^2`` (``2 s^2 / delta^2`` for equal noise);
    ``ee_noise_share`` is its mean over the trajectories divided by ``mean(EE^2)``: the share of the
    mean squared effect that noise alone would produce. It inflates sigma and mu* when near 1.

    **SRC** (grid, random, latin): least squares ``y ~ b0 + sum b_i x_i`` (``numpy.linalg.lstsq``),
    ``SRC_i = b_i std(x_i) / std(y)``, and ``R^2``. For a near-linear model (R^2 near 1) and
    independent factors, ``SRC_i^2`` is the share of variance due to factor i (Saltelli et al. 2008).
    Noise lowers R^2 to at most ``1 - noise_share``.

    ``noise_share = mean(noise_variance) / output_variance`` over the points used (Sobol: the A and
    B rows) is always reported when ``noise_variance`` is given.
    """
    if not isinstance(design, Design):
        raise ValueError(f"design must be a Design from sample(); got {type(design).__name__}")
    m = design.m
    y = _check_array(outputs, "outputs", m)
    if np.isinf(y).any():
        raise ValueError("outputs must be finite or NaN (NaN marks a failed point); found inf")
    s2 = None
    if noise_variance is not None:
        s2 = _check_array(noise_variance, "noise_variance", m)
        ok = ~np.isnan(y)
        if not np.all(np.isfinite(s2[ok])) or np.any(s2[ok] < 0):
            raise ValueError("noise_variance must be finite and >= 0 wherever outputs is not NaN")
    n_boot = _check_int(n_boot, "n_boot", minimum=0)
    seed = _check_int(seed, "seed", minimum=0)
    if isinstance(confidence, bool) or not isinstance(confidence, Real) or not 0 < confidence < 1:
        raise ValueError(f"confidence must be a number in (0, 1); got {confidence!r}")
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_BOOTSTRAP_TAG,)))
    common = dict(sampler=design.sampler, n_points=m, n_failed_points=int(np.isnan(y).sum()),
                  confidence=float(confidence), n_boot=n_boot)

    if design.sampler == "sobol":
        return _analyse_sobol(design, y, s2, rng, common, correct_noise)
    if design.sampler == "morris":
        return _analyse_morris(design, y, s2, rng, common)
    return _analyse_src(design, y, s2, rng, common)


def _complete_groups(design: Design, y: np.ndarray) -> np.ndarray:
    """Mask of the groups (rows of design.groups) with no failed point; at least two are needed."""
    ok = ~np.isnan(y)[design.groups].any(axis=1)
    if ok.sum() < 2:
        raise ValueError(f"outputs has fewer than 2 complete groups without NaN ({int(ok.sum())} of "
                         f"{design.groups.shape[0]}); no indices can be estimated")
    return ok


def _bootstrap_means(stats: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Column means of ``stats`` (n, k) over n_boot resamples of its rows: (n_boot, k)."""
    n = stats.shape[0]
    out = np.empty((n_boot, stats.shape[1]))
    chunk = max(1, _BOOTSTRAP_CHUNK // n)
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        idx = rng.integers(0, n, size=(b, n)) + n * np.arange(b)[:, None]
        counts = np.bincount(idx.ravel(), minlength=b * n).reshape(b, n)
        out[start:start + b] = counts @ stats / n
    return out


def _percentile_ci(boot: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of each column of boot (n_boot, k).

    NaN when there is no resample, or when any resample of that column is NaN (undefined index).
    """
    if boot.shape[0] == 0:
        nan = np.full(boot.shape[1], np.nan)
        return nan, nan.copy()
    alpha = (1 - confidence) / 2
    low, high = np.quantile(boot, [alpha, 1 - alpha], axis=0)
    return low, high


def _analyse_sobol(design, y, s2, rng, common, correct_noise: bool = True) -> SensitivityResult:
    d = design.d
    groups = design.groups[_complete_groups(design, y)]
    n = groups.shape[0]
    yg = y[groups]                                           # (n, d+2): A, B, AB_1..AB_d
    yg = yg - yg[:, :2].mean()                               # centring (Sobol' & Levitan 1999)
    ya, yb, yab = yg[:, 0], yg[:, 1], yg[:, 2:]
    cols = [ya, ya ** 2, yb, yb ** 2, yb[:, None] * (yab - ya[:, None]), (ya[:, None] - yab) ** 2]
    if s2 is not None:
        sg = s2[groups]
        cols += [(sg[:, 0] + sg[:, 1]) / 2, (sg[:, [0]] + sg[:, 2:]) / 2]
    stats = np.column_stack(cols)                            # per-base-row terms; indices use means

    def indices(means):                                      # means: (..., k)
        v = (means[..., 1] + means[..., 3]) / 2 - ((means[..., 0] + means[..., 2]) / 2) ** 2
        s1_num = means[..., 4:4 + d]
        st_num = means[..., 4 + d:4 + 2 * d] / 2
        v_f = v
        if s2 is not None and correct_noise:
            v_f = v - means[..., 4 + 2 * d]
            st_num = st_num - means[..., 5 + 2 * d:5 + 3 * d]
        with np.errstate(divide="ignore", invalid="ignore"):
            v_ok = np.where(v_f > 0, v_f, np.nan)[..., None]
            return s1_num / v_ok, st_num / v_ok, v, v_f

    s1, st, v, v_f = indices(stats.mean(axis=0))
    b1, bt, _, _ = indices(_bootstrap_means(stats, common["n_boot"], rng))
    s1_lo, s1_hi = _percentile_ci(b1, common["confidence"])
    st_lo, st_hi = _percentile_ci(bt, common["confidence"])
    notes = []
    noise_share = None
    if s2 is not None:
        noise_share = float(stats[:, 4 + 2 * d].mean() / v) if v > 0 else float("nan")
    if not v_f > 0:
        notes.append("output variance is not positive" if s2 is None or not correct_noise else
                     "noise variance is at least the output variance: the corrected variance is "
                     "not positive and the indices are undefined")
    factors = tuple({"factor": i, "S1": float(s1[i]), "S1_ci_low": float(s1_lo[i]),
                     "S1_ci_high": float(s1_hi[i]), "ST": float(st[i]), "ST_ci_low": float(st_lo[i]),
                     "ST_ci_high": float(st_hi[i])} for i in range(d))
    return SensitivityResult(method="sobol", factors=factors, ranking=_rank(st),
                             n_used=int(groups.size), n_groups_used=n, output_variance=float(v),
                             noise_share=noise_share, r_squared=None, delta=None,
                             notes=tuple(notes), **common)


def _analyse_morris(design, y, s2, rng, common) -> SensitivityResult:
    d = design.d
    ok = _complete_groups(design, y)
    groups = design.groups[ok]
    r = groups.shape[0]
    yg = y[groups]                                           # (r, d+1) in walking order
    factor, step = design.step_factor[ok], design.step_delta[ok]
    ee = np.empty((r, d))
    np.put_along_axis(ee, factor, np.diff(yg, axis=1) / step, axis=1)
    abs_ee = np.abs(ee)
    mu, mu_star, sigma = ee.mean(axis=0), abs_ee.mean(axis=0), ee.std(axis=0, ddof=1)
    lo, hi = _percentile_ci(_bootstrap_means(abs_ee, common["n_boot"], rng), common["confidence"])
    v = float(np.var(yg))
    noise_share, ee_share = None, None
    if s2 is not None:
        sg = s2[groups]
        ee_noise = np.empty((r, d))
        np.put_along_axis(ee_noise, factor, (sg[:, :-1] + sg[:, 1:]) / step ** 2, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ee_share = ee_noise.mean(axis=0) / np.mean(ee ** 2, axis=0)
            noise_share = float(sg.mean() / v) if v > 0 else float("nan")
    factors = tuple({"factor": i, "mu": float(mu[i]), "mu_star": float(mu_star[i]),
                     "mu_star_ci_low": float(lo[i]), "mu_star_ci_high": float(hi[i]),
                     "sigma": float(sigma[i]),
                     "ee_noise_share": None if ee_share is None else float(ee_share[i])}
                    for i in range(d))
    return SensitivityResult(method="morris", factors=factors, ranking=_rank(mu_star),
                             n_used=int(groups.size), n_groups_used=r, output_variance=v,
                             noise_share=noise_share, r_squared=None, delta=design.delta, **common)


def _src(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Standardised regression coefficients and R^2 of y ~ 1 + x (intercept by centring)."""
    xc, yc = x - x.mean(axis=0), y - y.mean()
    coef = np.linalg.lstsq(xc, yc, rcond=None)[0]
    sy, ss_tot = yc.std(), float(yc @ yc)
    if not sy > 0:
        return np.full(x.shape[1], np.nan), float("nan")
    resid = yc - xc @ coef
    return coef * xc.std(axis=0) / sy, 1.0 - float(resid @ resid) / ss_tot


SRC_CHUNK_VALUES = 4_000_000   # resample weights held at once (32 MB of float64)


def _src_resampled(x: np.ndarray, y: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``_src(x[i], y[i])[0]`` for each row ``i`` of ``idx``, from the resamples' weighted moments: a resample
    is a weight per point (how often it was drawn), so its centred cross-products are matrix products of the
    weights with the points' products (four matrix products for all resamples instead of one least-squares
    call each). The points are centred on their own means first, which keeps the subtraction of the resample's
    mean accurate. A resample whose centred design is near singular, or whose output does not vary, is fitted
    alone by ``_src`` (minimum-norm coefficients, or NaN), as before. Agrees with ``_src`` to ~1e-13."""
    n_boot, m = idx.shape
    d = x.shape[1]
    xg = x - x.mean(axis=0)
    yg = y - y.mean()
    outer = (xg[:, :, None] * xg[:, None, :]).reshape(m, d * d)
    cross = xg * yg[:, None]
    out = np.empty((n_boot, d))
    step = max(1, SRC_CHUNK_VALUES // max(m, 1))
    for start in range(0, n_boot, step):
        rows = idx[start:start + step]
        b = rows.shape[0]
        w = np.bincount((np.arange(b)[:, None] * m + rows).ravel(), minlength=b * m).reshape(b, m).astype(float)
        sx, sy, y2 = w @ xg, w @ yg, w @ (yg * yg)
        xx = (w @ outer).reshape(b, d, d) - sx[:, :, None] * sx[:, None, :] / m
        xy = w @ cross - sx * sy[:, None] / m
        yy = y2 - sy * sy / m
        var_x = np.diagonal(xx, axis1=1, axis2=2)
        alone = ~(yy > 1e-12 * (y2 + 1e-300)) | ~(var_x.min(axis=1) > 0)
        safe = np.where(alone[:, None, None], np.eye(d), xx)
        alone |= ~(np.linalg.cond(safe) < 1e10)
        safe[alone] = np.eye(d)
        coef = np.linalg.solve(safe, np.where(alone[:, None], 0.0, xy)[..., None])[..., 0]
        block = coef * np.sqrt(np.where(alone[:, None], 1.0, var_x)) / np.sqrt(np.where(alone, 1.0, yy))[:, None]
        for j in np.flatnonzero(alone):
            block[j] = _src(x[rows[j]], y[rows[j]])[0]
        out[start:start + b] = block
    return out


def _analyse_src(design, y, s2, rng, common) -> SensitivityResult:
    d = design.d
    ok = ~np.isnan(y)
    if ok.sum() < d + 2:
        raise ValueError(f"outputs has {int(ok.sum())} non-NaN values; the regression on {d} factors "
                         f"needs at least {d + 2}")
    x, yy = design.points[ok], y[ok]
    src, r2 = _src(x, yy)
    m = yy.size
    # the resamples are drawn one by one, as they always were (the same indices for a seed), then fitted together
    idx = np.stack([rng.integers(0, m, m) for _ in range(common["n_boot"])]) if common["n_boot"] else \
        np.empty((0, m), dtype=np.int64)
    boot = _src_resampled(x, yy, idx)
    lo, hi = _percentile_ci(boot, common["confidence"])
    v = float(np.var(yy))
    noise_share = None
    if s2 is not None:
        noise_share = float(s2[ok].mean() / v) if v > 0 else float("nan")
    notes = () if v > 0 else ("output variance is zero: no coefficients",)
    factors = tuple({"factor": i, "SRC": float(src[i]), "SRC_ci_low": float(lo[i]),
                     "SRC_ci_high": float(hi[i])} for i in range(d))
    return SensitivityResult(method="src", factors=factors, ranking=_rank(np.abs(src)), n_used=m,
                             n_groups_used=None, output_variance=v, noise_share=noise_share,
                             r_squared=r2, delta=None, notes=notes, **common)


def _rank(score: np.ndarray) -> tuple[int, ...]:
    """Factor indices by decreasing score; NaN last; ties keep factor order."""
    key = np.where(np.isnan(score), -np.inf, score)
    return tuple(int(i) for i in np.argsort(-key, kind="stable"))


# --- validation ------------------------------------------------------------------------------

def _check_int(value, name: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be an integer; got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}; got {value}")
    return int(value)


def _check_bounds(bounds) -> np.ndarray:
    try:
        arr = np.array(bounds, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("bounds must be a numeric array of shape (d, 2)") from None
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 1:
        raise ValueError(f"bounds must have shape (d, 2) with d >= 1; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("bounds must be finite")
    bad = np.flatnonzero(arr[:, 0] >= arr[:, 1])
    if bad.size:
        raise ValueError(f"bounds must have low < high for every factor; not for factor(s) {bad.tolist()}")
    return arr


def _check_array(values, name: str, m: int) -> np.ndarray:
    try:
        arr = np.array(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a numeric array of shape ({m},)") from None
    if arr.shape != (m,):
        raise ValueError(f"{name} must have shape ({m},), one value per design point; got {arr.shape}")
    return arr
