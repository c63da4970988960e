"""Exact out-of-sample forecasts: the sampler run again without the forecast case (or conflict).

The backtest's leave-one-out and leave-one-conflict-out forecasts reweight the full fit's particles by
importance sampling (``sim.backtest``). Where the Pareto shape k-hat of those weights exceeds 0.7 the
reweighting is not reliable (Vehtari, Gelman & Gabry 2017 [@vehtari-2017-psis-loo]): the particles the full
fit kept say too little about the posterior without that case. The remedy they give is to refit without it;
this module does so and forecasts the held-out cases from the refit's own particles, so that nothing of their
outcomes reaches their forecasts.

Each refit draws its random numbers from the root seed and the names of the cases it holds out (never from
its position in a list), so a refit's result does not depend on which other refits ran, nor on the workers.
That also makes refits safe to keep between commands (``--refit-cache``): a refit is stored under a hash of
everything that decides it (the held-out names, the seed, the calibration settings, the priors, every case's
scenario and outcome, and the source of the package), so an interrupted batch resumes and a changed input or
changed code is never served a stale refit.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import json
import zlib
from pathlib import Path

import numpy as np

from sim.backtest import (FORECASTS, PREDICTIVE_EVALUATION, case_row, grid_months, new_conflict_z, predictive_cdf,
                          reference_forecasts, summarise)
from sim.calibration import SMCResult, run_smc, simulate_cases

REFIT_TAG = 0x52454649           # "REFI": the refits' seeds, apart from the sampler's and the predictive runs'


def refit_seed(root: int, held_out: list[str]) -> int:
    """A seed for the refit without ``held_out``: from the root seed and the held-out names only."""
    key = zlib.crc32("\n".join(sorted(held_out)).encode())
    return int(np.random.SeedSequence(root, spawn_key=(REFIT_TAG, key)).generate_state(1, dtype=np.uint32)[0])


@functools.cache
def _source_fingerprint() -> str:
    """Hash of the package's source, read once per process (every refit's key includes it)."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).resolve().parent.rglob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def refit_key(cal, priors, cases, held_names: list[str], seed: int) -> str:
    """Hash of everything a refit's result depends on (see the module's docstring)."""
    payload = {"held_out": sorted(held_names), "seed": seed, "calibration": cal.model_dump(mode="json"),
               "priors": [dataclasses.asdict(p) for p in priors],
               "cases": [[c.name, c.conflict, c.scenario.model_dump(mode="json"), dataclasses.asdict(c.observed),
                          None if c.alternative is None else dataclasses.asdict(c.alternative)] for c in cases],
               "source": _source_fingerprint()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _save(path: Path, sims: list[dict], info: dict) -> None:
    from sim.store import write_bytes_atomic
    arrays = {}
    for j, sim in enumerate(sims):
        labels = sorted(set(sim["initiator"].ravel().tolist()))
        arrays[f"months_{j}"] = sim["months"]
        arrays[f"collapsed_{j}"] = sim["collapsed"]
        arrays[f"initiator_{j}"] = np.searchsorted(np.array(labels, dtype=object), sim["initiator"]).astype(np.int32)
        info.setdefault("labels", []).append(labels)
    arrays["info"] = np.frombuffer(json.dumps(info).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    write_bytes_atomic(path, buf.getvalue())


def _load(path: Path, n: int) -> tuple[list[dict], dict]:
    with np.load(path, allow_pickle=False) as data:
        info = json.loads(bytes(data["info"]).decode())
        sims = [{"months": data[f"months_{j}"], "collapsed": data[f"collapsed_{j}"],
                 "initiator": np.array(info["labels"][j], dtype=object)[data[f"initiator_{j}"]]} for j in range(n)]
    return sims, info


def refit_without(result: SMCResult, held_out: list[int], executor, *, particles: int | None = None,
                  replications: int | None = None, progress=None, cache: Path | None = None
                  ) -> tuple[dict, list[dict]]:
    """The sampler run on every case but ``held_out``, and runs of the held-out cases at its particles to
    their horizons: the refit's summary (seed, effective sample size, stages, particles) and the runs. A
    held-out case whose conflict has no other case gets a fresh conflict effect from the effect's prior, as in
    the leave-one-conflict-out forecasts. With ``cache``, a refit already stored there is read, not rerun."""
    held = set(held_out)
    train = [c for i, c in enumerate(result.cases) if i not in held]
    test = [result.cases[i] for i in held_out]
    update = {k: v for k, v in (("particles", particles), ("replications", replications)) if v is not None}
    cal = result.cal.model_copy(update=update) if update else result.cal
    seed = refit_seed(result.seed, [c.name for c in test])
    path = None
    if cache is not None:
        path = Path(cache) / f"refit-{refit_key(cal, result.space.priors, result.cases, [c.name for c in test], seed)}.npz"
        if path.is_file():
            sims, info = _load(path, len(test))
            return {k: v for k, v in info.items() if k != "labels"}, sims
    fit = run_smc(cal, list(result.space.priors), train, executor, seed=seed, progress=progress)
    sims = []
    for case in test:
        new_conflict = fit.space.pooling and case.conflict not in fit.space.conflicts
        z = new_conflict_z(seed, fit.particles.shape[0]) if new_conflict else None
        sims.append(simulate_cases([case], fit.space, fit.particles, seed=seed,
                                   evaluation=PREDICTIVE_EVALUATION + int(new_conflict),
                                   replications=cal.predictive_replications,
                                   horizons=[float(case.scenario.horizon_months)], executor=executor,
                                   new_conflict_z=z)[0])
    info = {"held_out": [c.name for c in test], "seed": seed, "cases": [c.name for c in train],
            "effective_sample_size": fit.effective_sample_size(), "stages": len(fit.stages),
            "particles": int(fit.particles.shape[0])}
    if path is not None:
        _save(path, sims, dict(info))
    return info, sims


def held_out_sets(result: SMCResult, which: str, unreliable: list[str]) -> dict[str, list[list[int]]]:
    """The refits ``which`` asks for: single cases whose importance-sampled LOO was unreliable ('unreliable',
    'both') or every case ('all'), and whole conflicts ('conflicts', 'both', 'all')."""
    names = [c.name for c in result.cases]
    out: dict[str, list[list[int]]] = {"loo": [], "loco": []}
    if which in ("unreliable", "both", "all"):
        chosen = names if which == "all" else unreliable
        out["loo"] = [[names.index(n)] for n in chosen]
    if which in ("conflicts", "both", "all"):
        for conflict in sorted({c.conflict for c in result.cases}):
            out["loco"].append([i for i, c in enumerate(result.cases) if c.conflict == conflict])
    return out


def exact_forecasts(result: SMCResult, backtest: dict, executor, *, which: str, particles: int | None = None,
                    replications: int | None = None, progress=None, cache: Path | None = None) -> dict:
    """Refit without each held-out set ``which`` names; the held-out cases' forecasts from the refits, scored
    as the backtest scores its own, and the backtest's scores again with these forecasts in place of the
    importance-sampled ones."""
    sets = held_out_sets(result, which, backtest["unreliable_loo_cases"])
    cases = result.cases
    n_cases = len(cases)
    out = {"which": which,
           "design": {"particles": particles or result.cal.particles,
                      "replications": replications or result.cal.replications,
                      "allocation": result.cal.allocation},
           "method": "the sampler run again without the held-out cases, from a seed of the root seed and their "
                     "names; their forecasts from the refit's particles (equal weights)"}
    for kind, sources in (("loo", backtest["cases"]), ("loco", backtest["leave_one_conflict_out"]["cases"])):
        if not sets[kind]:
            continue
        rows = []
        for held in sets[kind]:
            fit, sims = refit_without(result, held, executor, particles=particles, replications=replications,
                                      progress=progress, cache=cache)
            others = [i for i in range(n_cases) if i not in held]
            weights = np.full(fit["particles"], 1.0 / fit["particles"])
            for k, sim in zip(held, sims):
                case = cases[k]
                grid = grid_months(case.scenario.horizon_months)
                row = case_row(case, grid, predictive_cdf(sim, weights, grid), weights, sim, float("nan"),
                               reference_forecasts(k, cases, grid, others))
                row["pareto_k"] = None
                row["refit"] = {key: fit[key] for key in ("held_out", "seed", "effective_sample_size", "stages")}
                rows.append(row)
        exact = {r["name"]: r for r in rows}
        merged = [exact.get(r["name"], r) for r in sources]
        out[kind] = {"cases": rows,
                     "importance_sampled": {r["name"]: {"log": r["scores"]["model"]["log"],
                                                        "crps": r["scores"]["model"]["crps"],
                                                        "median": r["predicted"]["median"],
                                                        "pareto_k": r["pareto_k"]}
                                            for r in sources if r["name"] in exact},
                     "scores": {name: summarise(merged, name) for name in FORECASTS},
                     "note": "scores over every case, with the refitted forecasts in place of the importance-"
                             "sampled ones for the cases in 'cases'"}
    return out
