"""What each replication draws before it starts: calibrated parameters and the scenario's uncertain settings.

Two sources of doubt besides the dice, kept apart so that results can say which is which:

- **Parameters.** A calibration's posterior is a set of equally weighted draws of the global rates
  (``posterior.csv``, in random order). Replication ``i`` uses parameter group ``j = i mod G``, i.e.
  draw ``j``, with ``G`` the number of draws up to ``MAX_PARAMETER_GROUPS``.
- **Settings.** A scenario may give a starting value, an event's value or an event's month as a
  distribution (``[uncertain]``, ``events.*.set``, ``events.*.month``): the range the text allows.
  Replication ``i`` uses setting group ``k = i mod S`` (``S`` a prime that does not divide ``G``); group
  ``k``'s value of a setting is the distribution's quantile at one uniform drawn for (setting, ``k``) from
  its own stream.

Because G and S are coprime, the pairs (j, k) of replications 0 .. G*S - 1 are all different: the per-group
estimates show how a result varies over parameters (groups j, the settings averaged out) and over settings
(groups k). A replication's draws depend on its index only, never on the run's size or on how replications
are spread over workers; two scenarios run with the same seed and posterior pair replication ``i`` with the
same draws (common random numbers).
"""

from __future__ import annotations

import csv
import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sim.rng import process_key
from sim.schema import Distribution, Scenario

SETTING_TAG = 0x5345  # separates setting draws from every other stream
MAX_PARAMETER_GROUPS = 100
SETTING_GROUPS = (61, 67, 71)   # primes; the first that does not divide G is used


@dataclass(frozen=True)
class PosteriorDraws:
    """Equally weighted draws of global parameters: ``values[j, c]`` is draw j of ``paths[c]``."""

    paths: tuple[str, ...]
    values: np.ndarray
    source: str = ""
    sha256: str = ""

    @property
    def size(self) -> int:
        return int(self.values.shape[0])


def read_posterior(path: str | Path) -> PosteriorDraws:
    """Read a posterior written by ``ceasefire calibrate``: a header of key paths, one row per draw.

    The file must be a regular UTF-8 file of at most ``sim.limits.MAX_DATA_BYTES``, its columns
    ``dynamics.<name>`` parameters (and ``draw``), every row as long as the header and every value a
    finite number in the parameter's range; a ValueError says which line and column otherwise.
    """
    from sim.limits import MAX_DATA_BYTES, FileRefused, read_text
    from sim.params import field_info
    from sim.schema import Dynamics
    path = Path(path)
    try:
        text = read_text(path, MAX_DATA_BYTES)
    except FileRefused as exc:
        raise ValueError(f"{path}: {exc.reason}") from None
    rows = list(csv.reader(text.splitlines()))
    if len(rows) < 2:
        raise ValueError(f"{path}: a posterior needs a header and at least one draw")
    header = rows[0]
    paths = tuple(h for h in header if h != "draw")
    cols = [i for i, h in enumerate(header) if h != "draw"]
    if len(set(paths)) != len(paths):
        raise ValueError(f"{path}: line 1: a column is named twice")
    limits = []
    for name in paths:
        parts = name.split(".")
        if len(parts) != 2 or parts[0] != "dynamics" or parts[1] not in Dynamics.model_fields:
            raise ValueError(f"{path}: line 1: '{name[:80]}' is not a dynamics parameter (dynamics.<name>)")
        info = field_info(Dynamics, parts[1])
        limits.append((info["minimum"], info["maximum"]))
    values = np.empty((len(rows) - 1, len(cols)), dtype=float)
    for n, r in enumerate(rows[1:], start=2):
        if len(r) != len(header):
            raise ValueError(f"{path}: line {n}: {len(r)} values, the header has {len(header)}")
        for c, i in enumerate(cols):
            try:
                v = float(r[i])
            except ValueError:
                raise ValueError(f"{path}: line {n}: {paths[c]}: '{r[i][:40]}' is not a number") from None
            low, high = limits[c]
            if not (np.isfinite(v) and (low is None or v >= low) and (high is None or v <= high)):
                raise ValueError(f"{path}: line {n}: {paths[c]}: {v:g} is not a finite number in "
                                 f"[{low}, {high}]")
            values[n - 2, c] = v
    return PosteriorDraws(paths, values, str(path), hashlib.sha256(text.encode("utf-8")).hexdigest())


