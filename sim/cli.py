"""The ``ceasefire`` command: parse, call the API, print, choose the exit code."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.scenario import InputError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so main() decides what is printed."""

    def error(self, message):
        raise UsageError(f"{self.prog}: {message}")


def _checked(convert, what: str, ok, limits: str):
    """An argparse type: convert the text, then check it, with messages that say what is allowed."""
    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not {what}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{value:g} {limits}")
        return value
    return parse


_positive_int = _checked(int, "a whole number", lambda v: v >= 1, "must be at least 1")
_seed = _checked(int, "a whole number", lambda v: v >= 0, "must be 0 or more")
_nonneg_int = _seed
_months = _checked(float, "a number of months", lambda v: 1 <= v <= 600, "is outside 1 to 600 months")
def _date(text: str):
    import datetime as dt
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date (YYYY-MM-DD)") from None


_step_days = _checked(int, "a whole number of days", lambda v: 1 <= v <= 31, "is outside 1 to 31 days")
_probability = _checked(float, "a number", lambda v: 0 < v < 1,
                        "must be between 0 and 1 (a probability difference)")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="ceasefire", description="Scenario simulation of ceasefire durability.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p = sub.add_parser("validate", help="check scenario files")
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--citations", action="store_true",
                   help="also audit citations against docs/SOURCES.md: keys exist, none dated after the "
                        "file's start, every value cites a source or says 'judgement'")

    p = sub.add_parser("run", help="Monte Carlo replications of one scenario")
    p.add_argument("scenario", type=Path)
    _common_run_flags(p)
    p.add_argument("--replication", type=_nonneg_int, metavar="I",
                   help="re-run replication I alone and print its month-by-month history")

    p = sub.add_parser("compare", help="paired comparison of scenarios on common random numbers")
    p.add_argument("base", type=Path)
    p.add_argument("others", type=Path, nargs="+", metavar="OTHER")
    _common_run_flags(p)
    p.add_argument("--precision", type=_probability, metavar="P",
                   help="treat --runs as a pilot, then run the replications that give a 95%% CI half-width of P "
                        "on the headline difference (a fresh batch, reported alone)")
    p.add_argument("--max-runs", type=_positive_int, metavar="N", help="cap for --precision (default 100 x --runs)")
    p.add_argument("--attribute", action="store_true",
                   help="split the headline difference into the Shapley contributions of the settings that differ")
    p.add_argument("--permutations", type=_positive_int, default=64, metavar="M",
                   help="random orders for --attribute above 8 settings (default 64)")

    p = sub.add_parser("sweep", help="sensitivity sweep of an experiment file (resumable)")
    p.add_argument("experiment", type=Path)
    p.add_argument("--jobs", type=_positive_int, metavar="J", help="local worker processes (default: all cores)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run on a Dask cluster, e.g. tcp://host:8786")
    p.add_argument("--out", type=Path, metavar="DIR", help="result directory (default results/sweeps/<name>)")
    p.add_argument("--restart", action="store_true", help="discard a partial sweep in the directory")
    p.add_argument("--no-posterior", action="store_true",
                   help="point values of the calibrated rates instead of spreading replications over their posterior")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no table")
    _report_flag(p)

    p = sub.add_parser("bench", help="measure speed as ratios: engine share, wasted work, scaling, memory")
    p.add_argument("scenario", type=Path, nargs="?", default=Path("scenarios/idlib_2020_moscow.toml"))
    p.add_argument("--runs", type=_positive_int, default=10_000, metavar="N", help="replications (default 10000)")
    p.add_argument("--repeats", type=_positive_int, default=3, metavar="K", help="repetitions per figure (median)")
    p.add_argument("--sweep", type=Path, default=Path("experiments/bench_sweep.toml"),
                   metavar="EXPERIMENT", help="experiment for the sweep figures")
    p.add_argument("--calibration", type=Path, default=Path("experiments/calibration_cases.toml"),
                   metavar="FILE", help="calibration whose likelihood evaluation is timed")
    p.add_argument("--compare", type=Path, nargs=2, metavar=("BASE", "OTHER"),
                   default=[Path("scenarios/doc000_anxious_continuation.toml"),
                            Path("scenarios/doc000_renewed_ground_campaign.toml")],
                   help="scenarios whose compare --precision is timed")
    p.add_argument("--out", type=Path, metavar="DIR", help="where bench.json goes (default results/bench/<stamp>)")

    p = sub.add_parser("calibrate", help="fit the mechanism parameters to the historical cases (two seeds)")
    p.add_argument("calibration", type=Path)
    p.add_argument("--jobs", type=_positive_int, metavar="J", help="worker processes (default: all cores)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run on a Dask cluster, e.g. tcp://host:8786")
    p.add_argument("--single", action="store_true",
                   help="one run of the sampler only (no reproducibility check from a second seed)")
    p.add_argument("--as-of", type=_date, metavar="YYYY-MM-DD",
                   help="fit with only what was known on this date (later cases left out, later outcomes censored)")
    p.add_argument("--out", type=Path, metavar="DIR", help="result directory (default results/calibration/<name>)")
    p.add_argument("--quiet", action="store_true")
    _report_flag(p)

    p = sub.add_parser("backtest", help="out-of-sample forecasts of the historical cases, scored against baselines")
    p.add_argument("--calibration", type=Path, default=Path("experiments/calibration_cases.toml"), metavar="FILE",
                   help="the calibration definition (default experiments/calibration_cases.toml)")
    p.add_argument("--from", dest="from_dir", type=Path, metavar="DIR",
                   help="reuse the particles of a calibration result directory instead of calibrating again")
    p.add_argument("--cases", type=Path, metavar="DIR", help="directory of historical scenario files "
                   "(default: the calibration file's list)")
    p.add_argument("--no-neutralise", action="store_true", help="skip the neutralisation check")
    p.add_argument("--jobs", type=_positive_int, metavar="J")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run on a Dask cluster, e.g. tcp://host:8786")
    p.add_argument("--out", type=Path, metavar="DIR", default=Path("results/backtest"),
                   help="result directory (default results/backtest)")
    p.add_argument("--quiet", action="store_true")
    _report_flag(p)

    p = sub.add_parser("report", help="write DIR/report.html: a self-contained page of a result directory")
    p.add_argument("directory", type=Path, metavar="DIR", help="a run, compare, sweep or backtest directory")
    p.add_argument("--open", action="store_true", help="open the report in the default web browser")

    p = sub.add_parser("diff", help="parameters that differ between two scenarios after inheritance")
    p.add_argument("a", type=Path)
    p.add_argument("b", type=Path)

    p = sub.add_parser("params", help="list every scenario parameter with its range, unit and source")
    p.add_argument("--role", choices=["guarantor", "patron", "belligerent", "pretext", "supporter", "monitor",
                                      "mediator", "agreement", "processes", "dynamics"])
    return parser


