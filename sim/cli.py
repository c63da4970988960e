"""The ``ceasefire`` command: parse, call the API, print, choose the exit code."""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
import threading
from pathlib import Path

from sim.errors import InputError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
EXIT_TERMINATED = 128 + signal.SIGTERM


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
    parser.add_argument("--version", action=_VersionAction, help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p = sub.add_parser("validate", help="check scenario, experiment and calibration files")
    p.add_argument("files", nargs="+", type=_path)
    p.add_argument("--citations", action="store_true",
                   help="also audit citations against docs/SOURCES.md: keys exist, none dated after the "
                        "file's start, every value cites a source or says 'judgement'")
    _json_flag(p)

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
                   help="treat --runs as a first round and add rounds until the headline difference's 95%% CI "
                        "half-width is at most P (the result is that of the final run count done at once)")
    p.add_argument("--max-runs", type=_positive_int, metavar="N", help="cap for --precision (default 100 x --runs)")
    p.add_argument("--attribute", action="store_true",
                   help="split the headline difference into the Shapley contributions of the settings that differ")
    p.add_argument("--permutations", type=_positive_int, default=64, metavar="M",
                   help="random orders for --attribute above 8 settings (default 64)")

    p = sub.add_parser("sweep", help="sensitivity sweep of an experiment file (resumable)")
    p.add_argument("experiment", type=_path)
    p.add_argument("--jobs", type=_positive_int, metavar="J", help="local worker processes (default: all cores)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run on a Dask cluster, e.g. tcp://host:8786")
    p.add_argument("--out", type=_path, metavar="DIR", help="result directory (default results/sweeps/<name>)")
    p.add_argument("--restart", action="store_true", help="discard a partial sweep in the directory")
    p.add_argument("--no-posterior", action="store_true",
                   help="point values of the calibrated rates instead of spreading replications over their posterior")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no table")
    p.add_argument("--replications-format", choices=["csv", "parquet"], default="csv",
                   help="format of the per-replication rows (keep_replications = true); parquet needs pyarrow")
    _json_flag(p)
    _report_flag(p)

    p = sub.add_parser("bench", help="measure speed as ratios: engine share, wasted work, scaling, memory")
    p.add_argument("scenario", type=_path, nargs="?", default=Path("scenarios/idlib_2020_moscow.toml"))
    p.add_argument("--runs", type=_positive_int, default=10_000, metavar="N", help="replications (default 10000)")
    p.add_argument("--repeats", type=_positive_int, default=3, metavar="K", help="repetitions per figure (median)")
    p.add_argument("--sweep", type=_path, default=Path("experiments/bench_sweep.toml"),
                   metavar="EXPERIMENT", help="experiment for the sweep figures")
    p.add_argument("--calibration", type=_path, default=Path("experiments/calibration_cases.toml"),
                   metavar="FILE", help="calibration whose likelihood evaluation is timed")
    p.add_argument("--compare", type=_path, nargs=2, metavar=("BASE", "OTHER"),
                   default=[Path("scenarios/doc000_anxious_continuation.toml"),
                            Path("scenarios/doc000_renewed_ground_campaign.toml")],
                   help="scenarios whose compare --precision is timed")
    p.add_argument("--out", type=_path, metavar="DIR", help="where bench.json goes (default results/bench/<stamp>)")
    _force_flag(p)

    p = sub.add_parser("calibrate", help="fit the mechanism parameters to the historical cases (two seeds)")
    p.add_argument("calibration", type=_path)
    p.add_argument("--jobs", type=_positive_int, metavar="J", help="worker processes (default: all cores)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run on a Dask cluster, e.g. tcp://host:8786")
    p.add_argument("--single", action="store_true",
                   help="one run of the sampler only (no reproducibility check from a second seed)")
    p.add_argument("--as-of", type=_date, metavar="YYYY-MM-DD",
                   help="fit with only what was known on this date (later cases left out, later outcomes censored)")
    _design_flags(p)
    p.add_argument("--out", type=_path, metavar="DIR", help="result directory (default results/calibration/<name>)")
    _force_flag(p)
    p.add_argument("--quiet", action="store_true")
    _report_flag(p)

    p = sub.add_parser("backtest", help="out-of-sample forecasts of the historical cases, scored against baselines")
    p.add_argument("--calibration", type=_path, default=Path("experiments/calibration_cases.toml"), metavar="FILE",
                   help="the calibration definition (default experiments/calibration_cases.toml)")
    p.add_argument("--from", dest="from_dir", type=_path, metavar="DIR",
                   help="reuse the particles of a calibration result directory instead of calibrating again")
    _design_flags(p)
    p.add_argument("--cases", type=_path, metavar="DIR", help="directory of historical scenario files "
                   "(default: the calibration file's list)")
    p.add_argument("--no-neutralise", action="store_true", help="skip the neutralisation check")
    p.add_argument("--refit", choices=["none", "unreliable", "conflicts", "both", "all"], default="none",
                   help="also forecast by refitting the sampler without the held-out cases: 'unreliable' for each "
                        "case whose importance-sampled leave-one-out has k-hat above 0.7, 'conflicts' for each "
                        "conflict, 'both', or 'all' (every case and every conflict); default none. Each refit costs "
                        "a calibration")
    p.add_argument("--refit-particles", type=_positive_int, metavar="N",
                   help="particles of each refit (default: the fit's)")
    p.add_argument("--refit-replications", type=_positive_int, metavar="R",
                   help="runs per particle and case of each refit's likelihood (default: the fit's)")
    p.add_argument("--refit-cache", type=_path, metavar="DIR",
                   help="keep each refit in DIR and reuse it when nothing it depends on has changed (inputs, "
                        "settings, seed, code): an interrupted batch of refits resumes")
    p.add_argument("--jobs", type=_positive_int, metavar="J")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run on a Dask cluster, e.g. tcp://host:8786")
    p.add_argument("--out", type=_path, metavar="DIR",
                   help="result directory (default results/backtest/<UTC timestamp>)")
    _force_flag(p)
    p.add_argument("--quiet", action="store_true")
    _report_flag(p)

    p = sub.add_parser("report", help="write DIR/report.html: a self-contained page of a result directory")
    p.add_argument("directory", type=_path, metavar="DIR",
                   help="a run, compare, sweep, calibration or backtest directory")
    p.add_argument("--lang", choices=["en", "ar"], default="en",
                   help="language of the page: en (report.html) or ar (report.ar.html, right to left)")
    p.add_argument("--digits", choices=["western", "arabic"], default="western",
                   help="digits of the numbers: western (0-9, the default in both languages, as in the source "
                        "documents) or arabic (Arabic-Indic)")
    p.add_argument("--brief", action="store_true",
                   help="also write brief.pdf (brief.ar.pdf): two A4 pages printed by headless Chromium")
    p.add_argument("--open", action="store_true", help="open the report in the default web browser")

    p = sub.add_parser("diff", help="parameters that differ between two scenarios after inheritance")
    p.add_argument("a", type=_path)
    p.add_argument("b", type=_path)
    _json_flag(p)

    p = sub.add_parser("params", help="list every scenario parameter with its range, unit and source")
    p.add_argument("--role", choices=["guarantor", "patron", "belligerent", "pretext", "supporter", "monitor",
                                      "mediator", "agreement", "processes", "dynamics"])
    _json_flag(p)
    _add_issue14_commands(sub)
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
    p.add_argument("--out", type=_path, metavar="DIR", help="result directory")
    _force_flag(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar, no table")
    _json_flag(p)
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
    """The ``ceasefire`` command; the exit code: 0 done, 2 bad input (one message naming the file and
    key), 1 an internal error (a short message and the path of a log with the traceback), 130/143 when
    interrupted by Ctrl-C/SIGTERM, 141 when stdout is a closed pipe (``ceasefire params | head -1``),
    which ends it quietly."""
    try:
        code = _main(argv)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        _silence_stdout()
        return 128 + 13  # as if killed by SIGPIPE, the shell's convention


def command(argv: list[str] | None = None) -> int:
    """The installed ``ceasefire`` command: :func:`main`, then an exit about 30 ms shorter (45 ms to 15 ms
    after a run). At exit Python runs one last full garbage collection over every container still alive (modules,
    numpy, pydantic's schemas, the results: some 40,000 objects after a run), though the process's memory goes back
    to the system anyway.
    Frozen objects are left out of that collection (``gc.freeze``); exit handlers still run and every file is
    closed by then (results are written atomically), so nothing is lost. Not done by :func:`main`, which may be
    called many times in one process (tests, notebooks), where freezing would keep cyclic garbage alive."""
    code = main(argv)
    gc.freeze()
    return code


def _main(argv: list[str] | None = None) -> int:
    from sim.limits import shown_problems
    parser = build_parser()
    args = None
    argv = sys.argv[1:] if argv is None else list(argv)
    command_line = " ".join(["ceasefire", *map(str, argv)])
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        args = parser.parse_args(argv)
        from sim import store    # after the arguments: --help and a usage error need neither it nor numpy
        store.command_line = command_line
        if getattr(args, "json", False):
            return _with_json(args)
        return COMMANDS[args.command](args)
    except _ShowVersion:
        from sim import __version__
        print(f"ceasefire-sim {__version__}")
        return EXIT_OK
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
    except BrokenPipeError:
        raise  # main() ends quietly with 141
    except Exception as exc:  # noqa: BLE001 - a genuine internal error: one line here, the traceback in a log
        from sim.crashlog import write_crash_log
        log = write_crash_log(exc, command_line)
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
    calibration (a file whose keys do not tell is checked as a scenario). A name that is no file here
    is looked for among the bundled scenarios, then experiments. ``--citations`` audits the scenarios'
    and fragments' citations."""
    from sim.bundled import bundled
    from sim.filekinds import kind_of
    from sim.limits import shown_problems
    from sim.scenario import load_scenario, read_toml, validate_fragment
    problems, more, kinds = [], 0, {}
    for given in args.files:
        path = given
        try:
            if not os.path.lexists(path):
                path = bundled(path, "scenarios") or bundled(path, "experiments") or path
            kind = kind_of(read_toml(path)) or "scenario"
            start = None
            if kind == "fragment":
                validate_fragment(path)
            elif kind == "experiment":  # imported only when needed: validating a scenario stays light
                from sim.experiment import load_experiment
                load_experiment(path)
            elif kind == "calibration":
                from sim.calibration import load_calibration
                load_calibration(path)
            else:
                start = load_scenario(path).start
            if args.citations and kind in ("scenario", "fragment"):
                problems.extend(_citation_problems(path, start))
            kinds[str(given)] = kind
        except InputError as exc:
            problems.extend(exc.problems)
            more += getattr(exc, "more", 0)
    for line in shown_problems(problems, more):
        print(line, file=sys.stderr)
    args.headline = {"files": [str(p) for p in args.files], "valid": not problems, "problems": problems,
                     "kinds": kinds}
    if problems:
        return EXIT_USAGE
    words = {"scenario": "scenario", "fragment": "parameter fragment", "experiment": "experiment",
             "calibration": "calibration"}
    found = list(kinds.values())
    counts = [f"{found.count(k)} {words[k]}{'s' if found.count(k) > 1 else ''}" for k in words if k in found]
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
    from contextlib import ExitStack

    from sim import budget, store
    from sim.montecarlo import LocalExecutor, default_jobs, replay, task_chunks
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
        args.headline = {"scenario": scenario.name, "seed": args.seed, "replication": args.replication,
                         "outcome": outcome, "history": rows}
        print(history_table(scenario, args.replication, args.seed, rows, outcome))
        return EXIT_OK
    jobs = _jobs(args.jobs)
    if args.out is not None:  # before the budget (the refusal is then about --out) and before any worker starts
        _preflight(args.out, "run", args, default=False)
    budget.check_run(args.runs, jobs or default_jobs(), args.out or Path("results/runs"))
    default = args.out is None
    with ExitStack() as held:
        executor = held.enter_context(LocalExecutor(jobs))
        # the workers start now and import the engine while this process reads the scenario (and, for a report,
        # imports matplotlib: with a second usable core the tasks then run in workers even at --jobs 1)
        executor.start(len(task_chunks(blocks_for(args.runs), executor.jobs)), beside=not args.no_report)
        from sim.api import posterior_of, run
        scenario = _with_step(load_scenario(args.scenario), args)
        posterior_of(scenario, not args.no_posterior)  # a bad posterior file: exit 2 before anything is written
        out = args.out or Path("results/runs") / f"{scenario.name}-{store.utc_stamp()}"
        held.enter_context(_claim(out, "run", args, default=default))
        if not args.no_report:
            from sim.report import preload
            preload("run", executor)   # matplotlib and the page's templates, readied while the workers compute
        with store.result_directory(out, kind="run") as tmp:
            # runs.csv is written batch by batch while the workers compute the next ones
            with store.RunsCsv(tmp / "runs.csv") as rows, _progress(args.quiet, args.runs, "replications") as progress:
                result = run(scenario, runs=args.runs, seed=args.seed, horizon_months=args.horizon,
                             progress=progress, use_posterior=not args.no_posterior, executor=executor,
                             on_batch=rows.add, render_batch=store.runs_csv_text)
            store.write_run_files(result, tmp, per_replication=False)
            store.write_data_dictionary(tmp)
        executor.close()   # the workers are done; the report is written under the lock of out
        args.headline = {**result.summary(), "directory": str(out)}
        if not args.quiet:
            print(run_table(result))
        reported = _write_report(out, args)
    print(f"Results written to {out}")
    return EXIT_OK if reported else EXIT_FAILURE


def cmd_compare(args) -> int:
    from contextlib import ExitStack

    from sim import budget, store
    from sim.api import compare, comparison_plans
    from sim.montecarlo import default_jobs
    from sim.scenario import load_scenario
    from sim.tables import comparison_text

    base = _with_step(load_scenario(args.base), args)
    others = [_with_step(load_scenario(p), args) for p in args.others]
    if args.max_runs is not None and args.precision is None:
        raise UsageError("ceasefire compare: --max-runs needs --precision")
    jobs = _jobs(args.jobs)
    # the posterior files, read (and checked to be the same) before anything is written
    comparison_plans([base, *others], seed=args.seed, use_posterior=not args.no_posterior)
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
    with ExitStack() as held:
        for path, kind in claimed:  # before the first replication: a refused --out costs nothing
            held.enter_context(_claim(path, kind, args, default=args.out is None))
        total = args.runs * (1 + len(others))
        with _progress(args.quiet, total, "replications") as progress:
            comparisons = compare(base, others, runs=args.runs, seed=args.seed, jobs=jobs,
                                  horizon_months=args.horizon, precision=args.precision, max_runs=args.max_runs,
                                  progress=progress, use_posterior=not args.no_posterior, attribute=args.attribute,
                                  permutations=args.permutations, preload_figures=not args.no_report)
        reported = True
        for c, out in zip(comparisons, targets):
            store.save_comparison(c, out)
            args.headline = getattr(args, "headline", []) + [{**c.as_dict(), "directory": str(out)}]
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
    from sim.sweep import sweep_plan
    from sim.tables import sensitivity_text

    loaded = load_experiment(args.experiment)
    if args.scheduler is not None and args.jobs is not None:
        raise UsageError("ceasefire sweep: give either --jobs (local) or --scheduler (Dask), not both")
    e = loaded.experiment
    jobs = _jobs(args.jobs)
    sweep_plan(loaded, False if args.no_posterior else None)  # a bad posterior file: exit 2 before writing
    out = args.out or Path("results/sweeps") / e.name
    _preflight(out, "sweep", args, default=args.out is None)
    budget.check_sweep(loaded.path, design_size(e.sampler, e.points, len(e.factors)), len(e.factors),
                       len(e.outcomes), e.replications, e.keep_replications,
                       1 if args.scheduler else (jobs or default_jobs()), out)
    with _claim(out, "sweep", args, default=args.out is None):
        try:
            with _progress(args.quiet, None, "points") as progress:
                analysis = sweep(loaded, out, jobs=jobs, scheduler=args.scheduler, restart=args.restart,
                                 progress=progress, replications_format=args.replications_format,
                                 use_posterior=False if args.no_posterior else None,
                                 preload_figures=not args.no_report).analysis
        except DistributedUnavailable as exc:
            print(str(exc), file=sys.stderr)
            return EXIT_USAGE
        args.headline = {"experiment": e.name, "directory": str(out), **analysis}
        if not args.quiet:
            print(sensitivity_text(loaded, analysis))
        reported = _write_report(out, args)
    print(f"Results written to {out}")
    return EXIT_OK if reported else EXIT_FAILURE


def cmd_bench(args) -> int:
    from sim import store
    from sim.bench import bench
    from sim.bundled import locate
    from sim.scenario import load_scenario, read_input

    out = args.out or Path("results/bench") / store.utc_stamp()
    _preflight(out, "bench", args, default=args.out is None)
    scenario = load_scenario(args.scenario)
    args.sweep = locate(args.sweep, "experiments")
    read_input(args.sweep, "--sweep")
    args.calibration = locate(args.calibration, "experiments")
    read_input(args.calibration, "--calibration")
    for path in args.compare:
        read_input(path, "--compare")
    with _claim(out, "bench", args, default=args.out is None):
        results = bench(scenario, args.scenario, runs=args.runs, repeats=args.repeats, sweep_experiment=args.sweep,
                        calibration=args.calibration, compare_pair=tuple(args.compare), report=print)
        with store.result_directory(out, kind="bench") as tmp:
            store.write_json(tmp / "bench.json", results)
    print(f"Results written to {out / 'bench.json'}")
    return EXIT_OK


def _design_flags(p) -> None:
    p.add_argument("--particles", type=_positive_int, metavar="N",
                   help="particles of the sampler, replacing the calibration file's (e.g. a larger reference fit)")
    p.add_argument("--replications", type=_positive_int, metavar="R",
                   help="runs per particle and case for each likelihood estimate, replacing the file's")
    p.add_argument("--allocation", choices=["equal", "noise"],
                   help="share of the runs between cases, replacing the file's: 'noise' gives more runs to the "
                        "cases whose likelihood estimate is noisiest, for the same cost")


def _design(args) -> dict:
    return {"particles": args.particles, "replications": args.replications,
            "allocation": getattr(args, "allocation", None)}


def _executor(args):
    if getattr(args, "scheduler", None) is not None:
        if args.jobs is not None:
            raise UsageError(f"ceasefire {args.command}: give either --jobs (local) or --scheduler (Dask), not both")
        from sim.distributed import DaskExecutor
        return DaskExecutor(args.scheduler)
    from sim.montecarlo import LocalExecutor
    return LocalExecutor(args.jobs)


def _stage_printer(args, seed: int | str):
    """A line on stderr per stage of the sampler (temperature, ESS, acceptance), unless --quiet."""
    if args.quiet:
        return None

    def show(phi, stage):
        label = f"seed {seed}" if isinstance(seed, int) else seed
        print(f"  {label}: temperature {phi:.3f}, ESS {stage['ess']:.0f}, {stage['moves']} moves "
              f"(acceptance {stage['acceptance']:.2f}, {stage['moved_share']:.0%} of particles moved), "
              f"{stage['evaluations']} likelihood evaluations, noise of the summed log-likelihood "
              f"{stage['loglik_sd']:.1f} sd", file=sys.stderr, flush=True)
    return show


def _budget_calibration(args, cal, cases) -> None:
    from sim import budget
    from sim.montecarlo import default_jobs
    jobs = 1 if getattr(args, "scheduler", None) else (args.jobs or default_jobs())
    budget.check_calibration(args.calibration, cal.particles, max(cal.replications, cal.predictive_replications),
                             len(cases), jobs)


def cmd_calibrate(args) -> int:
    from sim import store
    from sim.calibration import (calibration_report, fit_report, load_calibration, reproducibility, run_smc)
    from sim.backtest import predictive_runs
    from sim.tables import calibration_text

    from sim.bundled import locate
    args.calibration = locate(args.calibration, "experiments")
    args.jobs = _jobs(args.jobs)
    cal, priors, cases = load_calibration(args.calibration, as_of=args.as_of, design=_design(args))
    default = args.out is None
    out = args.out or Path("results/calibration") / (cal.name + (f"_as_of_{cal.as_of}" if cal.as_of else ""))
    _preflight(out, "calibration", args, default=default)
    _budget_calibration(args, cal, cases)
    with _claim(out, "calibration", args, default=default):
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

    from sim.bundled import locate
    args.calibration = locate(args.calibration, "experiments")
    args.jobs = _jobs(args.jobs)
    cal, priors, cases = load_calibration(args.calibration, args.cases, design=_design(args))
    default = args.out is None
    out = args.out or Path("results/backtest") / store.utc_stamp()  # never over results/reference/
    _preflight(out, "backtest", args, default=default)
    _budget_calibration(args, cal, cases)
    if args.refit_cache is not None:
        if args.refit == "none":
            raise UsageError("ceasefire backtest: --refit-cache needs --refit")
        if args.refit_cache.exists() and not args.refit_cache.is_dir():
            raise InputError([f"{args.refit_cache}: --refit-cache must be a directory (it is a file)"])
    if args.refit != "none":
        _budget_calibration(args, cal.model_copy(update={"particles": args.refit_particles or cal.particles,
                                                         "replications": args.refit_replications or cal.replications}),
                            cases)
    result = None if args.from_dir is None else read_particles(args.from_dir, cal, priors, cases, cal.seed)
    with _claim(out, "backtest", args, default=default):
        with _executor(args) as ex:
            if result is None:
                result = run_smc(cal, priors, cases, ex, progress=_stage_printer(args, cal.seed))
            bt = backtest(result, ex, neutralise=not args.no_neutralise)
            if args.refit != "none":
                from sim.exact_refits import exact_forecasts
                bt["exact_refits"] = exact_forecasts(result, bt, ex, which=args.refit, particles=args.refit_particles,
                                                     replications=args.refit_replications,
                                                     progress=_stage_printer(args, "refit"), cache=args.refit_cache)
        store.save_backtest(bt, out, extra={"calibration_file": str(args.calibration),
                                            "particles_from": None if args.from_dir is None else str(args.from_dir),
                                            "cases": [c.name for c in cases]})
        if not args.quiet:
            print(backtest_text(bt))
        reported = _write_report(out, args)
    print(f"Results written to {out}")
    return EXIT_OK if reported else EXIT_FAILURE


def cmd_report(args) -> int:
    from sim.outdir import lock_existing
    from sim.report import BriefUnavailable, NotAResultDirectory, brief_name, open_report, write_report
    from sim.resultfiles import DamagedResult
    if not args.directory.is_dir():
        raise InputError([f"{args.directory}: not a result directory (it is a file)" if args.directory.exists()
                          else f"{args.directory}: not a result directory (no such directory)"])
    with lock_existing(args.directory):
        try:
            path = write_report(args.directory, lang=args.lang, digits=args.digits, brief=args.brief)
        except (NotAResultDirectory, DamagedResult) as exc:
            raise InputError([str(exc)]) from None
        except BriefUnavailable as exc:
            print(f"ceasefire report: {exc}", file=sys.stderr)
            return EXIT_USAGE
    print(f"Report written to {path}")
    if args.brief:
        print(f"Brief written to {args.directory / brief_name(args.lang)}")
    if args.open and not open_report(path):
        print(f"no web browser could be started; open {path.resolve().as_uri()}", file=sys.stderr)
    return EXIT_OK


def cmd_diff(args) -> int:
    from sim.scenario import diff, load_scenario
    from sim.tables import diff_table
    a, b = load_scenario(args.a), load_scenario(args.b)
    rows = diff(a, b)
    args.headline = {"a": a.name, "b": b.name, "differences": [{"key": k, "a": x, "b": y} for k, x, y in rows]}
    if not getattr(args, "json", False):
        print(diff_table(rows, a.name, b.name))
    return EXIT_OK


def cmd_params(args) -> int:
    from sim.tables import parameter_records, parameter_table
    args.headline = parameter_records(args.role)
    if not getattr(args, "json", False):
        print(parameter_table(args.role))
    return EXIT_OK


class _progress:
    """Progress on stderr: a tqdm bar on a terminal; off a terminal (a log, CI), one line every few seconds.

    The bar advances whenever a batch of replications (a task of whole blocks) or of sweep points
    completes; a background heartbeat keeps the elapsed time moving and, off a terminal, prints the
    line even while a long batch runs. Nothing at all with ``--quiet``.
    """

    INTERVAL = 5.0  # seconds between lines off a terminal

    def __init__(self, quiet: bool, total: int | None, unit: str, *, tty: bool | None = None,
                 interval: float | None = None, clock=None, heartbeat: bool = True):
        import time
        self.quiet = quiet
        self.tty = sys.stderr.isatty() if tty is None else tty
        self.enabled = not quiet and self.tty
        self.total, self.unit, self.bar = total, unit, None
        self.interval = self.INTERVAL if interval is None else interval
        self.clock = clock or time.monotonic
        self.heartbeat = heartbeat
        self.done, self.started, self.last_line, self.lines = 0, None, None, 0
        self._stop = None
        self._lock = None

    def __enter__(self):
        import threading
        if self.quiet:
            return None
        self._lock = threading.Lock()
        self.started = self.last_line = self.clock()
        if self.tty:
            from tqdm import tqdm
            self.bar = tqdm(total=self.total, unit=f" {self.unit}", file=sys.stderr, smoothing=0.1)
        if self.heartbeat:
            self._stop = threading.Event()
            self._beater = threading.Thread(target=self._beat, daemon=True)
            self._beater.start()
        return self.update

    def update(self, done: int, total: int | None) -> None:
        with self._lock:
            if self.bar is not None:
                if self.bar.total != total:
                    self.bar.total = total
                    self.bar.refresh()
                self.bar.update(done - self.done)
            self.done, self.total = done, total
            if self.bar is None and self.clock() - self.last_line >= self.interval:
                self._line()

    def _line(self) -> None:
        elapsed = self.clock() - self.started
        of = f" of {self.total:,}" if self.total else ""
        share = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        print(f"ceasefire: {self.done:,}{of} {self.unit}{share}, {elapsed:.0f} s", file=sys.stderr, flush=True)
        self.last_line = self.clock()
        self.lines += 1

    def _beat(self) -> None:
        while not self._stop.wait(1.0 if self.bar is not None else min(1.0, self.interval)):
            with self._lock:
                if self.bar is not None:
                    self.bar.refresh()
                elif self.clock() - self.last_line >= self.interval:
                    self._line()

    def __exit__(self, *exc):
        if self._stop is not None:
            self._stop.set()
            self._beater.join()   # gone before the report: its figures' copies are drawn in forked children
        if self.bar is not None:
            self.bar.close()
        elif not self.quiet and self._lock is not None and exc[0] is None and self.lines:
            with self._lock:
                self._line()  # a long run's log ends with the line that says it finished


COMMANDS = {"validate": cmd_validate, "run": cmd_run, "compare": cmd_compare, "sweep": cmd_sweep, "bench": cmd_bench,
            "calibrate": cmd_calibrate, "backtest": cmd_backtest, "report": cmd_report,
            "diff": cmd_diff,
            "params": cmd_params}


# --- issue 14: version, --json, broken pipes, completion, discover, explore ---------------------------

class _ShowVersion(Exception):
    pass


class _VersionAction(argparse.Action):
    """``--version``: main() prints it (argparse's own would exit from inside the parser)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        raise _ShowVersion()


def _json_flag(p) -> None:
    p.add_argument("--json", action="store_true",
                   help="print the headline as JSON on stdout and nothing else there (messages go to stderr)")


def _with_json(args) -> int:
    """Run the command with its text output on stderr, then print its headline as JSON on stdout."""
    import contextlib
    import json
    real_stdout = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):
        code = COMMANDS[args.command](args)
    headline = getattr(args, "headline", None)
    if headline is not None:
        from sim.store import _json_default
        real_stdout.write(json.dumps(_strict_json(headline), indent=2, default=_json_default, allow_nan=False) + "\n")
    return code


def _strict_json(data):
    """NaN and infinities (not JSON) become null."""
    import math
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: _strict_json(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_strict_json(v) for v in data]
    return data


def _silence_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so the interpreter's last flush cannot fail."""
    import os
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (in-process tests): nothing to do
        pass


def _add_issue14_commands(sub) -> None:
    p = sub.add_parser("completion", help="print a shell completion script (bash or zsh)")
    p.add_argument("shell", choices=["bash", "zsh"])

    p = sub.add_parser("discover", help="scenario discovery (PRIM) on a sweep: where is collapse likely?")
    p.add_argument("directory", type=_path, metavar="SWEEP_DIR", help="a finished sweep's result directory")
    p.add_argument("--outcome", metavar="NAME",
                   help="the outcome (default: p_collapse_by_24 if the sweep has it, else the first "
                        "p_collapse outcome); its name as in the experiment file or its CSV column")
    p.add_argument("--threshold", type=_checked(float, "a number", lambda v: True, ""), default=0.5, metavar="T",
                   help="a point is a case of interest where the outcome is at least T (default 0.5)")
    p.add_argument("--below", action="store_true", help="cases of interest are where the outcome is below T")
    p.add_argument("--min-density", type=_checked(float, "a number", lambda v: 0 < v <= 1, "must be in (0, 1]"),
                   default=0.8, metavar="D", help="the box reported is the one of highest coverage with at "
                   "least this density (default 0.8)")
    p.add_argument("--boxes", type=_positive_int, default=3, metavar="K", help="at most K boxes (default 3)")
    p.add_argument("--out", type=_path, metavar="DIR", help="where to write (default SWEEP_DIR/discovery)")
    _force_flag(p)
    p.add_argument("--quiet", action="store_true", help="no sentences on stdout")
    _json_flag(p)

    p = sub.add_parser("explore", help="an interactive page with sliders (needs: pip install \".[explore]\")")
    p.add_argument("scenario", nargs="?", default="idlib_2020_moscow",
                   help="scenario file or bundled name (default idlib_2020_moscow)")
    p.add_argument("--param", action="append", default=[], metavar="KEY",
                   help="add a slider for this key path (e.g. actors.regime.ambition); repeatable")
    p.add_argument("--compare", metavar="SCENARIO", help="a second scenario to show against (default: the "
                   "scenario as loaded, before the sliders moved)")
    p.add_argument("--runs", type=_positive_int, default=2000, metavar="N", help="replications per curve (default 2000)")
    p.add_argument("--seed", type=_seed, default=0, metavar="S", help="root seed, the same for every curve (default 0)")
    p.add_argument("--port", type=_checked(int, "a port number", lambda v: 1 <= v <= 65535, "is not a port"),
                   default=8765, metavar="PORT", help="port on 127.0.0.1 (default 8765)")
    p.add_argument("--save-dir", type=_path, default=Path("."), metavar="DIR",
                   help="where the save button writes scenario files (default: the current directory)")


def cmd_completion(args) -> int:
    from sim.bundled import bundled_names
    from sim.completion import script
    names = bundled_names("scenarios") + bundled_names("experiments")
    print(script(args.shell, build_parser(), names), end="")
    return EXIT_OK


def cmd_discover(args) -> int:
    from sim.discovery import DiscoveryError, discover_sweep, load_sweep
    from sim.resultfiles import DamagedResult
    try:  # not a finished sweep: exit 2 before SWEEP_DIR/discovery is claimed (and created)
        load_sweep(args.directory)
    except (DiscoveryError, DamagedResult) as exc:
        raise InputError([str(exc)]) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError([f"{args.directory}: not a finished sweep directory as ceasefire writes it ({exc})"]) from None
    default = args.out is None
    out = args.out or args.directory / "discovery"
    _preflight(out, "discovery", args, default=default)
    with _claim(out, "discovery", args, default=default):
        result = discover_sweep(args.directory, outcome=args.outcome, threshold=args.threshold, below=args.below,
                                min_density=args.min_density, max_boxes=args.boxes, out=out)
    args.headline = result
    if not args.quiet:
        for sentence in result["sentences"]:
            print(sentence)
    print(f"Results written to {result['directory']}")
    return EXIT_OK


def cmd_explore(args) -> int:
    try:
        from sim import explore
        explore.require_solara()
    except ImportError as exc:
        print(f"ceasefire explore needs the optional 'explore' extra ({exc.name or exc}): "
              f"pip install \".[explore]\"   (or: pip install 'ceasefire-sim[explore]')", file=sys.stderr)
        return EXIT_USAGE
    settings = explore.settings_from_args(args.scenario, params=args.param, compare=args.compare, runs=args.runs,
                                          seed=args.seed, save_dir=args.save_dir)
    print(f"Serving the explorer of {settings.scenario_name} on http://127.0.0.1:{args.port}/ (Ctrl-C to stop)",
          flush=True)
    return explore.serve(settings, host="127.0.0.1", port=args.port)


COMMANDS.update({"completion": cmd_completion, "discover": cmd_discover, "explore": cmd_explore})


if __name__ == "__main__":
    sys.exit(command())
