"""Monthly quantiles across replications, computed on the fly with mergeable histograms.

Keeping every replication's monthly path would grow with the run count; fixed-bin histograms merge
exactly across blocks and workers, so the quantiles are the same for any ``--jobs``.
Bounded indices use 500 bins on [0, 1] (quantiles to 0.002); counts use integer bins that grow
with the largest count seen.
"""

from __future__ import annotations

import numpy as np

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
INDEX_BINS = 500


class MonthlyFan:
    def __init__(self, months: int):
        self.months = months
        self.hist: dict[str, np.ndarray] = {}

    def _table(self, name: str, width: int) -> np.ndarray:
        table = self.hist.get(name)
        if table is None:
            table = self.hist[name] = np.zeros((self.months + 1, width), dtype=np.int64)
        elif table.shape[1] < width:
            table = self.hist[name] = _widen(table, width)
        return table

    def add_index(self, name: str, month: int, values: np.ndarray) -> None:
        bins = np.minimum((np.clip(values, 0.0, 1.0) * INDEX_BINS).astype(np.int64), INDEX_BINS - 1)
        self._table(name, INDEX_BINS)[month] += np.bincount(bins, minlength=INDEX_BINS)

    def add_count(self, name: str, month: int, values: np.ndarray) -> None:
        counts = np.bincount(values.astype(np.int64))
        self._table("count:" + name, counts.size)[month, : counts.size] += counts

    def merge(self, other: "MonthlyFan") -> None:
        for name, table in other.hist.items():
            mine = self.hist.get(name)
            if mine is None:
                self.hist[name] = table.copy()
            else:
                width = max(mine.shape[1], table.shape[1])
                mine = self.hist[name] = _widen(mine, width)
                mine[:, : table.shape[1]] += table

    def compact(self) -> "MonthlyFan":
        """Trailing empty count bins dropped, to ship less between processes."""
        for name, table in self.hist.items():
            used = np.flatnonzero(table.any(axis=0))
            if name.startswith("count:") and used.size:
                self.hist[name] = table[:, : used[-1] + 1].copy()
        return self

    def __getstate__(self) -> dict:
        """Pickled (a task's fan, sent back from its worker) as the non-zero cells of each table: about a fifth
        of them, so a 16-block task sends about 0.3 MB instead of 3 MB of int64 zeros and counts, which the worker
        would spend its time writing to the pipe between tasks. The counts come back exactly, as int64."""
        cells = {}
        for name, table in self.hist.items():
            flat = table.reshape(-1)
            where = np.flatnonzero(flat)
            values = flat[where]
            if values.size and values.min() >= 0:
                values = values.astype(np.min_scalar_type(int(values.max())))
            cells[name] = (table.shape, where.astype(np.min_scalar_type(max(flat.size - 1, 0))), values)
        return {"months": self.months, "cells": cells}

    def __setstate__(self, state: dict) -> None:
        self.months = state["months"]
        self.hist = {}
        for name, (shape, where, values) in state["cells"].items():
            table = np.zeros(shape, dtype=np.int64)
            table.reshape(-1)[where] = values
            self.hist[name] = table

    def rows(self):
        """(month, variable, n, q05, q25, q50, q75, q95) for every month with replications."""
        for name in sorted(self.hist):
            table = self.hist[name]
            is_count = name.startswith("count:")
            label = name.removeprefix("count:")
            cum = np.cumsum(table, axis=1)
            n = cum[:, -1]
            # per month, the first bin whose cumulative count reaches q n (a left-sided search, for all months at once)
            idx = np.stack([(cum < q * n[:, None]).sum(axis=1) for q in QUANTILES], axis=1)
            values = idx.astype(float) if is_count else (idx + 0.5) / INDEX_BINS
            for month in np.flatnonzero(n).tolist():
                yield (month, label, int(n[month]), *values[month].tolist())


def _widen(table: np.ndarray, width: int) -> np.ndarray:
    if table.shape[1] >= width:
        return table
    wider = np.zeros((table.shape[0], width), dtype=table.dtype)
    wider[:, : table.shape[1]] = table
    return wider