def _common_run_flags(p) -> None:
    p.add_argument("--no-posterior", action="store_true",
                   help="point values of the calibrated rates instead of spreading replications over their posterior")
    p.add_argument("--runs", type=_positive_int, default=1000, metavar="N", help="replications (default 1000)")
    p.add_argument("--step-days", type=_step_days, metavar="D",
                   help="length of a step in days, 1 to 31 (default: the scenario's); 1 simulates day by day")
    p.add_argument("--seed", type=_seed, default=0, metavar="S", help="root seed (default 0)")
    p.add_argument("--horizon", type=_months, metavar="MONTHS", help="months to simulate (default: the scenario's)")
    p.add_argument("--jobs", type=_positive_int, metavar="J", help="worker processes (default: all cores)")
    p.add_argument("--out", type=Path, metavar="DIR", help="result directory")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no table")
    _report_flag(p)


def _report_flag(p) -> None:
    p.add_argument("--no-report", action="store_true", help="do not write report.html (and figures/)")


def _write_report(directory: Path, args) -> bool:
    """DIR/report.html once the results are complete; False (and a message) if it could not be written."""
    if args.no_report:
        return True
    from sim.report import write_report
    try:
        path = write_report(directory)
    except Exception as exc:  # noqa: BLE001 - the results are written; say why the page is not
        print(f"{directory}: report.html not written ({exc.__class__.__name__}: {exc}); the results are "
              f"complete, run 'ceasefire report {directory}' to try again", file=sys.stderr)
        return False
    if not args.quiet:
        print(f"Report written to {path}")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = None
    argv = sys.argv[1:] if argv is None else list(argv)
    from sim import store
    store.command_line = " ".join(["ceasefire", *map(str, argv)])
    try:
        args = parser.parse_args(argv)
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    except InputError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        if getattr(args, "command", None) == "sweep":
            print("interrupted: the completed points are kept; run the same command again to resume",
                  file=sys.stderr)
        else:
            print("interrupted: no result was written", file=sys.stderr)
        return 130


