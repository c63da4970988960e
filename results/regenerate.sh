#!/usr/bin/env bash
# Regenerates every committed reference result under results/reference/ at the current commit, in the order
# the results depend on each other: the calibrations first (the bundled forecasts inherit their posteriors),
# then the backtest, the runs, the comparisons and the sweeps. On two cores this takes a few hours, most of it
# in the calibrations. Usage, from the project root: bash results/regenerate.sh [--from STEP] [--jobs J]
# --from STEP resumes at a numbered step below, with the earlier steps' results as they are in results/reference/
# (for instance after the calibrations were made on another machine or in an earlier sitting).
set -euo pipefail
cd "$(dirname "$0")/.."
from=1
if [ "${1:-}" = "--from" ]; then
    from="${2:-}"
    case "$from" in [1-8]) ;; *) echo "regenerate.sh: --from takes a step number, 1 to 8, not '$from'" >&2; exit 2 ;; esac
    shift 2
fi
jobs=("$@")
ref=results/reference
cal=experiments/calibration_cases.toml
step() { [ "$from" -le "$1" ]; }

# The fragments and posteriors the bundled forecasts inherit, from the as-of fits of step 2.
install_asof_fits() {
    cp "$ref/calibration_as_of_2020-03-06/calibrated_syria_as_of_2020-03-06.toml" \
       "$ref/calibration_as_of_2020-03-06/posterior_syria_as_of_2020-03-06.csv" scenarios/
    cp "$ref/calibration_as_of_2021-04-01/calibrated_syria_as_of_2021-04-01.toml" \
       "$ref/calibration_as_of_2021-04-01/posterior_syria_as_of_2021-04-01.csv" scenarios/
    cp "$ref/calibration_as_of_2025-08-06/calibrated_new_conflict_as_of_2025-08-06.toml" \
       "$ref/calibration_as_of_2025-08-06/posterior_as_of_2025-08-06.csv" scenarios/
}

# 1. The calibration on every case's outcome, from two seeds (the reproducibility check), for the backtest: a
#    larger design than the file's (which the as-of fits below use), for the reference's effective sample size and
#    seed-to-seed agreement.
#    The runs per case are shared out by noise (--allocation noise), for the cost of 60 runs of every case (1.5
#    times the earlier reference fit's 40 equal runs): at the posterior 40 equal runs left the summed
#    log-likelihood estimate with a standard deviation of about 3, so that few pseudo-marginal moves were
#    accepted at the last stages and the two seeds disagreed (MODEL.md 10.4-10.5).
design=(--particles 400 --replications 60 --allocation noise)
if step 1; then
    ceasefire calibrate "$cal" "${design[@]}" --out "$ref/calibration" --force "${jobs[@]}"
fi

# 2. Fits with only what was known at each bundled forecast's date; the forecasts inherit these. The two Syrian
#    fits (12 and 14 cases) use the file's design (320 particles, a budget of 32 runs per case shared out by noise).
#    The fit as of 2025-08-06 (19 cases from 7 conflicts) uses the reference design of step 1: with the file's
#    design its summed log-likelihood estimate had a standard deviation of about 3.9 at the last stage, so that
#    only 3% of its moves were accepted and its posterior was too narrow (MODEL.md 10.4).
if step 2; then
    for asof in 2020-03-06 2021-04-01; do
        ceasefire calibrate "$cal" --as-of "$asof" --single --out "$ref/calibration_as_of_$asof" --force --no-report \
            "${jobs[@]}"
    done
    ceasefire calibrate "$cal" --as-of 2025-08-06 --single --particles 400 --replications 60 \
        --out "$ref/calibration_as_of_2025-08-06" --force --no-report "${jobs[@]}"
fi
install_asof_fits

# 3. Out-of-sample forecasts of every case, from the particles of step 1; where importance sampling is unreliable
#    (a case's leave-one-out k-hat above 0.7) and for every conflict left out, the sampler refitted without the
#    held-out cases, on a smaller design than the reference fit's (13 refits; each costs a calibration).
if step 3; then
    ceasefire backtest --calibration "$cal" "${design[@]}" --from "$ref/calibration" --refit both \
        --refit-particles 128 --refit-replications 24 --out "$ref/backtest" --force "${jobs[@]}"
fi

# 4. The Moscow ceasefire as of its signing, and as it happened.
if step 4; then
    ceasefire run scenarios/idlib_2020_moscow.toml --runs 10000 --seed 2020 --out "$ref/run_idlib_2020_moscow" --force "${jobs[@]}"
    ceasefire run scenarios/idlib_2020_moscow_as_it_happened.toml --runs 10000 --seed 2020 \
        --out "$ref/run_idlib_2020_moscow_as_it_happened" --force "${jobs[@]}"
fi

# 5. The documents' comparisons, with the attribution of each difference to the settings that make it.
if step 5; then
    ceasefire compare scenarios/doc000_anxious_continuation.toml scenarios/doc000_renewed_ground_campaign.toml \
        --runs 10000 --seed 2021 --attribute --out "$ref/compare_doc000" --force "${jobs[@]}"
    ceasefire compare scenarios/doc003_s2_limited_support.toml scenarios/doc003_s1_broad_escalation.toml \
        --runs 4000 --seed 2025 --attribute --out "$ref/compare_doc003" --force "${jobs[@]}"
fi

# 6. Sensitivity sweeps around the 2021 baseline.
if step 6; then
    ceasefire sweep experiments/four_factors_sobol.toml --out "$ref/sweep_four_factors_sobol" --restart "${jobs[@]}"
    ceasefire sweep experiments/deterrence_vs_interest_grid.toml --out "$ref/sweep_deterrence_vs_interest_grid" \
        --restart "${jobs[@]}"
fi

# 7. The step check: weekly against daily steps for the bundled forecasts. Only the numbers are kept (the table
#    in results/README.md); the runs themselves go to results/runs/, which git ignores.
if step 7; then
    for s in idlib_2020_moscow idlib_2021_baseline syria_2025_baseline; do
        for d in 7 1; do
            ceasefire run "scenarios/$s.toml" --runs 10000 --seed 7 --step-days "$d" --no-report \
                --out "results/runs/step_check/$s-step$d" --force "${jobs[@]}"
        done
    done
fi

# 8. Reports in both languages, and the speed measurements (on a quiet machine).
#    The as-of fits ran with --no-report, and the backtest has no manifest.json of its own; the run and the
#    comparisons also get their two-page briefs (headless Chromium).
if step 8; then
    for d in "$ref"/*/; do
        [ -f "$d/manifest.json" ] || [ -f "$d/comparison.json" ] || [ -f "$d/calibration.json" ] \
            || [ -f "$d/backtest.json" ] || continue
        [ -f "$d/report.html" ] || ceasefire report "$d"
        ceasefire report "$d" --lang ar
    done
    for d in "$ref"/run_*/ "$ref"/compare_*/; do
        ceasefire report "$d" --brief
        ceasefire report "$d" --lang ar --brief
    done
    # bench writes a directory of its own (it replaces nothing it did not write); only bench.json is kept
    ceasefire bench --out results/bench/reference --force
    cp results/bench/reference/bench.json "$ref/bench.json"
fi
