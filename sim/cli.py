"""The ``ceasefire`` command: parse, call the API, print, choose the exit code."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from sim.scenario import InputError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
EXIT_TERMINATED = 128 + signal.SIGTERM
BACKTEST_OUT = Path("results/reference/backtest")


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


def _path(text: str) -> Path:
    """An argparse type for file and directory arguments: not empty, no NUL byte."""
    if not text:
        raise argparse.ArgumentTypeError("'' is not a path")
    if "\0" in text:
        raise argparse.ArgumentTypeError(f"{text!r} is not a path (it contains a NUL byte)")
    return Path(text)


_positive_int = _checked(int, "a whole number", lambda v: v >= 1, "must be at least 1")
_seed = _checked(int, "a whole number", lambda v: v >= 0, "must be 0 or more")
_nonneg_int = _seed
_months = _checked(float, "a number of months", lambda v: 1 <= v <= 600, "is outside 1 to 600 months")
_probability = _checked(float, "a number", lambda v: 0 < v < 1,
                        "must be between 0 and 1 (a probability difference)")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="ceasefire", description="Scenario simulation of ceasefire durability.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p = sub.add_parser("validate", help="check scenario, experiment and calibration files")
    p.add_argument("files", nargs="+", type=_path)

    p = sub.add_parser("run", help="Monte Carlo replications of one scenario")
    p.add_argument("scenario", type=_path)
    _common_run_flags(p)
    p.add_argument("--replication", type=_nonneg_int, metavar="I",
                   help="re-run replication I alone and print its month-by-month history")

    p = sub.add_parser("compare", help="paired comparison of scenarios on common random numbers")
    p.add_argument("base", type=_path)
    p.add_argument("others", type=_path, nargs="+", metavar="OTHER")
    _common_run_flags(p)
    p.add_argument("--precision", type=_probability, metavar="P",
                   help="add replications until the 95%% CI half-width of the headline difference is at most P")
    p.add_argument("--max-runs", type=_positive_int, metavar="N", help="cap for --precision (default 100 x --runs)")

    p = sub.add_parser("sweep", help="sensitivity sweep of an experiment file (resumable)")
    p.add_argument("experiment", type=_path)
    p.add_argument("--jobs", type=_positive_int, metavar="J", help="local worker processes (default: all cores)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run on a Dask cluster, e.g. tcp://host:8786")
    p.add_argument("--out", type=_path, metavar="DIR", help="result directory (default results/sweeps/<name>)")
    p.add_argument("--restart", action="store_true", help="discard a partial sweep in the directory")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no table")
    _report_flag(p)

    p = sub.add_parser("bench", help="measure throughput ratios (batched, kernel, jobs, memory, sweep)")
    p.add_argument("scenario", type=_path, nargs="?", default=Path("scenarios/idlib_2020_moscow.toml"))
    p.add_argument("--runs", type=_positive_int, default=10_000, metavar="N", help="replications (default 10000)")
    p.add_argument("--repeats", type=_positive_int, default=3, metavar="K", help="repetitions per figure (median)")
    p.add_argument("--sweep", type=_path, default=Path("experiments/bench_sweep.toml"),
                   metavar="EXPERIMENT", help="experiment for the sweep figure")
    p.add_argument("--out", type=_path, metavar="DIR", help="where bench.json goes (default results/bench/<stamp>)")
    _force_flag(p)

    p = sub.add_parser("calibrate", help="fit the free global rates to the historical cases")
    p.add_argument("calibration", type=_path)
    p.add_argument("--jobs", type=_positive_int, metavar="J", help="worker processes (default: all cores)")
    p.add_argument("--out", type=_path, metavar="DIR", help="result directory (default results/calibration/<name>)")
    _force_flag(p)
    p.add_argument("--quiet", action="store_true")
    _report_flag(p)

    p = sub.add_parser("backtest", help="leave-one-out forecasts of the historical cases, scored")
    p.add_argument("--cases", type=_path, metavar="DIR", help="directory of historical scenario files "
                   "(default: the calibration file's list)")
    p.add_argument("--calibration", type=_path, default=Path("experiments/calibration_idlib.toml"), metavar="FILE")
    p.add_argument("--jobs", type=_positive_int, metavar="J")
    p.add_argument("--out", type=_path, metavar="DIR",
                   help=f"result directory (default {BACKTEST_OUT})")
    _force_flag(p)
    p.add_argument("--quiet", action="store_true")
    _report_flag(p)

    p = sub.add_parser("report", help="write DIR/report.html: a self-contained page of a result directory")
    p.add_argument("directory", type=_path, metavar="DIR", help="a run, compare, sweep or backtest directory")
    p.add_argument("--open", action="store_true", help="open the report in the default web browser")

    p = sub.add_parser("diff", help="parameters that differ between two scenarios after inheritance")
    p.add_argument("a", type=_path)
    p.add_argument("b", type=_path)

    p = sub.add_parser("params", help="list every scenario parameter with its range, unit and source")
    p.add_argument("--role", choices=["guarantor", "patron", "belligerent", "pretext", "supporter",
                                      "processes", "dynamics"])
    return parser


def _common_run_flags(p) -> None:
    p.add_argument("--runs", type=_positive_int, default=1000, metavar="N", help="replications (default 1000)")
    p.add_argument("--seed", type=_seed, default=0, metavar="S", help="root seed (default 0)")
    p.add_argument("--horizon", type=_months, metavar="MONTHS", help="months to simulate (default: the scenario's)")
    p.add_argument("--jobs", type=_positive_int, metavar="J", help="worker processes (default: all cores)")
    p.add_argument("--out", type=_path, metavar="DIR", help="result directory")
    _force_flag(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar, no table")
    _report_flag(p)


def _force_flag(p) -> None:
    p.add_argument("--force", action="store_true",
                   help="replace a previous result of the same kind in --out (never anything else)")


def _report_flag(p) -> None:
    p.add_argument("--no-report", action="store_true", help="do not write report.html (and figures/)")


def _write_report(directory: Path, args) -> bool:
    """DIR/report.html once the results are complete; False (and a message) if it could not be written."""
    if args.no_report:
        return True
    from sim.crashlog import write_crash_log
    from sim.report import write_report
    try:
        path = write_report(directory)
    except Exception as exc:  # noqa: BLE001 - the results are written; say why the page is not
        from sim import store
        log = write_crash_log(exc, store.command_line)
        print(f"{directory}: report.html not written ({exc.__class__.__name__}: {_short(exc)}); the results are "
              f"complete, run 'ceasefire report {directory}' to try again"
              + (f"; details in {log}" if log else ""), file=sys.stderr)
        return False
    if not args.quiet:
        print(f"Report written to {path}")
    return True


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that the same clean-up as for Ctrl-C runs."""