# --- commands --------------------------------------------------------------------------------

def cmd_validate(args) -> int:
    from sim.scenario import load_scenario
    from sim.scenario import is_fragment, validate_fragment
    problems = []
    for path in args.files:
        try:
            if is_fragment(path):
                validate_fragment(path)
                start = None
            else:
                start = load_scenario(path).start
            if args.citations:
                problems.extend(_citation_problems(path, start))
        except InputError as exc:
            problems.extend(exc.problems)
    for line in problems:
        print(line, file=sys.stderr)
    if not problems:
        print(f"{len(args.files)} file(s) valid")
    return EXIT_USAGE if problems else EXIT_OK


def _citation_problems(path: Path, start) -> list[str]:
    from sim.sources import audit_file, find_bibliography, read_bibliography
    found = find_bibliography(path)
    if found is None:
        return [f"{path}: --citations: no docs/SOURCES.md in this directory or above it"]
    return audit_file(path, read_bibliography(found), start)


def _with_step(scenario, args):
    """The scenario with --step-days applied (the step is a numerical choice, not part of the scenario)."""
    if args.step_days is None:
        return scenario
    return scenario.model_copy(update={"step_days": args.step_days})


def cmd_run(args) -> int:
    from sim import store
    from sim.montecarlo import LocalExecutor, replay, task_chunks
    from sim.rng import blocks_for
    from sim.scenario import load_scenario
    from sim.tables import history_table, run_table

    if args.replication is not None:
        scenario = _with_step(load_scenario(args.scenario), args)
        if args.out is not None:
            print("note: --replication prints one replication's history and writes nothing; --out is not used",
                  file=sys.stderr)
        from sim.api import run_plan
        plan = run_plan(scenario, seed=args.seed, use_posterior=not args.no_posterior)
        rows, outcome = replay(scenario, seed=args.seed, replication=args.replication, horizon_months=args.horizon,
                               plan=plan)
        print(history_table(scenario, args.replication, args.seed, rows, outcome))
        return EXIT_OK
    with LocalExecutor(args.jobs) as executor:
        # the workers start now and import the engine while this process reads the scenario
        executor.start(len(task_chunks(blocks_for(args.runs), executor.jobs)))
        from sim.api import run
        scenario = _with_step(load_scenario(args.scenario), args)
        out = args.out or Path("results/runs") / f"{scenario.name}-{store.utc_stamp()}"
        from sim.plots import preload
        preload()   # matplotlib for the figures, imported while the workers compute
        with store.result_directory(out) as tmp:
            # runs.csv is written batch by batch while the workers compute the next ones
            with store.RunsCsv(tmp / "runs.csv") as rows, _progress(args.quiet, args.runs, "replications") as progress:
                result = run(scenario, runs=args.runs, seed=args.seed, horizon_months=args.horizon,
                             progress=progress, use_posterior=not args.no_posterior, executor=executor,
                             on_batch=rows.add)
            store.write_run_files(result, tmp, per_replication=False)
    if not args.quiet:
        print(run_table(result))
    reported = _write_report(out, args)
    print(f"Results written to {out}")
    return EXIT_OK if reported else EXIT_FAILURE


