"""Seeding and reproducibility: sim/rng.py, sim/incidents.py and sim/montecarlo.py.

The seeding contract (sim/rng.py): replication i is block i // BLOCK_SIZE, column i % BLOCK_SIZE; each
(block, process name) has its own generator; every step draws a full block per stream. Hence results
do not depend on --jobs, on how blocks are grouped into tasks, or on how many replications the run has.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from sim.api import run
from sim.cli import main
from sim.incidents import poisson_from_uniform
from sim.montecarlo import replay
from sim.rng import BLOCK_SIZE, BlockStreams, blocks_for, process_key
from sim.scenario import load_scenario, resolved_dict, scenario_sha256

REPO = Path(__file__).resolve().parents[1]
SCENARIO_PATH = REPO / "tests" / "data" / "two_sided.toml"
RUNS, SEED = 2500, 7  # three blocks, the last one partial; jobs=2 groups them into tasks differently


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(SCENARIO_PATH)


@pytest.fixture(scope="module")
def run_jobs1(scenario):
    return run(scenario, runs=RUNS, seed=SEED, jobs=1)


@pytest.fixture(scope="module")
def run_jobs2(scenario):
    return run(scenario, runs=RUNS, seed=SEED, jobs=2)


def arrays(result):
    r = result.simulation.replications
    out = {"months": r.months, "collapsed": r.collapsed, "initiator": r.initiator, "trigger": r.trigger}
    out.update({f"incidents.{k}": v for k, v in r.incidents.items()})
    return out


def assert_same_replications(a: dict, b: dict, sl=slice(None)):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key][sl], b[key][sl], err_msg=key)


# --- BLOCK_SIZE is part of the contract ----------------------------------------------------------

def test_block_size_and_blocks_for():
    assert BLOCK_SIZE == 1000  # changing it changes every published result
    assert blocks_for(2500) == [(0, 1000), (1, 1000), (2, 500)]
    assert blocks_for(1000, first=2000) == [(2, 1000)]
    with pytest.raises(ValueError):
        blocks_for(10, first=5)


def test_process_key_is_stable_across_interpreters():
    # sha256-based, not Python's salted hash(): pinned so a change is noticed
    assert process_key("tension") == int.from_bytes(__import__("hashlib").sha256(b"tension").digest()[:4], "little")
    assert process_key("tension") != process_key("economy")


# --- runs do not depend on jobs --------------------------------------------------------------------

def test_run_identical_for_one_and_two_jobs(run_jobs1, run_jobs2):
    a, b = arrays(run_jobs1), arrays(run_jobs2)
    assert len(a["months"]) == RUNS
    assert_same_replications(a, b)
    assert run_jobs1.simulation.replications.initiators == run_jobs2.simulation.replications.initiators
    assert run_jobs1.summary() == run_jobs2.summary()
    assert list(run_jobs1.simulation.fan.rows()) == list(run_jobs2.simulation.fan.rows())


def test_run_outcomes_are_not_degenerate(run_jobs1):
    # A guard that the comparisons in this file compare something: collapses of several kinds occur.
    r = run_jobs1.simulation.replications
    assert 0.05 < r.collapsed.mean() < 0.95
    assert len(set(r.initiator_labels()[r.collapsed])) >= 2
    assert np.all(r.months[~r.collapsed] == 24.0) and np.all(r.months[r.collapsed] <= 24.0)


def test_different_seed_changes_results(scenario, run_jobs1):
    other = run(scenario, runs=1000, seed=SEED + 1, jobs=1)
    a, b = arrays(run_jobs1), arrays(other)
    assert not np.array_equal(a["months"][:1000], b["months"][:1000])
    assert not np.array_equal(a["incidents.violations"][:1000], b["incidents.violations"][:1000])


def test_same_seed_twice_in_one_process_is_identical(scenario, run_jobs1):
    again = run(scenario, runs=1000, seed=SEED, jobs=1)
    assert_same_replications(arrays(run_jobs1), arrays(again), slice(0, 1000))


def test_replication_does_not_depend_on_the_run_size(scenario, run_jobs1):
    shorter = run(scenario, runs=1500, seed=SEED, jobs=1)
    a, b = arrays(run_jobs1), arrays(shorter)
    assert_same_replications({k: v[:1500] for k, v in a.items()}, b, slice(0, 1000))  # whole block 0
    # Replications 1000..1499 are a partial block in the 1500-run. The docstring of sim/rng.py says a
    # replication belongs to block i // BLOCK_SIZE at column i % BLOCK_SIZE and every stream draws a
    # full block per step, so they must equal the 2500-run's 1000..1499 too.
    assert_same_replications({k: v[:1500] for k, v in a.items()}, b, slice(1000, 1500))


def test_later_blocks_can_be_run_on_their_own(scenario, run_jobs1):
    from sim.montecarlo import simulate
    later = simulate(scenario, runs=1500, seed=SEED, first_replication=1000)
    r = later.replications
    full = run_jobs1.simulation.replications
    np.testing.assert_array_equal(r.months, full.months[1000:2500])
    np.testing.assert_array_equal(r.initiator, full.initiator[1000:2500])


# --- replay ------------------------------------------------------------------------------------

def test_replay_matches_the_full_run_for_collapsed_and_censored_replications(scenario, run_jobs1):
    r = run_jobs1.simulation.replications
    initiators, triggers = r.initiator_labels(), r.trigger_labels()
    collapsed = np.flatnonzero(r.collapsed)
    censored = np.flatnonzero(~r.collapsed)
    by_regime = np.flatnonzero(initiators == "regime")
    by_opposition = np.flatnonzero(initiators == "opposition")
    picks = [int(collapsed[0]), int(censored[0]), int(by_regime[-1]), int(by_opposition[len(by_opposition) // 2]),
             int(censored[censored >= 2000][-1])]  # the last from the partial third block
    assert any(r.collapsed[picks]) and not all(r.collapsed[picks])
    for i in picks:
        rows, outcome = replay(scenario, seed=SEED, replication=i)
        assert outcome == {"collapsed": bool(r.collapsed[i]), "months_to_collapse": float(r.months[i]),
                           "initiator": initiators[i], "trigger": triggers[i]}, i
        assert [row["month"] for row in rows] == list(range(25))
        if not r.collapsed[i]:
            assert all(row["holding"] for row in rows)
        else:
            assert all(row["holding"] for row in rows if row["month"] < r.months[i])
            assert not any(row["holding"] for row in rows if row["month"] >= r.months[i] + 1)


def test_replay_with_another_seed_differs_somewhere(scenario, run_jobs1):
    r = run_jobs1.simulation.replications
    i = int(np.flatnonzero(r.collapsed)[0])
    rows_a, _ = replay(scenario, seed=SEED, replication=i)
    rows_b, _ = replay(scenario, seed=SEED + 1, replication=i)
    assert rows_a[0] == rows_b[0]          # month 0 is the scenario's initial state
    assert rows_a[1:] != rows_b[1:]


# --- the CLI writes byte-identical files for any --jobs ---------------------------------------------

@pytest.fixture(scope="module")
def cli_dirs(tmp_path_factory):
    base = tmp_path_factory.mktemp("determinism")
    out = {}
    for jobs in (1, 2):
        d = base / f"jobs{jobs}"
        rc = main(["run", str(SCENARIO_PATH), "--runs", str(RUNS), "--seed", str(SEED), "--jobs", str(jobs),
                   "--out", str(d), "--quiet"])
        assert rc == 0
        out[jobs] = d
    return out


@pytest.mark.parametrize("name", ["runs.csv", "summary.json", "survival.csv", "timeseries.csv"])
def test_cli_files_byte_identical_for_one_and_two_jobs(cli_dirs, name):
    a, b = (cli_dirs[1] / name).read_bytes(), (cli_dirs[2] / name).read_bytes()
    assert len(a) > 100
    assert a == b


def test_cli_runs_csv_equals_the_api_run(cli_dirs, run_jobs1):
    import csv
    with open(cli_dirs[1] / "runs.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    r = run_jobs1.simulation.replications
    assert len(rows) == RUNS
    np.testing.assert_array_equal([int(x["collapsed"]) for x in rows], r.collapsed.astype(int))
    np.testing.assert_allclose([float(x["months_to_collapse"]) for x in rows], r.months, rtol=1e-5)
    assert [x["initiator"] for x in rows] == list(r.initiator_labels())


def test_runs_csv_rendered_in_the_workers_is_the_text_of_the_gathered_run(cli_dirs, run_jobs1, tmp_path):
    """The command streams runs.csv from lines each worker rendered for its batch; the API's file is written
    from the gathered replications. Both must be the same bytes."""
    from sim import store
    store.write_run_files(run_jobs1, tmp_path)
    assert (tmp_path / "runs.csv").read_bytes() == (cli_dirs[2] / "runs.csv").read_bytes()


def test_cli_manifest_keys_and_values(cli_dirs, scenario):
    m1 = json.loads((cli_dirs[1] / "manifest.json").read_text())
    m2 = json.loads((cli_dirs[2] / "manifest.json").read_text())
    for key in ("scenario_sha256", "seed", "runs", "horizon_months", "python", "numpy", "mesa",
                "package_version", "git_commit", "scenario"):
        assert key in m1, key
    assert m1["scenario_sha256"] == scenario_sha256(scenario)
    assert len(m1["scenario_sha256"]) == 64 and int(m1["scenario_sha256"], 16) >= 0
    assert (m1["seed"], m1["runs"], m1["horizon_months"]) == (SEED, RUNS, 24)
    assert m1["scenario"] == resolved_dict(scenario)
    assert m1["numpy"] == np.__version__
    import mesa
    import sim
    assert m1["mesa"] == mesa.__version__ and m1["package_version"] == sim.__version__
    # apart from the wall time, the clock, the worker count and the command line, nothing may differ
    volatile = {"wall_seconds", "created_utc", "jobs", "command"}
    assert {k: v for k, v in m1.items() if k not in volatile} == {k: v for k, v in m2.items() if k not in volatile}
    assert (m1["jobs"], m2["jobs"]) == (1, 2)


def test_scenario_sha256_changes_with_any_parameter(scenario):
    from sim.scenario import with_value
    assert scenario_sha256(scenario) == scenario_sha256(load_scenario(SCENARIO_PATH))
    assert scenario_sha256(scenario) != scenario_sha256(with_value(scenario, {"actors.turkey.resolve": 0.71}))


# --- named streams -------------------------------------------------------------------------------

def test_streams_of_different_names_differ():
    s = BlockStreams(3, [(0, BLOCK_SIZE)])
    a, b = s.uniform("violations/regime"), s.uniform("violations/opposition")
    assert a.shape == b.shape == (BLOCK_SIZE,)
    assert not np.array_equal(a, b)
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.15


def test_same_name_seed_and_block_give_the_same_numbers_in_separate_objects():
    a, b = BlockStreams(3, [(1, BLOCK_SIZE)]), BlockStreams(3, [(1, BLOCK_SIZE)])
    for _ in range(3):  # successive steps too
        np.testing.assert_array_equal(a.uniform("tension_crises"), b.uniform("tension_crises"))
        np.testing.assert_array_equal(a.normal("tension"), b.normal("tension"))


def test_streams_differ_by_seed_and_by_block():
    x = BlockStreams(3, [(0, BLOCK_SIZE)]).uniform("tension")
    assert not np.array_equal(x, BlockStreams(4, [(0, BLOCK_SIZE)]).uniform("tension"))
    assert not np.array_equal(x, BlockStreams(3, [(1, BLOCK_SIZE)]).uniform("tension"))


def test_drawing_from_one_stream_does_not_change_another():
    quiet = BlockStreams(5, [(0, BLOCK_SIZE)])
    busy = BlockStreams(5, [(0, BLOCK_SIZE)])
    for _ in range(7):
        busy.uniform("air_strikes/regime>opposition")
        busy.normal("economy")
    b_quiet = [quiet.uniform("offensive/regime>opposition") for _ in range(3)]
    b_busy = [busy.uniform("offensive/regime>opposition") for _ in range(3)]
    for x, y in zip(b_quiet, b_busy):
        np.testing.assert_array_equal(x, y)
    # and the busy stream itself has moved on
    assert not np.array_equal(busy.uniform("economy"), quiet.uniform("economy"))


def test_partial_and_multi_block_batches_are_slices_of_whole_blocks():
    whole = [BlockStreams(9, [(b, BLOCK_SIZE)]) for b in range(3)]
    batch = BlockStreams(9, [(0, BLOCK_SIZE), (1, BLOCK_SIZE), (2, 500)])
    partial = BlockStreams(9, [(2, 300)])
    assert batch.size == 2500 and partial.size == 300
    for _ in range(2):
        parts = [w.normal("x") for w in whole]
        np.testing.assert_array_equal(batch.normal("x"), np.concatenate([parts[0], parts[1], parts[2][:500]]))
        np.testing.assert_array_equal(partial.normal("x"), parts[2][:300])


def test_block_streams_reject_a_negative_seed():
    with pytest.raises(ValueError):
        BlockStreams(-1, [(0, 10)])


# --- Poisson counts by inversion -------------------------------------------------------------------

def test_poisson_from_uniform_equals_scipy_ppf():
    rng = np.random.default_rng(11)
    u = rng.random(20_000)
    u = u[u > 0]
    for mean in [0.0, 1e-6, 0.01, 0.3, 1.0, 2.5, 7.0, 13.37, 20.0, 33.3, 50.0]:
        np.testing.assert_array_equal(poisson_from_uniform(u, mean), stats.poisson.ppf(u, mean).astype(np.int64),
                                      err_msg=f"mean {mean}")


def test_poisson_from_uniform_with_a_mean_per_replication():
    rng = np.random.default_rng(12)
    u = rng.random(30_000)
    u = u[u > 0]
    mean = rng.uniform(0, 50, u.size)
    np.testing.assert_array_equal(poisson_from_uniform(u, mean), stats.poisson.ppf(u, mean).astype(np.int64))


def test_poisson_counts_term_by_term_in_python_equal_the_vectorised_rounds(monkeypatch):
    """Few values or small means are counted one value at a time in Python, the rest in vectorised rounds; both
    must give the same count for every value (same IEEE operations, same order), whichever the cost rule picks:
    means from 0 to past the underflow of exp(-mean), a few values to thousands, uniforms at the edges."""
    import sim.incidents as incidents
    rng = np.random.default_rng(13)
    cases = []
    for n in (2, 3, 10, 100, 1000, 5000):
        for scale in (0.01, 1.0, 12.0, 60.0, 800.0):
            cases.append((rng.random(n), rng.random(n) * scale))
    cases.append((np.array([1e-300, 0.5, 1.0 - 2 ** -53, 0.999999]), np.array([3.0, 745.2, 0.0, 1e-300])))
    counted = {}
    for one_by_one in (True, False):
        monkeypatch.setattr(incidents, "_terms_one_by_one_cost_less", lambda mu, pick=one_by_one: pick)
        counted[one_by_one] = [incidents.poisson_from_uniform(u, mean) for u, mean in cases]
    for (u, mean), a, b in zip(cases, counted[True], counted[False]):
        np.testing.assert_array_equal(a, b, err_msg=f"{u.size} values, means up to {mean.max():.3g}")
        assert a.dtype == b.dtype
    assert sum(int(c.sum()) for c in counted[True]) > 0


def test_the_poisson_cost_rule_sums_in_python_only_where_that_is_cheaper():
    from sim.incidents import _terms_one_by_one_cost_less
    assert _terms_one_by_one_cost_less(np.full(10, 12.0))         # ten values: ~130 terms against ~25 rounds
    assert not _terms_one_by_one_cost_less(np.full(1000, 12.0))   # a thousand: ~13,000 terms
    assert _terms_one_by_one_cost_less(np.full(20, 0.05))           # the 2% of 1,000 values left at a small mean
    assert not _terms_one_by_one_cost_less(np.full(1000, 1.0))


def test_poisson_from_uniform_is_monotone_in_u_and_in_the_mean():
    u = np.linspace(0.001, 0.999, 999)
    counts = poisson_from_uniform(u, 6.0)
    assert np.all(np.diff(counts) >= 0)
    assert np.all(poisson_from_uniform(u, 6.5) >= counts)
    assert poisson_from_uniform(u, 6.0).dtype.kind == "i"


def test_float_text_in_files_is_six_significant_digits_and_names_non_finite_values():
    """``sim.store.fmt`` (every float in every CSV): ``%.6g``, with ``inf``, ``-inf`` and ``nan`` for any NaN
    whatever its sign bit, for Python floats, numpy float64 and float32 alike; checked on random bit patterns
    (every exponent, subnormals, NaN payloads) and on the edge cases of rounding to six digits."""
    import math
    import struct

    from sim.store import fmt

    def reference(x):
        x = float(x)
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return "%.6g" % x

    negative_nan = struct.unpack("<d", struct.pack("<Q", 0xFFF8_0000_0000_0001))[0]
    edges = [0.0, -0.0, math.inf, -math.inf, math.nan, negative_nan, 5e-324, -5e-324, 1.7976931348623157e308,
             999999.5, 9999995.0, 0.0001, 0.00001, 123456.5, 1 / 3]
    bits = np.random.default_rng(11).integers(0, 2**64, size=200_000, dtype=np.uint64).view(np.float64)
    for x in [*edges, *bits.tolist()]:
        assert fmt(x) == reference(x), x
    for x in bits[:20_000]:
        assert fmt(x) == reference(x)               # numpy float64
    with np.errstate(over="ignore", invalid="ignore"):
        for x in bits[:20_000].astype(np.float32):
            assert fmt(x) == reference(x)           # numpy float32
    assert fmt(None) == "" and fmt(3) == "3" and fmt(negative_nan) == "nan"