def _on_sigterm(signum, frame):
    raise Terminated()


def _short(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def main(argv: list[str] | None = None) -> int:
    """Run one command; the exit code: 0 done, 2 bad input (one message naming the file and key),
    1 an internal error (a short message and the path of a log with the traceback), 130/143 when
    interrupted by Ctrl-C/SIGTERM."""
    from sim import store
    from sim.limits import shown_problems
    parser = build_parser()
    args = None
    argv = sys.argv[1:] if argv is None else list(argv)
    store.command_line = " ".join(["ceasefire", *map(str, argv)])
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        args = parser.parse_args(argv)
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    except InputError as exc:
        for line in shown_problems(exc.problems, getattr(exc, "more", 0)):
            print(line, file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as exc:
        what = "terminated" if isinstance(exc, Terminated) else "interrupted"
        if getattr(args, "command", None) == "sweep":
            print(f"{what}: the completed points are kept; run the same command again to resume",
                  file=sys.stderr)
        else:
            print(f"{what}: no result was written", file=sys.stderr)
        return EXIT_TERMINATED if isinstance(exc, Terminated) else 130
    except Exception as exc:  # noqa: BLE001 - a genuine internal error: one line here, the traceback in a log
        from sim.crashlog import write_crash_log
        log = write_crash_log(exc, store.command_line)
        where = f"the traceback is in {log}" if log else "no log could be written"
        print(f"ceasefire: internal error ({exc.__class__.__name__}: {_short(exc)}); nothing half-written was "
              f"left; {where}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


# --- commands --------------------------------------------------------------------------------

def cmd_validate(args) -> int:
    """Each file is checked as what its keys say it is: scenario, parameter fragment, experiment or
    calibration (a file whose keys do not tell is checked as a scenario)."""
    from sim.calibration import load_calibration
    from sim.experiment import load_experiment
    from sim.filekinds import kind_of
    from sim.scenario import load_scenario, read_toml, validate_fragment
    problems, more, kinds = [], 0, []
    for path in args.files:
        try:
            kind = kind_of(read_toml(path)) or "scenario"
            if kind == "fragment":
                validate_fragment(path)
            elif kind == "experiment":
                load_experiment(path)
            elif kind == "calibration":
                load_calibration(path)
            else:
                load_scenario(path)
            kinds.append(kind)
        except InputError as exc:
            problems.extend(exc.problems)
            more += getattr(exc, "more", 0)
    if problems:
        raise InputError(problems, more=more)
    words = {"scenario": "scenario", "fragment": "parameter fragment", "experiment": "experiment",
             "calibration": "calibration"}
    counts = [f"{kinds.count(k)} {words[k]}{'s' if kinds.count(k) > 1 else ''}" for k in words if k in kinds]
    print(f"{len(args.files)} file(s) valid: {', '.join(counts)}")
    return EXIT_OK


def _claim(out: Path, kind: str, args, default: bool):
    from sim.outdir import claim
    return claim(out, kind, force=getattr(args, "force", False), default=default)


def _preflight(out: Path, kind: str, args, default: bool) -> None:
    from sim.outdir import preflight
    preflight(out, kind, force=getattr(args, "force", False), default=default)


def _jobs(requested: int | None) -> int | None:
    """--jobs as the executor will use it (capped at a few times the cores), with a note if capped."""
    from sim.workers import JOBS_PER_CORE, cap_jobs, max_jobs, usable_cores
    if requested is None:
        return None
    if requested > max_jobs():
        print(f"note: --jobs {requested} is more than {JOBS_PER_CORE} x the {usable_cores()} core(s); using "
              f"{max_jobs()}", file=sys.stderr)
    return cap_jobs(requested)


def cmd_run(args) -> int:
    from sim import budget, store
    from sim.api import run
    from sim.montecarlo import default_jobs, replay
    from sim.scenario import load_scenario
    from sim.tables import history_table, run_table

    scenario = load_scenario(args.scenario)
    if args.replication is not None:
        if args.out is not None:
            print("note: --replication prints one replication's history and writes nothing; --out is not used",
                  file=sys.stderr)
        rows, outcome = replay(scenario, seed=args.seed, replication=args.replication, horizon_months=args.horizon)
        print(history_table(scenario, args.replication, args.seed, rows, outcome))
        return EXIT_OK
    jobs = _jobs(args.jobs)
    out = args.out or Path("results/runs") / f"{scenario.name}-{store.utc_stamp()}"
    _preflight(out, "run", args, default=args.out is None)
    budget.check_run(args.runs, jobs or default_jobs(), out)
    with _claim(out, "run", args, default=args.out is None):
        # runs.csv is streamed into the directory under construction: memory stays flat in --runs
        with store.result_directory(out, kind="run") as tmp:
            with store.RunsCsv(tmp / "runs.csv") as rows, \
                    _progress(args.quiet, args.runs, "replications") as progress:
                result = run(scenario, runs=args.runs, seed=args.seed, jobs=jobs, horizon_months=args.horizon,
                             progress=progress, on_batch=rows.add)
            store.write_run_files(result, tmp)
        if not args.quiet:
            print(run_table(result))
        reported = _write_report(out, args)
    print(f"Results written to {out}")
    return EXIT_OK if reported else EXIT_FAILURE


def cmd_compare(args) -> int:
    from sim import budget, store
    from sim.api import compare
    from sim.montecarlo import default_jobs
    from sim.scenario import load_scenario
    from sim.tables import comparison_text

    base = load_scenario(args.base)
    others = [load_scenario(p) for p in args.others]
    if args.max_runs is not None and args.precision is None:
        raise UsageError("ceasefire compare: --max-runs needs --precision")
    jobs = _jobs(args.jobs)
    stamp = store.utc_stamp()
    names = [o.name for o in others]
    pairs = []
    for i, name in enumerate(names):
        pair = f"{base.name}-vs-{name}"
        if names.count(name) > 1:  # variants that inherit their base's name must not overwrite each other
            pair += f"-{i + 1}"
        pairs.append(pair)
    if args.out is None:
        targets = [Path("results/compare") / f"{pair}-{stamp}" for pair in pairs]
        claimed = [(t, "compare") for t in targets]
    elif len(others) == 1:
        targets = [args.out]
        claimed = [(args.out, "compare")]
    else:
        targets = [args.out / pair for pair in pairs]
        claimed = [(args.out, "compare-set")]
    for path, kind in claimed:
        _preflight(path, kind, args, default=args.out is None)
    most = args.runs if args.precision is None else max(args.runs, args.max_runs or 100 * args.runs)
    budget.check_compare(most, 1 + len(others), jobs or default_jobs())
    from contextlib import ExitStack
    with ExitStack() as held:
        for path, kind in claimed:  # before the first replication: a refused --out costs nothing
            held.enter_context(_claim(path, kind, args, default=args.out is None))
        total = args.runs * (1 + len(others))
        with _progress(args.quiet, total, "replications") as progress:
            comparisons = compare(base, others, runs=args.runs, seed=args.seed, jobs=jobs,
                                  horizon_months=args.horizon, precision=args.precision, max_runs=args.max_runs,
                                  progress=progress)
        reported = True
        for c, out in zip(comparisons, targets):
            store.save_comparison(c, out)
            if not args.quiet:
                print(comparison_text(c))
            reported = _write_report(out, args) and reported
            print(f"Results written to {out}")
    return EXIT_OK if reported else EXIT_FAILURE


def cmd_sweep(args) -> int:
    from sim import budget
    from sim.api import sweep
    from sim.distributed import DistributedUnavailable
    from sim.experiment import design_size, load_experiment
    from sim.montecarlo import default_jobs
    from sim.tables import sensitivity_text

    loaded = load_experiment(args.experiment)
    if args.scheduler is not None and args.jobs is not None:
        raise UsageError("ceasefire sweep: give either --jobs (local) or --scheduler (Dask), not both")
    e = loaded.experiment
    jobs = _jobs(args.jobs)
    out = args.out or Path("results/sweeps") / e.name
    _preflight(out, "sweep", args, default=args.out is None)
    budget.check_sweep(loaded.path, design_size(e.sampler, e.points, len(e.factors)), len(e.factors),
                       len(e.outcomes), e.replications, e.keep_replications,
                       1 if args.scheduler else (jobs or default_jobs()), out)
    with _claim(out, "sweep", args, default=args.out is None):
        try:
            with _progress(args.quiet, None, "points") as progress:
                analysis = sweep(loaded, out, jobs=jobs, scheduler=args.scheduler, restart=args.restart,
                                 progress=progress)
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
    from sim.scenario import load_scenario, read_input

    scenario = load_scenario(args.scenario)
    read_input(args.sweep, "--sweep")
    out = args.out or Path("results/bench") / store.utc_stamp()
    with _claim(out, "bench", args, default=args.out is None):
        results = bench(scenario, args.scenario, runs=args.runs, repeats=args.repeats, sweep_experiment=args.sweep,
                        report=print)
        with store.result_directory(out, kind="bench") as tmp:
            store.write_json(tmp / "bench.json", results)
    print(f"Results written to {out / 'bench.json'}")
    return EXIT_OK


def _calibrate(args, kind: str, cases_dir=None, out=None, default=False):
    """Load the calibration file and its cases, claim the output directory, and simulate every case
    over the prior design. Returns the claim (to release once the results are written) too."""
    from sim import budget
    from sim.calibration import calibrate, load_calibration
    from sim.montecarlo import LocalExecutor, default_jobs
    cal, cases = load_calibration(args.calibration, cases_dir)
    jobs = _jobs(args.jobs)
    out = out or Path("results/calibration") / cal.name
    _preflight(out, kind, args, default=default)
    budget.check_calibration(args.calibration, cal.points, cal.replications, len(cases), jobs or default_jobs())
    held = _claim(out, kind, args, default=default)
    try:
        with _progress(args.quiet, cal.points * len(cases), "case-points") as progress, LocalExecutor(jobs) as ex:
            return cal, cases, calibrate(cal, cases, ex, progress), out, held
    except BaseException:
        held.release()
        raise


def cmd_calibrate(args) -> int:
    from sim import store
    from sim.tables import calibration_text

    _, _, result, out, held = _calibrate(args, "calibration", out=args.out, default=args.out is None)
    with held:
        store.save_calibration(result, out)
        if not args.quiet:
            print(calibration_text(result.calibration_report()))
        reported = _write_report(out, args)
    print(f"Results written to {out}")
    return EXIT_OK if reported else EXIT_FAILURE


def cmd_backtest(args) -> int:
    from sim import store
    from sim.tables import backtest_text

    out = args.out or BACKTEST_OUT
    _, cases, result, out, held = _calibrate(args, "backtest", args.cases, out=out, default=args.out is None)
    with held:
        backtest = result.backtest()
        store.save_backtest(backtest, out, extra={"calibration_file": str(args.calibration),
                                                  "cases": [c.name for c in cases]})
        if not args.quiet:
            print(backtest_text(backtest))
        reported = _write_report(out, args)
    print(f"Results written to {out}")
    return EXIT_OK if reported else EXIT_FAILURE


def cmd_report(args) -> int:
    from sim.outdir import lock_existing
    from sim.report import NotAResultDirectory, open_report, write_report
    if not args.directory.is_dir():
        raise InputError([f"{args.directory}: not a result directory (it is a file)" if args.directory.exists()
                          else f"{args.directory}: not a result directory (no such directory)"])
    with lock_existing(args.directory):
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