def cmd_compare(args) -> int:
    from sim import store
    from sim.api import compare
    from sim.scenario import load_scenario
    from sim.tables import comparison_text

    base = _with_step(load_scenario(args.base), args)
    others = [_with_step(load_scenario(p), args) for p in args.others]
    if args.max_runs is not None and args.precision is None:
        raise UsageError("ceasefire compare: --max-runs needs --precision")
    total = args.runs * (1 + len(others))
    with _progress(args.quiet, total, "replications") as progress:
        comparisons = compare(base, others, runs=args.runs, seed=args.seed, jobs=args.jobs,
                              horizon_months=args.horizon, precision=args.precision, max_runs=args.max_runs,
                              progress=progress, use_posterior=not args.no_posterior, attribute=args.attribute,
                              permutations=args.permutations)
    stamp = store.utc_stamp()
    names = [c.other.scenario.name for c in comparisons]
    reported = True
    for i, c in enumerate(comparisons):
        pair = f"{base.name}-vs-{names[i]}"
        if names.count(names[i]) > 1:  # variants that inherit their base's name must not overwrite each other
            pair += f"-{i + 1}"
        if args.out is None:
            out = Path("results/compare") / f"{pair}-{stamp}"
        else:
            out = args.out if len(comparisons) == 1 else args.out / pair
        store.save_comparison(c, out)
        if not args.quiet:
            print(comparison_text(c))
        reported = _write_report(out, args) and reported
        print(f"Results written to {out}")
    return EXIT_OK if reported else EXIT_FAILURE


def cmd_sweep(args) -> int:
    from sim.api import sweep
    from sim.distributed import DistributedUnavailable
    from sim.experiment import load_experiment
    from sim.tables import sensitivity_text

    loaded = load_experiment(args.experiment)
    if args.scheduler is not None and args.jobs is not None:
        raise UsageError("ceasefire sweep: give either --jobs (local) or --scheduler (Dask), not both")
    out = args.out or Path("results/sweeps") / loaded.experiment.name
    from sim.plots import preload
    preload()   # matplotlib for the sweep's figures, imported while the workers compute
    try:
        with _progress(args.quiet, None, "points") as progress:
            analysis = sweep(loaded, out, jobs=args.jobs, scheduler=args.scheduler, restart=args.restart,
                             progress=progress, use_posterior=False if args.no_posterior else None)
    except DistributedUnavailable as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    if not args.quiet:
        print(sensitivity_text(loaded, analysis))
    reported = _write_report(out, args)
    print(f"Results written to {out}")
    return EXIT_OK if reported else EXIT_FAILURE


def cmd_bench(args) -> int:
    from sim import store
    from sim.bench import bench
    from sim.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    if not args.sweep.exists():
        raise InputError([f"{args.sweep}: no such file (--sweep)"])
    out = args.out or Path("results/bench") / store.utc_stamp()
    for path in (args.calibration, *args.compare):
        if not path.exists():
            raise InputError([f"{path}: no such file"])
    results = bench(scenario, args.scenario, runs=args.runs, repeats=args.repeats, sweep_experiment=args.sweep,
                    calibration=args.calibration, compare_pair=tuple(args.compare), report=print)
    store.write_json(Path(out) / "bench.json", results)
    print(f"Results written to {out / 'bench.json'}")
    return EXIT_OK


def _executor(args):
    if getattr(args, "scheduler", None) is not None:
        if args.jobs is not None:
            raise UsageError(f"ceasefire {args.command}: give either --jobs (local) or --scheduler (Dask), not both")
        from sim.distributed import DaskExecutor
        return DaskExecutor(args.scheduler)
    from sim.montecarlo import LocalExecutor
    return LocalExecutor(args.jobs)


def _stage_printer(args, seed: int):
    """A line on stderr per stage of the sampler (temperature, ESS, acceptance), unless --quiet."""
    if args.quiet:
        return None

    def show(phi, stage):
        print(f"  seed {seed}: temperature {phi:.3f}, ESS {stage['ess']:.0f}, acceptance {stage['acceptance']:.2f}, "
              f"{stage['evaluations']} likelihood evaluations", file=sys.stderr, flush=True)
    return show


