"""The figures of a Monte Carlo run: survival, P(collapse by month), median, initiator and trigger shares,
per front, each with its Monte Carlo interval and, where the run used them, its spread over calibrated
parameters (credible) and over the scenario's uncertain settings."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from sim import uncertainty
from sim.montecarlo import SimulationRun
from sim.notebook import RunNotebook
from sim.survival import KaplanMeier, kaplan_meier, p_collapse_by, rmst, wilson

REPORT_MONTHS = (3, 6, 12, 24)
CREDIBLE_NOTE = ("ci_low/ci_high: 95% Monte Carlo interval (the dice only). credible_low/credible_high: 90% range of "
                 "the quantity over the calibrated parameters' posterior draws. settings_low/settings_high: 90% range "
                 "over the scenario's uncertain settings. Group estimates are corrected for Monte Carlo noise "
                 "(sim.uncertainty).")


@dataclass(repr=False)  # the short repr and the notebook view come from RunNotebook
class RunResult(RunNotebook):
    """A run with its statistics. ``summary()`` is what ``summary.json`` holds."""

    simulation: SimulationRun

    def __post_init__(self):
        r = self.simulation.replications
        self.km: KaplanMeier = kaplan_meier(r.months, r.collapsed)

    @property
    def scenario(self):
        return self.simulation.scenario

    @property
    def horizon_months(self) -> float:
        return self.simulation.horizon_months

    @property
    def runs(self) -> int:
        return len(self.simulation.replications)

    def report_months(self) -> list[float]:
        months = [m for m in REPORT_MONTHS if m < self.horizon_months]
        return [*months, self.horizon_months]

    # --- groups of replications ------------------------------------------------------------
    def _groups(self):
        """(parameter groups, G, setting groups, S) of the replications, from the run's draw plan; worked out once
        (every figure's spread asks for them: six times for a summary, a few ms each at 160,000 runs)."""
        cached = self.__dict__.get("_group_arrays")
        if cached is None:
            plan = self.simulation.plan
            idx = self.simulation.first_replication + np.arange(self.runs)
            cached = self.__dict__["_group_arrays"] = (plan.parameter_group(idx), plan.parameter_groups,
                                                       plan.setting_group(idx), plan.setting_groups)
        return cached

    def _spread(self, fn) -> dict:
        """``fn(groups, n_groups)`` over parameter groups (credible) and setting groups (settings)."""
        pg, g, sg, s = self._groups()
        out = {}
        for name, groups, n in (("credible", pg, g), ("settings", sg, s)):
            res = fn(groups, n) if n > 1 else None
            if res is not None:
                out[name] = res
        return out

    # --- headline figures --------------------------------------------------------------------
    def p_collapse(self) -> dict[str, dict]:
        r = self.simulation.replications
        months = self.report_months()
        spread = self._spread(lambda groups, n: uncertainty.curve_interval(r.months, r.collapsed, months, groups, n))
        out = {}
        for m in months:
            entry = p_collapse_by(self.km, m).as_dict()
            for name, curves in spread.items():
                if curves.get(m) is not None:
                    entry[f"{name}_low"], entry[f"{name}_high"] = curves[m]
            out[_month_key(m)] = entry
        return out

    def median_months(self) -> float | None:
        med = self.km.median()
        return med if np.isfinite(med) else None

    def initiator_share(self) -> dict[str, float]:
        r = self.simulation.replications
        return self._shares(r.initiator, r.initiators)

    def trigger_share(self) -> dict[str, float]:
        from sim.outcomes import TRIGGERS
        return self._shares(self.simulation.replications.trigger, TRIGGERS)

    def initiator_counts(self) -> dict[str, int]:
        r = self.simulation.replications
        counts = self._counts(r.initiator, r.initiators)
        return {k: counts.get(k, 0) for k in r.initiators}

    def _counts(self, codes: np.ndarray, names) -> dict[str, int]:
        """Collapsed replications by label (code -1 is NOT_COLLAPSED): only the labels that occur."""
        from sim.outcomes import NOT_COLLAPSED
        r = self.simulation.replications
        tally = np.bincount(codes[r.collapsed].astype(np.int64) + 1, minlength=len(names) + 1)
        counts: dict[str, int] = {}
        for label, n in zip([NOT_COLLAPSED, *names], tally.tolist()):
            if n:
                counts[label] = counts.get(label, 0) + n
        return counts

    def _shares(self, codes: np.ndarray, names) -> dict[str, float]:
        counts = self._counts(codes, names)
        total = sum(counts.values())
        return {k: counts[k] / total for k in sorted(counts)} if total else {}

    def initiator_share_intervals(self) -> dict[str, dict]:
        """Per initiator: Monte Carlo interval of its share of collapses, and its spread over groups."""
        r = self.simulation.replications
        code = {name: i for i, name in enumerate(r.initiators)}
        total = int(r.collapsed.sum())
        out = {}
        for who, share in self.initiator_share().items():
            hit = r.collapsed & (r.initiator == code.get(who, -1))
            entry = {"estimate": share}
            entry["ci_low"], entry["ci_high"] = wilson(int(hit.sum()), total)
            spread = self._spread(lambda groups, n: uncertainty.ratio_interval(hit, r.collapsed, groups, n))
            for name, (low, high) in spread.items():
                entry[f"{name}_low"], entry[f"{name}_high"] = low, high
            out[who] = entry
        return out

    def rmst_summary(self) -> dict:
        r = self.simulation.replications
        restricted = np.minimum(r.months, self.horizon_months)
        out = rmst(r.months, self.horizon_months).as_dict()
        for name, (low, high) in self._spread(lambda groups, n: uncertainty.interval(restricted, groups, n)).items():
            out[f"{name}_low"], out[f"{name}_high"] = low, high
        return out

    def median_spread(self) -> dict:
        r = self.simulation.replications
        spread = self._spread(lambda groups, n: uncertainty.median_interval(r.months, r.collapsed,
                                                                            self.horizon_months, groups, n))
        return {f"median_{name}": list(v) for name, v in spread.items()}

    def fronts(self) -> dict[str, dict]:
        """Per front: P(collapse of that front by month) and, per initiator, its cumulative incidence
        (competing risks; censoring only at the horizon, so it is a plain share of replications)."""
        r = self.simulation.replications
        if len(r.front_names) < 2:
            return {}
        labels = np.array(r.initiators, dtype=object)
        out = {}
        sides = {name: list(sides) for name, sides, _ in self.scenario.front_list()}
        for f, name in enumerate(r.front_names):
            months = r.front_months[:, f]
            fell = ~np.isnan(months)
            p = {}
            cif = {}
            for m in self.report_months():
                hit = fell & (months <= m + 1e-9)
                k = int(hit.sum())
                low, high = wilson(k, self.runs)
                p[_month_key(m)] = {"estimate": k / self.runs, "ci_low": low, "ci_high": high}
                codes = r.front_initiator[:, f][hit]
                for code, count in zip(*np.unique(codes, return_counts=True)):
                    cif.setdefault(str(labels[code]), {})[_month_key(m)] = count / self.runs
            codes = r.front_initiator[:, f][fell]
            share = {str(labels[c]): n / codes.size for c, n in zip(*np.unique(codes, return_counts=True))}
            out[name] = {"between": sides.get(name, []), "p_collapse": p, "initiator_share": share,
                         "cumulative_incidence": cif}
        return out

    def survival_table(self) -> list[tuple[int, float, float, float]]:
        months = np.arange(0, int(np.floor(self.horizon_months + 1e-9)) + 1)
        s = self.km.at(months)
        low, high = self.km.confidence_interval(months)
        return [(int(m), float(a), float(b), float(c)) for m, a, b, c in zip(months, s, low, high)]

    def summary(self) -> dict:
        """summary.json's content. Computed once (the command prints it and writes it; its intervals take a
        while at many runs); each call returns a copy."""
        cached = self.__dict__.get("_summary")
        if cached is None:
            cached = self.__dict__["_summary"] = self._summary()
        return copy.deepcopy(cached)

    def _summary(self) -> dict:
        r = self.simulation.replications
        out = {
            "scenario": self.scenario.name,
            "runs": self.runs,
            "seed": self.simulation.seed,
            "horizon_months": self.horizon_months,
            "collapsed": int(r.collapsed.sum()),
            "p_collapse": self.p_collapse(),
            "median_months_to_collapse": self.median_months(),
            **self.median_spread(),
            "rmst_months": self.rmst_summary(),
            "initiator_share": self.initiator_share(),
            "initiator_share_intervals": self.initiator_share_intervals(),
            "trigger_share": self.trigger_share(),
            "mean_incidents_per_replication": {k: float(v.mean()) for k, v in r.incidents.items()},
            "uncertainty": {**self.simulation.plan.describe(), "credible_level": uncertainty.LEVEL,
                            "note": CREDIBLE_NOTE},
        }
        fronts = self.fronts()
        if fronts:
            out["fronts"] = fronts
        return out


def _month_key(month: float) -> str:
    return str(int(month)) if float(month).is_integer() else f"{month:g}"


@dataclass(repr=False)
class SweepResult:
    """A finished sweep: where it was written, its design and per-point outcomes, and the analysis.

    ``analysis`` is what ``sensitivity.json`` holds (besides the experiment's description);
    ``values`` has shape (points, factors), in the order of ``factor_names``; ``rows`` maps each point
    to its outcomes (``{"outcomes": {name: [estimate, ci_low, ci_high, noise_variance]}, "error": ...}``).
    """

    directory: object
    loaded: object
    values: np.ndarray
    rows: dict
    analysis: dict

    @property
    def factor_names(self) -> list[str]:
        return self.loaded.factor_names

    def to_frame(self):
        """One row per design point with the columns of ``outcomes.csv``: point, the factors, status,
        each outcome (R-safe name) with its 95% CI, and error."""
        from sim.experiment import outcome_column
        from sim.notebook import require_pandas
        pd = require_pandas()
        e = self.loaded.experiment
        records = []
        for p in range(self.values.shape[0]):
            row = self.rows.get(p, {"outcomes": None, "error": "not evaluated"})
            rec = {"point": p, **{n: float(v) for n, v in zip(self.factor_names, self.values[p])},
                   "status": "failed" if row.get("error") else "ok"}
            for o in e.outcomes:
                c = outcome_column(o)
                est = row["outcomes"][o][:3] if row.get("outcomes") else [float("nan")] * 3
                rec.update({c: est[0], f"{c}_ci_low": est[1], f"{c}_ci_high": est[2]})
            rec["error"] = row.get("error") or ""
            records.append(rec)
        return pd.DataFrame.from_records(records)

    def __repr__(self) -> str:
        e = self.loaded.experiment
        res = self.analysis["outcomes"].get(e.analysed_outcome, {})
        top = [self.factor_names[i] for i in res.get("ranking", [])[:3]]
        return (f"SweepResult({e.name}: {self.values.shape[0]:,} points x {e.replications} replications, "
                f"sampler {e.sampler}; {e.analysed_outcome} most sensitive to {', '.join(top) or 'n/a'}; "
                f"in {self.directory})")

    def __getitem__(self, key):
        """The analysis's entries (``result["outcomes"]``), as the dict sweep() used to return."""
        return self.analysis[key]