def setting_distributions(scenario: Scenario) -> dict[str, Distribution]:
    """Every setting given as a distribution, by the override key the model reads."""
    out = dict(scenario.uncertain)
    for name, event in scenario.events.items():
        if isinstance(event.month, Distribution):
            out[f"events.{name}.month"] = event.month
        for key, value in event.set.items():
            if isinstance(value, Distribution):
                out[f"events.{name}.set.{key}"] = value
    return out


def group_counts(posterior: PosteriorDraws | None, has_settings: bool) -> tuple[int, int]:
    """(G, S): parameter groups (draws used) and setting groups."""
    g = min(posterior.size, MAX_PARAMETER_GROUPS) if posterior is not None else 1
    s = next(p for p in SETTING_GROUPS if g % p) if has_settings else 1
    return g, s


@functools.lru_cache(maxsize=4096)
def _setting_uniforms(seed: int, key: str, groups: int) -> np.ndarray:
    keyed = process_key(key)
    return np.array([np.random.Generator(np.random.PCG64(
        np.random.SeedSequence(seed, spawn_key=(SETTING_TAG, keyed, k)))).random() for k in range(groups)])


@dataclass(frozen=True)
class DrawPlan:
    """How replications map to parameter draws and setting draws; small and picklable."""

    seed: int
    parameter_groups: int = 1
    setting_groups: int = 1
    posterior: PosteriorDraws | None = None
    settings: dict[str, Distribution] = field(default_factory=dict)

    @classmethod
    def for_run(cls, scenario: Scenario, *, seed: int, posterior: PosteriorDraws | None,
                setting_groups: int | None = None) -> "DrawPlan":
        """The plan of a run (or of one side of a comparison: ``setting_groups`` from ``group_counts``
        over all its scenarios, so that the sides pair)."""
        settings = setting_distributions(scenario)
        g, s = group_counts(posterior, bool(settings))
        if setting_groups is not None:   # a side of a comparison: the groups of the comparison as a whole
            s = setting_groups
        return cls(int(seed), int(g), int(s), posterior, settings)

    def parameter_group(self, replications: np.ndarray) -> np.ndarray:
        return np.asarray(replications) % self.parameter_groups

    def setting_group(self, replications: np.ndarray) -> np.ndarray:
        return np.asarray(replications) % self.setting_groups

    def setting_values(self) -> dict[str, np.ndarray]:
        """Each setting's value in each setting group, shape (S,)."""
        return {key: np.asarray(dist.quantile(_setting_uniforms(self.seed, key, self.setting_groups)), dtype=float)
                for key, dist in self.settings.items()}

    def overrides(self, replications: np.ndarray) -> dict[str, np.ndarray]:
        """Key path -> array over the given replications (global indices)."""
        out: dict[str, np.ndarray] = {}
        if self.posterior is not None:
            j = self.parameter_group(replications) % self.posterior.size
            for c, path in enumerate(self.posterior.paths):
                out[path] = self.posterior.values[j, c]
        if self.settings:
            k = self.setting_group(replications)
            for key, values in self.setting_values().items():
                out[key] = values[k]
        return out

    def describe(self) -> dict:
        return {
            "parameter_groups": self.parameter_groups,
            "setting_groups": self.setting_groups,
            "posterior": None if self.posterior is None else {
                "source": Path(self.posterior.source).name, "sha256": self.posterior.sha256,
                "draws": self.posterior.size, "parameters": list(self.posterior.paths)},
            "settings": [{"key": k, "distribution": d.describe()} for k, d in self.settings.items()],
        }
