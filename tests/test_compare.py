"""Paired scenario comparison on common random numbers: sim/comparison.py, sim.api.compare,
``ceasefire compare`` and ``ceasefire diff``.

Every run uses a fixed seed and the test fixture (tests/data/two_sided.toml, default dynamics, no posterior),
so nothing here moves when the bundled scenarios are re-encoded or recalibrated. Where a bound is
statistical, the comment next to it says how it follows from the sampling error.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from sim.api import compare
from sim.cli import main
from sim.model import CeasefireModel
from sim.rng import BLOCK_SIZE, BlockStreams, process_key
from sim.scenario import diff, load_scenario, with_value
from sim.survival import collapse_indicator
from sim.tables import comparison_text

REPO = Path(__file__).resolve().parents[1]
BASE_PATH = REPO / "tests" / "data" / "two_sided.toml"
OTHER_TEXT = (f'base = "{BASE_PATH}"\nname = "two_sided_distracted"\n'
              '[events.patron_distracted]\nmonth = 6\nset = { "actors.russia.distraction" = 0.5 }\n')
Z = 1.959964  # two-sided 95% normal quantile, to 7 digits


@pytest.fixture(scope="module")
def other_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("other") / "two_sided_distracted.toml"
    path.write_text(OTHER_TEXT)
    return path


@pytest.fixture(scope="module")
def base():
    return load_scenario(BASE_PATH)


@pytest.fixture(scope="module")
def other(other_path):
    return load_scenario(other_path)


@pytest.fixture(scope="module")
def cool(base):
    """Collapses in fewer than half the replications within 24 months, so that the median is undefined."""
    return with_value(base, {"actors.russia.interest_in_guarantor": 1.0, "actors.turkey.deterrence": 1.0,
                             "actors.hts.pretext_strength": 0.1})


@pytest.fixture(scope="module")
def hot(base):
    """Collapses in most replications within 24 months, so that the median is defined."""
    return with_value(base, {"actors.hts.patrol_attack_rate": 3.0, "actors.russia.interest_in_guarantor": 0.3})


@pytest.fixture(scope="module")
def pair24(base, other):
    """The pair at 24 months: three blocks of paired replications, the last one partial."""
    (c,) = compare(base, other, runs=2500, seed=2, horizon_months=24, jobs=2)
    return c


def _indicators(c, month):
    a, b = c.base.simulation.replications, c.other.simulation.replications
    return (collapse_indicator(a.months, a.collapsed, month), collapse_indicator(b.months, b.collapsed, month))


# --- 1. a scenario compared with itself ------------------------------------------------------

@pytest.mark.parametrize("which, median_defined", [("cool", False), ("hot", True)])
def test_comparing_a_scenario_with_itself_gives_exactly_no_difference(which, median_defined, request):
    scenario = request.getfixturevalue(which)
    (c,) = compare(scenario, scenario, runs=1000, seed=1, horizon_months=24, jobs=1)
    d = c.as_dict()
    p = d["differences"]["p_collapse"]
    assert list(p) == ["6", "12", "24"]
    for month, est in p.items():
        # no pair differs: the estimate is 0, and Newcombe's paired interval says how far 1,000 agreeing
        # pairs rule a difference out - narrower than independent runs would allow, but not [0, 0]
        assert est["estimate"] == 0.0, month
        assert est["ci_low"] < 0.0 < est["ci_high"]
        if est["unpaired_ci_width"] > 0:          # the outcome varies between replications at this month
            assert 0 < est["paired_ci_width"] < est["unpaired_ci_width"]
    collapsed_share = d["p_collapse"]["base"]["24"]["estimate"]
    assert collapsed_share > 0.05
    r = d["differences"]["rmst"]
    assert (r["estimate"], r["ci_low"], r["ci_high"]) == (0.0, 0.0, 0.0)
    m = d["differences"]["median"]
    if median_defined:
        assert collapsed_share > 0.5
        assert m["base_median"] is not None and m["base_median"] == m["other_median"]
        assert (m["estimate"], m["ci_low"], m["ci_high"]) == (0.0, 0.0, 0.0)
    else:
        assert collapsed_share < 0.5
        assert m["base_median"] is None and m["other_median"] is None
        assert (m["estimate"], m["ci_low"], m["ci_high"]) == (None, None, None)
    tests = d["tests"]
    assert tests["collapse_by_horizon"]["p_value"] == 1.0 and tests["collapse_by_horizon"]["base_only"] == 0
    assert tests["time_to_collapse"]["p_value"] == 1.0
    assert all(t["p_value"] == 1.0 for t in tests["initiators"]["by_initiator"].values())
    independent = d["as_if_independent_runs"]
    assert independent["logrank_p"] == 1.0 and independent["logrank_chi2"] == 0.0
    assert independent["initiator_chi_square"]["p_value"] in (None, 1.0)
    assert d["variance_reduction"]["width_ratio"] < 1
    text = comparison_text(c)
    sentences = [line for line in text.splitlines() if line.strip().startswith("Under ")]
    assert len(sentences) == 3
    assert all(s.endswith("no difference in any replication.") for s in sentences)
    assert "identical outcomes in every replication" in text
    assert "lasts about as long" in text
    assert "What differs" not in text  # no parameter differs


# --- 2. the paired interval -------------------------------------------------------------------

def test_paired_interval_is_narrower_than_unpaired(pair24):
    c = pair24
    d = c.as_dict()
    assert c.horizon == 24 and d["runs"] == 2500
    head = d["differences"]["p_collapse"]["24"]
    paired = head["ci_high"] - head["ci_low"]
    assert paired == pytest.approx(head["paired_ci_width"], rel=1e-12)
    assert paired < head["unpaired_ci_width"]
    vr = d["variance_reduction"]
    assert vr["outcome"] == "p_collapse by month 24"
    assert vr["width_ratio"] < 1
    assert vr["width_ratio"] == pytest.approx(paired / head["unpaired_ci_width"], rel=1e-12)
    assert vr["variance_reduction"] == pytest.approx(1 - vr["width_ratio"] ** 2, rel=1e-12)


def test_the_printed_comparison_names_each_scenario_in_its_columns_and_its_rmst_sentence(pair24):
    c = pair24
    d = c.as_dict()
    base, other = d["scenarios"]["base"]["name"], d["scenarios"]["other"]["name"]
    lines = comparison_text(c).splitlines()
    head = next(line for line in lines if line.strip().startswith("P(collapse by)"))
    assert base in head and other in head and head.index(base) < head.index(other)
    (rmst,) = [line.strip() for line in lines if line.strip().startswith("Over ")]
    r = d["differences"]["rmst"]
    verdict = ("lasts longer" if r["ci_low"] > 0 else "collapses sooner" if r["ci_high"] < 0
               else "lasts about as long")
    assert rmst.startswith(f"Over 24 months, the ceasefire {verdict} on average under {other} than under {base} ")


def test_pair_widths_recomputed_from_the_replications(pair24):
    c = pair24
    ia, ib = _indicators(c, 24)
    n = ia.size
    assert n == 2500
    head = c.as_dict()["differences"]["p_collapse"]["24"]
    p1, p2 = ia.mean(), ib.mean()
    unpaired = 2 * Z * math.sqrt(p1 * (1 - p1) / n + p2 * (1 - p2) / n)
    assert head["unpaired_ci_width"] == pytest.approx(unpaired, rel=1e-6)
    dd = ib - ia
    assert head["estimate"] == pytest.approx(dd.mean(), abs=1e-12)
    # Newcombe's interval lies near the normal paired interval when many pairs differ (within 10% here)
    half = Z * np.std(dd, ddof=1) / math.sqrt(n)
    assert head["ci_low"] == pytest.approx(dd.mean() - half, abs=0.1 * half)
    assert head["ci_high"] == pytest.approx(dd.mean() + half, abs=0.1 * half)
    assert head["ci_low"] < head["estimate"] < head["ci_high"]
    # the paired estimate is the difference of the two Kaplan-Meier figures (censoring only at the horizon)
    p = c.as_dict()["p_collapse"]
    for month, est in c.as_dict()["differences"]["p_collapse"].items():
        assert est["estimate"] == pytest.approx(p["other"][month]["estimate"] - p["base"][month]["estimate"],
                                                abs=1e-12)


# --- 3. the as-if-independent log-rank test equals scipy's; the paired tests count the pairs ----

def test_logrank_equals_scipy(pair24):
    c = pair24

    def censored(r):
        assert np.all(r.months[~r.collapsed] == c.horizon)
        return stats.CensoredData(uncensored=r.months[r.collapsed], right=r.months[~r.collapsed])

    res = stats.logrank(censored(c.base.simulation.replications), censored(c.other.simulation.replications))
    assert c.logrank_chi2 == pytest.approx(res.statistic ** 2, rel=1e-8, abs=1e-12)
    assert c.logrank_p == pytest.approx(res.pvalue, rel=1e-8, abs=1e-12)
    assert c.as_dict()["as_if_independent_runs"]["logrank_p"] == c.logrank_p


def test_paired_tests_count_the_discordant_pairs(pair24):
    c = pair24
    a, b = c.base.simulation.replications, c.other.simulation.replications
    xa, xb = a.collapsed & (a.months <= 24), b.collapsed & (b.months <= 24)
    t = c.as_dict()["tests"]
    assert t["collapse_by_horizon"]["base_only"] == int(np.sum(xa & ~xb))
    assert t["collapse_by_horizon"]["other_only"] == int(np.sum(~xa & xb))
    k, n = t["collapse_by_horizon"]["base_only"], t["collapse_by_horizon"]["base_only"] + t["collapse_by_horizon"]["other_only"]
    assert t["collapse_by_horizon"]["p_value"] == pytest.approx(stats.binomtest(k, n, 0.5).pvalue, rel=1e-9)


# --- 4. common random numbers ----------------------------------------------------------------

OTHER_STREAMS = [("tension", "normal"), ("economy", "normal"), ("violations/regime", "uniform"),
                 ("violations/opposition", "uniform"), ("tension_crises", "uniform"),
                 ("offensive>opposition/regime", "uniform"), ("clash/russia/turkey", "uniform")]
SPOILER = "spoiler_attacks/hts"


def _draw_sequence(spoiler_draws_per_step, seed=5, blocks=((0, 1000), (3, 250))):
    streams = BlockStreams(seed, list(blocks))
    seen, spoiler = [], []
    for k in spoiler_draws_per_step:
        for j in range(k):
            spoiler.append(streams.uniform(SPOILER) if j % 2 == 0 else streams.normal(SPOILER))
        for name, method in OTHER_STREAMS:
            seen.append((name, getattr(streams, method)(name)))
    return seen, spoiler


def test_streams_other_than_the_pretext_do_not_depend_on_its_draws():
    steps = 12
    reference, _ = _draw_sequence([0] * steps)
    for pattern in ([1] * steps, [0, 3, 1, 0, 2, 5, 0, 1, 1, 4, 0, 2]):
        seen, spoiler = _draw_sequence(pattern)
        assert len(spoiler) == sum(pattern)
        assert [n for n, _ in seen] == [n for n, _ in reference]
        for (name, x), (_, y) in zip(seen, reference):
            assert np.array_equal(x, y), name
    # not vacuous: the streams differ from one another, and the seed matters
    first = {name: x for name, x in reference[: len(OTHER_STREAMS)]}
    assert not np.array_equal(first["violations/regime"], first["tension_crises"])
    other_seed, _ = _draw_sequence([0] * steps, seed=6)
    assert not np.array_equal(other_seed[0][1], reference[0][1])


def test_block_streams_follow_the_documented_seeding_contract():
    """Stream (block, process) is SeedSequence(seed, spawn_key=(block, process_key(name))); its t-th call gives
    column c the uniform at (t // K) * BLOCK_SIZE * K + c * K + t % K (K = STEPS_PER_DRAW); a normal is the
    inverse normal CDF of its uniform."""
    from scipy.special import ndtri
    from sim.rng import STEPS_PER_DRAW as K
    streams = BlockStreams(5, [(0, BLOCK_SIZE), (3, 250)])
    calls = 2 * K + 3
    got = [streams.normal("tension") for _ in range(calls)]
    sequences = [np.random.Generator(np.random.PCG64(np.random.SeedSequence(5, spawn_key=(b, process_key("tension")))))
                 .random(calls // K * BLOCK_SIZE * K + BLOCK_SIZE * K) for b in (0, 3)]
    for t, x in enumerate(got):
        at = (t // K) * BLOCK_SIZE * K + np.arange(BLOCK_SIZE) * K + t % K
        expected = ndtri(np.concatenate([sequences[0][at], sequences[1][at[:250]]]))
        assert np.array_equal(x, expected), t


def _recording_model(scenario, monkeypatch, seed=7, blocks=((0, 1000), (1, 300)), horizon=24):
    model = CeasefireModel(scenario, BlockStreams(seed, list(blocks)), horizon_months=horizon)
    record: dict[str, list[tuple[str, np.ndarray]]] = defaultdict(list)
    order: list[str] = []
    streams = model.streams
    for method in ("uniform", "normal"):
        original = getattr(streams, method)

        def recorder(name, _original=original, _method=method):
            x = _original(name)
            record[name].append((_method, x.copy()))
            order.append(name)
            return x
        monkeypatch.setattr(streams, method, recorder)
    return model, record, order


def _attack_probability(rate, transformation, dt):
    return -math.expm1(-rate * (1 - transformation) * dt)


def _weekly(scenario):
    """Constant weekly steps (no daily start), so that per-step probabilities are one number."""
    return scenario.model_copy(update={"fine_start_days": 0})


def test_pretext_change_leaves_every_other_process_draw_identical_in_the_model(base, monkeypatch):
    base = _weekly(base)
    changed = _weekly(with_value(base, {"actors.hts.patrol_attack_rate": 3.0}))
    m1, rec1, order1 = _recording_model(base, monkeypatch)
    m2, rec2, order2 = _recording_model(changed, monkeypatch)
    steps = 50
    attacks1, attacks2 = [], []
    for _ in range(steps):
        m1.step()
        m2.step()
        attacks1.append(m1.pretexts[0].attacked_now.copy())
        attacks2.append(m2.pretexts[0].attacked_now.copy())
    assert order1 == order2
    assert set(rec1) == set(rec2)
    assert SPOILER in rec1 and "tension" in rec1 and "violations/regime" in rec1 and len(rec1) >= 10
    for name in rec1:
        assert len(rec1[name]) == len(rec2[name]) == steps, name
        for (k1, x1), (k2, x2) in zip(rec1[name], rec2[name]):
            assert k1 == k2 and np.array_equal(x1, x2), name
    # ... the pretext stream included (same numbers, compared with different thresholds),
    # while what it decides differs.
    a1, a2 = np.array(attacks1), np.array(attacks2)
    assert not np.array_equal(a1, a2)
    assert not np.any(a1 & ~a2)  # a higher rate on the same uniforms only adds attacks
    n = a1.size
    hts = base.actors["hts"]
    for attacks, rate in ((a1, 0.6), (a2, 3.0)):
        p = _attack_probability(rate, hts.transformation, m1.dt)
        # binomial count over steps x replications: within 5 standard deviations
        assert abs(attacks.sum() - n * p) < 5 * math.sqrt(n * p * (1 - p))


def test_pretext_change_leaves_the_exogenous_process_paths_identical(base):
    changed = with_value(base, {"actors.hts.patrol_attack_rate": 3.0})
    models = [CeasefireModel(s, BlockStreams(9, [(0, 1000), (1, 300)]), horizon_months=24) for s in (base, changed)]
    start = models[0].processes.tension.copy()
    differed = False
    for _ in range(50):
        for m in models:
            m.step()
        p1, p2 = models[0].processes, models[1].processes
        for attr in ("tension", "stress", "front_draw", "months_since_crisis"):
            assert np.array_equal(getattr(p1, attr), getattr(p2, attr)), attr
        differed |= not np.array_equal(models[0].pretexts[0].salience, models[1].pretexts[0].salience)
    assert differed
    assert np.std(models[0].processes.tension) > 0 and not np.array_equal(models[0].processes.tension, start)


def test_replications_the_pretext_change_did_not_touch_have_identical_outcomes(base):
    """A small pretext change flips attacks only where the uniform falls between the two thresholds;
    replications with the same attacks at every step must then have the same history."""
    base = _weekly(base)
    changed = _weekly(with_value(base, {"actors.hts.patrol_attack_rate": 0.65}))
    models = [CeasefireModel(s, BlockStreams(11, [(0, 1000), (1, 300)]), horizon_months=24) for s in (base, changed)]
    attacks = [[], []]
    while models[0].steps < models[0].n_steps:
        for i, m in enumerate(models):
            m.step()
            attacks[i].append(m.pretexts[0].attacked_now.copy())
    a1, a2 = np.array(attacks[0]), np.array(attacks[1])
    untouched = ~np.any(a1 != a2, axis=0)
    steps, reps = a1.shape
    hts = base.actors["hts"]
    dt = models[0].dt
    q = _attack_probability(0.65, hts.transformation, dt) - _attack_probability(0.6, hts.transformation, dt)
    expected_share = (1 - q) ** steps
    # binomial count of untouched replications: within 5 standard deviations
    assert abs(untouched.sum() - reps * expected_share) < 5 * math.sqrt(reps * expected_share * (1 - expected_share))
    assert 0 < untouched.sum() < reps
    m1, m2 = models
    assert np.array_equal(m1.collapse_month[untouched], m2.collapse_month[untouched], equal_nan=True)
    assert np.array_equal(m1.initiator[untouched], m2.initiator[untouched])
    assert np.array_equal(m1.trigger[untouched], m2.trigger[untouched])
    for key, totals in m1.incident_totals().items():
        if key != "spoiler_attacks":
            assert np.array_equal(totals[untouched], m2.incident_totals()[key][untouched]), key
    assert np.isfinite(m1.collapse_month[untouched]).sum() > 0  # some of them did collapse


# --- 5. --precision: rounds until the half-width is reached, each keeping the replications before it -------

@pytest.fixture(scope="module")
def precision_pair(base):
    return base, with_value(base, {"actors.russia.interest_in_guarantor": 0.4})


def test_precision_adds_rounds_until_the_half_width_and_reports_that_run_done_at_once(precision_pair):
    (first,) = compare(*precision_pair, runs=1000, seed=5, horizon_months=24, jobs=2)
    # aim at 3,000 runs: from the first round's paired differences, n = (Z sd / P)^2
    a, b = first.base.simulation.replications, first.other.simulation.replications
    d = (b.collapsed & (b.months <= 24)).astype(float) - (a.collapsed & (a.months <= 24)).astype(float)
    P = Z * np.std(d, ddof=1) / math.sqrt(3000)
    (c,) = compare(*precision_pair, runs=1000, seed=5, horizon_months=24, precision=P, max_runs=20_000, jobs=2)
    s = c.stopping
    assert s["first_round_runs"] == 1000 and s["rounds"][0] == 1000 and s["reason"] == "precision reached"
    assert s["rounds"][1] == 3000                 # the first round's estimate, in whole blocks
    runs = s["runs"]
    assert len(c.base.simulation.replications) == runs and c.base.simulation.first_replication == 0
    assert s["headline_half_width"] == c.main_half_width()
    # the half-width on all the runs is near P: the sd of all runs differs from the first round's by sampling
    # error only (a relative standard error of a few per cent at these counts; 25% is over 5 of them)
    assert c.main_half_width() == pytest.approx(P * math.sqrt(3000 / runs), rel=0.25)
    # the rounds keep the earlier replications: the result is the run of that size done at once
    (once,) = compare(*precision_pair, runs=runs, seed=5, horizon_months=24, jobs=1)
    x, y = c.as_dict(), once.as_dict()
    x.pop("stopping"), y.pop("stopping")
    assert json.dumps(x, sort_keys=True, default=str) == json.dumps(y, sort_keys=True, default=str)
    for side in ("base", "other"):
        r, q = getattr(c, side).simulation, getattr(once, side).simulation
        assert np.array_equal(r.replications.months, q.replications.months)
        assert list(r.fan.hist) == list(q.fan.hist)
        assert all(np.array_equal(r.fan.hist[k], q.fan.hist[k]) for k in q.fan.hist)


def test_precision_is_capped_by_max_runs(precision_pair):
    (c,) = compare(*precision_pair, runs=1000, seed=5, horizon_months=24, precision=1e-4, max_runs=2000, jobs=2)
    assert c.stopping["reason"] == "max_runs reached"
    assert c.stopping["runs"] == 2000 and c.as_dict()["runs"] == 2000 and c.stopping["rounds"] == [1000, 2000]
    assert c.main_half_width() > 1e-4


# --- 6. ceasefire compare --------------------------------------------------------------------

CLI_ARGS = ["--runs", "500", "--horizon", "24", "--seed", "3"]


@pytest.fixture(scope="module")
def cli_quiet(tmp_path_factory, other_path):
    import contextlib
    import io
    out = tmp_path_factory.mktemp("cmp") / "c"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        rc = main(["compare", str(BASE_PATH), str(other_path), *CLI_ARGS, "--out", str(out), "--quiet"])
    return rc, out, stdout.getvalue()


def test_cli_compare_writes_the_comparison_directory(cli_quiet, base, other):
    rc, out, stdout = cli_quiet
    assert rc == 0
    assert stdout.strip().splitlines() == [f"Results written to {out}"]
    assert not any(p.name.startswith(".") for p in out.parent.iterdir())  # no temporary leftovers
    d = json.loads((out / "comparison.json").read_text())
    assert {"scenarios", "differences", "tests", "as_if_independent_runs", "variance_reduction",
            "parameter_diff"} <= set(d)
    assert d["scenarios"]["base"]["name"] == "two_sided_test"
    assert d["scenarios"]["other"]["name"] == "two_sided_distracted"
    assert (d["runs"], d["seed"], d["horizon_months"]) == (500, 3, 24)
    assert list(d["differences"]["p_collapse"]) == ["6", "12", "24"]
    for est in [*d["differences"]["p_collapse"].values(), d["differences"]["rmst"], d["differences"]["median"]]:
        assert {"estimate", "ci_low", "ci_high"} <= set(est)
    assert 0 <= d["tests"]["time_to_collapse"]["p_value"] <= 1
    assert {"labels", "counts", "p_value"} <= set(d["as_if_independent_runs"]["initiator_chi_square"])
    assert {"paired_ci_width", "unpaired_ci_width", "width_ratio"} <= set(d["variance_reduction"])
    expected = [{"key": k, "base": a, "other": b} for k, a, b in diff(base, other)]
    assert d["parameter_diff"] == json.loads(json.dumps(expected))
    assert any(row["key"] == "events.patron_distracted.set.actors.russia.distraction" and row["base"] is None
               and row["other"] == 0.5 for row in d["parameter_diff"])
    assert (out / "figures" / "survival_compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for role in ("base", "other"):
        s = json.loads((out / role / "summary.json").read_text())
        assert {"p_collapse", "median_months_to_collapse", "initiator_share", "trigger_share"} <= set(s)
        assert s["runs"] == 500
        assert s["p_collapse"][str(24)]["estimate"] == d["p_collapse"][role]["24"]["estimate"]


def test_cli_compare_base_summary_is_what_ceasefire_run_writes(cli_quiet, tmp_path, capsys):
    _, out, _ = cli_quiet
    assert main(["run", str(BASE_PATH), *CLI_ARGS, "--out", str(tmp_path / "r"), "--quiet"]) == 0
    assert json.loads((out / "base" / "summary.json").read_text()) == \
        json.loads((tmp_path / "r" / "summary.json").read_text())


def test_cli_compare_prints_a_sentence_per_difference(tmp_path, capsys, other_path):
    assert main(["compare", str(BASE_PATH), str(other_path), *CLI_ARGS, "--out", str(tmp_path / "c")]) == 0
    text = capsys.readouterr().out
    for month in (6, 12, 24):
        pattern = (rf"Under two_sided_distracted, P\(collapse within {month} months\) is "
                   rf"\d+\.\d% \[\d+\.\d%, \d+\.\d%\]; under two_sided_test, \d+\.\d% \[")
        assert len(re.findall(pattern, text)) == 1, month
    assert "Over 24 months, the ceasefire" in text
    assert text.strip().splitlines()[-1] == f"Results written to {tmp_path / 'c'}"


def test_cli_compare_two_others_one_directory_per_pair(tmp_path, capsys, other_path):
    variant = tmp_path / "variant.toml"
    variant.write_text(f'base = "{BASE_PATH}"\nname = "variant_hts"\n[actors.hts]\npatrol_attack_rate = 3.0\n')
    out = tmp_path / "c"
    assert main(["compare", str(BASE_PATH), str(other_path), str(variant), *CLI_ARGS, "--out", str(out),
                 "--quiet"]) == 0
    subdirs = {p.name for p in out.iterdir() if p.is_dir()}
    assert subdirs == {"two_sided_test-vs-two_sided_distracted", "two_sided_test-vs-variant_hts"}
    assert not (out / "comparison.json").exists()
    for name in subdirs:
        d = json.loads((out / name / "comparison.json").read_text())
        assert name.endswith(d["scenarios"]["other"]["name"])
        assert (out / name / "base" / "summary.json").exists() and (out / name / "other" / "summary.json").exists()
    v = json.loads((out / "two_sided_test-vs-variant_hts" / "comparison.json").read_text())
    assert {r["key"] for r in v["parameter_diff"]} == {"name", "actors.hts.patrol_attack_rate"}


def test_cli_compare_two_others_with_the_same_name_keep_both_results(tmp_path, capsys):
    v1, v2 = tmp_path / "v1.toml", tmp_path / "v2.toml"
    v1.write_text(f'base = "{BASE_PATH}"\n[actors.hts]\npatrol_attack_rate = 3.0\n')
    v2.write_text(f'base = "{BASE_PATH}"\n[actors.turkey]\ndeterrence = 0.5\n')
    out = tmp_path / "c"
    rc = main(["compare", str(BASE_PATH), str(v1), str(v2), "--runs", "200", "--horizon", "12", "--out", str(out),
               "--quiet"])
    if rc == 2:  # refusing the ambiguous names, writing nothing, would be a fix too
        assert not out.exists()
        return
    assert rc == 0
    diffs = sorted(tuple(r["key"] for r in json.loads(p.read_text())["parameter_diff"])
                   for p in out.glob("*/comparison.json"))
    assert diffs == [("actors.hts.patrol_attack_rate",), ("actors.turkey.deterrence",)]


@pytest.mark.parametrize("flags, message", [
    (["--precision", "0"], "--precision"),
    (["--precision", "2"], "--precision"),
    (["--max-runs", "3000"], "--max-runs needs --precision"),
])
def test_cli_compare_bad_precision_flags_are_usage_errors(flags, message, tmp_path, monkeypatch, capsys, other_path):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "c"
    assert main(["compare", str(BASE_PATH), str(other_path), "--runs", "100", *flags, "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.out == ""
    assert list(tmp_path.iterdir()) == []


def test_cli_compare_missing_other_is_a_usage_error(tmp_path, monkeypatch, capsys, other_path):
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "nope.toml"
    assert main(["compare", str(BASE_PATH), str(other_path), str(missing), "--runs", "100",
                 "--out", str(tmp_path / "c")]) == 2
    captured = capsys.readouterr()
    assert f"{missing}: no such file" in captured.err
    assert list(tmp_path.iterdir()) == []


# --- 7. ceasefire diff -----------------------------------------------------------------------

def test_cli_diff_lists_exactly_the_parameters_that_differ_after_inheritance(tmp_path, capsys):
    base_file = tmp_path / "base.toml"
    base_file.write_text(BASE_PATH.read_text())
    variant = tmp_path / "variant.toml"
    # two real changes, and one override that repeats the base's value (no difference after inheritance)
    variant.write_text('base = "base.toml"\n[actors.hts]\npatrol_attack_rate = 3.0\n'
                       '[actors.turkey]\ndeterrence = 0.5\nresolve = 0.7\n')
    assert main(["diff", str(base_file), str(variant)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    rows = lines[1:]
    assert len(rows) == 2
    parsed = {r.split()[0]: r.split(None, 1)[1] for r in rows}
    assert set(parsed) == {"actors.hts.patrol_attack_rate", "actors.turkey.deterrence"}
    assert re.fullmatch(r"0\.6\s+->\s+3\.0", parsed["actors.hts.patrol_attack_rate"])
    assert re.fullmatch(r"0\.75\s+->\s+0\.5", parsed["actors.turkey.deterrence"])
    assert diff(load_scenario(base_file), load_scenario(variant)) == [
        ("actors.hts.patrol_attack_rate", 0.6, 3.0), ("actors.turkey.deterrence", 0.75, 0.5)]


def test_cli_diff_of_identical_files_says_identical(tmp_path, capsys):
    copy = tmp_path / "copy.toml"
    copy.write_text(BASE_PATH.read_text())
    assert main(["diff", str(BASE_PATH), str(copy)]) == 0
    out = capsys.readouterr().out
    assert "identical" in out
    assert "->" not in out


# --- 8. the number of worker processes does not matter -----------------------------------------

def test_compare_is_the_same_for_any_number_of_jobs(precision_pair):
    # 2,500 runs: three blocks, the last one partial; jobs=2 splits them into separate tasks
    (c1,) = compare(*precision_pair, runs=2500, seed=8, horizon_months=24, jobs=1)
    (c2,) = compare(*precision_pair, runs=2500, seed=8, horizon_months=24, jobs=2)
    assert c1.base.simulation.jobs == 1 and c2.base.simulation.jobs == 2
    assert c1.as_dict() == c2.as_dict()
    assert c1.as_dict()["differences"]["p_collapse"]["24"]["estimate"] != 0  # not a degenerate comparison