def cmd_calibrate(args) -> int:
    from sim import store
    from sim.calibration import (calibration_report, fit_report, load_calibration, reproducibility, run_smc)
    from sim.backtest import predictive_runs
    from sim.tables import calibration_text

    cal, priors, cases = load_calibration(args.calibration, as_of=args.as_of)
    out = args.out or Path("results/calibration") / (cal.name + (f"_as_of_{cal.as_of}" if cal.as_of else ""))
    with _executor(args) as ex:
        first = run_smc(cal, priors, cases, ex, progress=_stage_printer(args, cal.seed))
        second = None if args.single else run_smc(cal, priors, cases, ex, seed=cal.seed + 1,
                                                  progress=_stage_printer(args, cal.seed + 1))
        fit = fit_report(first, predictive_runs(first, ex, new_conflict=False))
    report = calibration_report(first, None if second is None else reproducibility(first, second), fit)
    conflicts = sorted({c.conflict for c in cases})
    suffix = f"_as_of_{cal.as_of}" if cal.as_of else ""
    posteriors = {"": f"{suffix}", **{c: f"_{c}{suffix}" for c in conflicts}}
    store.save_calibration(first, report, out, posteriors=posteriors, definition_file=args.calibration)
    if not args.quiet:
        print(calibration_text(report))
    reported = _write_report(out, args)
    print(f"Results written to {out}")
    return EXIT_OK if reported else EXIT_FAILURE


def cmd_backtest(args) -> int:
    from sim import store
    from sim.backtest import backtest
    from sim.calibration import load_calibration, read_particles, run_smc
    from sim.tables import backtest_text

    cal, priors, cases = load_calibration(args.calibration, args.cases)
    with _executor(args) as ex:
        if args.from_dir is not None:
            result = read_particles(args.from_dir, cal, priors, cases, cal.seed)
        else:
            result = run_smc(cal, priors, cases, ex, progress=_stage_printer(args, cal.seed))
        bt = backtest(result, ex, neutralise=not args.no_neutralise)
    store.save_backtest(bt, args.out, extra={"calibration_file": str(args.calibration),
                                             "particles_from": None if args.from_dir is None else str(args.from_dir),
                                             "cases": [c.name for c in cases]})
    if not args.quiet:
        print(backtest_text(bt))
    reported = _write_report(args.out, args)
    print(f"Results written to {args.out}")
    return EXIT_OK if reported else EXIT_FAILURE


def cmd_report(args) -> int:
    from sim.report import NotAResultDirectory, open_report, write_report
    try:
        path = write_report(args.directory)
    except NotAResultDirectory as exc:
        raise InputError([str(exc)]) from None
    print(f"Report written to {path}")
    if args.open and not open_report(path):
        print(f"no web browser could be started; open {path.resolve().as_uri()}", file=sys.stderr)
    return EXIT_OK


def cmd_diff(args) -> int:
    from sim.scenario import diff, load_scenario
    from sim.tables import diff_table
    a, b = load_scenario(args.a), load_scenario(args.b)
    print(diff_table(diff(a, b), a.name, b.name))
    return EXIT_OK


def cmd_params(args) -> int:
    from sim.tables import parameter_table
    print(parameter_table(args.role))
    return EXIT_OK


class _progress:
    """A tqdm bar on stderr when it is a terminal; nothing otherwise."""

    def __init__(self, quiet: bool, total: int, unit: str):
        self.enabled = not quiet and sys.stderr.isatty()
        self.total, self.unit, self.bar = total, unit, None

    def __enter__(self):
        if not self.enabled:
            return None
        from tqdm import tqdm
        self.bar = tqdm(total=self.total, unit=f" {self.unit}", file=sys.stderr, smoothing=0.1)
        last = [0]

        def update(done, total):
            if self.bar.total != total:
                self.bar.total = total
                self.bar.refresh()
            self.bar.update(done - last[0])
            last[0] = done
        return update

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()


COMMANDS = {"validate": cmd_validate, "run": cmd_run, "compare": cmd_compare, "sweep": cmd_sweep, "bench": cmd_bench,
            "calibrate": cmd_calibrate, "backtest": cmd_backtest, "report": cmd_report,
            "diff": cmd_diff,
            "params": cmd_params}


if __name__ == "__main__":
    sys.exit(main())
