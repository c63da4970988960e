"""Result directories: everything written to disk goes through here, atomically.

A result directory is built under a temporary name beside its destination and renamed into place
when complete, so an interrupted command never leaves a directory that looks finished.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import platform
import shutil
import stat
import subprocess
import tempfile
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import numpy as np


def utc_stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


@contextmanager
def result_directory(final: Path, kind: str | None = None):
    """Yield a temporary directory; on success it replaces ``final`` atomically.

    The directory is built as ``.NAME.partial-XXXXXXXX`` beside ``final``. If ``final`` exists, it
    must be a complete result of the same ``kind`` holding only the files ceasefire writes
    (:func:`sim.outdir.check_replaceable`); the two are then exchanged in one ``renameat2
    (RENAME_EXCHANGE)`` call, so a reader sees the old result or the new one, never neither, and a
    crash at any moment leaves one of them in place. The old one is removed afterwards.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.partial-", dir=final.parent))
    os.chmod(tmp, 0o777 & ~_UMASK)
    try:
        yield tmp
        if kind is not None:
            from sim.outdir import check_replaceable
            check_replaceable(final, kind)
        _swap_into_place(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _swap_into_place(tmp: Path, final: Path) -> None:
    if not os.path.lexists(final):
        try:
            os.rename(tmp, final)  # onto nothing (or, in a race, an empty directory)
            return
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
    if _exchange(tmp, final):
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old result
        return
    # No atomic exchange here (not Linux, or a file system without it): rename the old result aside
    # first. A crash between the two renames leaves it as .NAME.old-PID, which the next command
    # writing NAME puts back (sim.outdir.clean_leftovers).
    old = final.parent / f".{final.name}.old-{os.getpid()}"
    final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


_RENAME_EXCHANGE, _AT_FDCWD = 2, -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where that is unavailable."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def copy_directory(source: Path, final: Path) -> Path:
    """A copy of a result directory, appearing in one rename when complete (replacing only a result of
    the same kind, as :func:`result_directory` does)."""
    from sim.outdir import result_kind
    with result_directory(Path(final), kind=result_kind(Path(source)) or "sweep") as tmp:
        shutil.copytree(source, tmp, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(".*", "checkpoint.jsonl", "state.json"))
    return Path(final)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write under a temporary name, fsync, then rename: readers never see a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(obj):
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")


def fmt(x: float) -> str:
    """Fixed text for floats, so files are byte-identical across platforms and runs: six significant digits,
    and ``inf``, ``-inf`` or ``nan`` (any NaN, whatever its sign bit) where the value is not finite, as Python's
    own formatting writes them. (Formatting alone: checking finiteness with numpy first cost more than the
    formatting, half the time of writing a large sweep's outcomes.csv.)"""
    return "" if x is None else f"{float(x):.6g}"


_FLOAT_TYPES = (float, np.floating)


def _cells(row: Iterable[Any]) -> list:
    return [fmt(v) if isinstance(v, _FLOAT_TYPES) else v for v in row]


def write_csv(path: Path, header: list[str], rows: Iterable[Iterable[Any]]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(map(_cells, rows))
    write_text_atomic(path, buf.getvalue())


def stream_csv(path: Path, header: list[str], chunks: Iterable[Iterable[Iterable[Any]]]) -> None:
    """Write rows chunk by chunk (memory stays flat); the file appears only when complete."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(header)
            for chunk in chunks:
                writer.writerows(map(_cells, chunk))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


REPLICATION_COLUMNS = ["point", "replication", "collapsed", "months_to_collapse", "initiator"]


def stream_parquet(path: Path, chunks: Iterable[Iterable[tuple]], rows_per_group: int = 200_000) -> None:
    """A sweep's per-replication rows (point, replication, collapsed, months, initiator) as Parquet,
    in row groups of fixed size (so the file is the same however the chunks were cut); the file
    appears only when complete. Needs the optional pyarrow (``pip install ".[parquet]"``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    path = Path(path)
    schema = pa.schema([("point", pa.int32()), ("replication", pa.int32()), ("collapsed", pa.int8()),
                        ("months_to_collapse", pa.float64()), ("initiator", pa.string())])
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)
        with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
            pending: list[tuple] = []

            def flush(rows):
                cols = list(zip(*rows))
                writer.write_table(pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(cols, schema)],
                                                        schema=schema), row_group_size=rows_per_group)
            for chunk in chunks:
                pending.extend(chunk)
                while len(pending) >= rows_per_group:
                    flush(pending[:rows_per_group])
                    del pending[:rows_per_group]
            if pending:
                flush(pending)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def csv_header(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as fh:
        return next(csv.reader(fh), [])


def write_data_dictionary(directory: Path, parameters: dict[str, dict] | None = None) -> None:
    """``datadictionary.csv``: file, column, unit and meaning of every column of every CSV (and
    Parquet) file under ``directory``; ``parameters`` describes columns named after parameters."""
    from sim import datadict
    directory = Path(directory)
    files = {}
    for path in sorted(directory.rglob("*.csv")):
        rel = path.relative_to(directory)
        if path.name == "datadictionary.csv" or any(part.startswith(".") for part in rel.parts):
            continue
        files[rel.as_posix()] = csv_header(path)
    for path in sorted(directory.rglob("*.parquet")):
        import pyarrow.parquet as pq
        files[path.relative_to(directory).as_posix()] = list(pq.read_schema(path).names)
    write_csv(directory / "datadictionary.csv", datadict.HEADER, datadict.rows(files, parameters))


def _parameter_columns(columns: dict[str, str], scenario) -> dict[str, dict]:
    """Column name -> schema information of the parameter at its key path."""
    from sim.datadict import parameter_info
    if hasattr(scenario, "model_dump"):
        scenario = scenario.model_dump(mode="python")
    return {name: parameter_info(path, scenario) for name, path in columns.items()}


# Set by the CLI to the command being run (sys.argv is the host program's when called in-process).
command_line: str | None = None


def git_commit() -> str | None:
    here = Path(__file__).resolve().parent
    for where in (here, Path.cwd()):
        try:
            out = subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True,
                                 text=True, timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            return None
        if out.returncode == 0:
            return out.stdout.strip()
    return None


def environment() -> dict[str, Any]:
    from importlib.metadata import version   # the versions without importing the packages

    from sim import __version__
    return {
        "package_version": __version__,
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": version("scipy"),
        "mesa": version("mesa"),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "command": command_line,
    }


# --- a run's directory -----------------------------------------------------------------------

RUNS_HEADER = ["replication", "collapsed", "months_to_collapse", "initiator", "trigger",
               "block", "block_offset", "violations", "air_strikes", "spoiler_attacks"]


def manifest(result, extra: dict | None = None) -> dict:
    from sim.rng import BLOCK_SIZE
    from sim.scenario import resolved_dict, scenario_sha256
    sim = result.simulation
    return {
        "scenario_name": result.scenario.name,
        "scenario_sha256": scenario_sha256(result.scenario),
        "seed": sim.seed,
        "runs": result.runs,
        "horizon_months": result.horizon_months,
        "block_size": BLOCK_SIZE,
        "jobs": sim.jobs,
        "wall_seconds": round(sim.wall_seconds, 3),
        "created_utc": utc_stamp(),
        **environment(),
        **(extra or {}),
        "scenario": resolved_dict(result.scenario),
    }


def _run_rows(result, chunk: int = 20_000):
    from sim.rng import BLOCK_SIZE
    r = result.simulation.replications
    initiators, triggers = r.initiator_labels(), r.trigger_labels()
    incidents = [r.incidents[k] for k in ("violations", "air_strikes", "spoiler_attacks")]
    for start in range(0, len(r), chunk):
        rows = []
        for i in range(start, min(start + chunk, len(r))):
            rows.append((i, int(r.collapsed[i]), float(r.months[i]), initiators[i], triggers[i],
                         i // BLOCK_SIZE, i % BLOCK_SIZE, *(int(v[i]) for v in incidents)))
        yield rows


def _batch_rows(batch) -> list[tuple]:
    """The runs.csv rows of one ``BatchOutput`` (its blocks say which replications they are), built column
    by column: the same text as :func:`_run_rows` gives for the gathered replications."""
    from sim.montecarlo import replication_indices
    from sim.outcomes import NOT_COLLAPSED, TRIGGERS
    from sim.rng import BLOCK_SIZE
    index = replication_indices(batch.blocks)
    initiators = np.array([NOT_COLLAPSED, *batch.initiators], dtype=object)[batch.initiator.astype(np.int64) + 1]
    triggers = np.array([NOT_COLLAPSED, *TRIGGERS], dtype=object)[batch.trigger.astype(np.int64) + 1]
    times, where = np.unique(batch.months, return_inverse=True)    # times are step ends: few distinct values
    months = np.array([fmt(x) for x in times.tolist()], dtype=object)[where.reshape(-1)].tolist()
    incidents = [batch.incidents[k].tolist() for k in ("violations", "air_strikes", "spoiler_attacks")]
    return list(zip(index.tolist(), batch.collapsed.astype(np.int64).tolist(), months, initiators.tolist(),
                    triggers.tolist(), (index // BLOCK_SIZE).tolist(), (index % BLOCK_SIZE).tolist(), *incidents))


def runs_csv_text(batch) -> str:
    """The runs.csv lines of one batch, as :class:`RunsCsv` would write them (run in the worker that made it)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(_batch_rows(batch))
    return buf.getvalue()


class RunsCsv:
    """``runs.csv`` written batch by batch while the workers go on computing (batches come in replication
    order), from the lines the worker rendered (:func:`runs_csv_text`) where it did. The file is built under a
    temporary name and renamed when the ``with`` block ends without an exception; otherwise it is removed."""

    def __init__(self, path: Path):
        self.path = Path(path)
        fd, self._tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        os.chmod(self._tmp, 0o666 & ~_UMASK)
        self._fh = os.fdopen(fd, "w", encoding="utf-8", newline="")
        self._writer = csv.writer(self._fh, lineterminator="\n")
        self._writer.writerow(RUNS_HEADER)

    def add(self, batch) -> None:
        if getattr(batch, "rendered", None) is not None:
            self._fh.write(batch.rendered)
        else:
            self._writer.writerows(_batch_rows(batch))

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        try:
            if exc_type is None:
                self._fh.flush()
                os.fsync(self._fh.fileno())
            self._fh.close()
            if exc_type is None:
                os.replace(self._tmp, self.path)
        finally:
            if os.path.exists(self._tmp):
                os.unlink(self._tmp)


def save_run(result, directory: Path, *, extra_manifest: dict | None = None) -> Path:
    """Write manifest.json, runs.csv, survival.csv, summary.json, timeseries.csv (figures: the report's)."""
    directory = Path(directory)
    with result_directory(directory, kind="run") as tmp:
        write_run_files(result, tmp, extra_manifest=extra_manifest)
        write_data_dictionary(tmp)
    return directory


def write_run_files(result, tmp: Path, *, extra_manifest: dict | None = None, per_replication: bool = True) -> None:
    write_json(tmp / "summary.json", result.summary())
    if per_replication:
        stream_csv(tmp / "runs.csv", RUNS_HEADER, _run_rows(result))
    write_csv(tmp / "survival.csv", ["month", "survival", "ci_low", "ci_high"], result.survival_table())
    write_csv(tmp / "timeseries.csv", ["month", "variable", "n_holding", "q05", "q25", "q50", "q75", "q95"],
              result.simulation.fan.rows())
    write_json(tmp / "manifest.json", manifest(result, extra_manifest))


# --- a comparison's directory ----------------------------------------------------------------

def save_comparison(comparison, directory: Path) -> Path:
    """Write comparison.json, base/ and other/ (each with the run files; figures: the report's)."""
    directory = Path(directory)
    with result_directory(directory, kind="compare") as tmp:
        write_json(tmp / "comparison.json", comparison.as_dict())
        for role, result in (("base", comparison.base), ("other", comparison.other)):
            (tmp / role).mkdir()
            write_run_files(result, tmp / role, per_replication=True, extra_manifest={"role_in_comparison": role})
        write_data_dictionary(tmp)
    return directory


# --- a sweep's directory: checkpoint, then final files ------------------------------------------

SWEEP_OUTPUTS = ("design.csv", "outcomes.csv", "replications.csv", "replications.parquet", "datadictionary.csv",
                 "sensitivity.json", "sensitivity.csv", "manifest.json",
                 "indices.png", "tornado.png", "grid.png")


def _open_nofollow(path: Path, mode: str, create: bool = False):
    """Open a file the command keeps state in without following a symbolic link planted there."""
    flags = os.O_NOFOLLOW | os.O_CLOEXEC | (os.O_RDWR | os.O_CREAT | os.O_APPEND if "a" in mode else os.O_RDONLY)
    fd = os.open(path, flags, 0o666)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        return os.fdopen(fd, mode)
    except BaseException:
        os.close(fd)
        raise


def _open_checkpoint(path: Path, mode: str):
    from sim.scenario import InputError
    try:
        return _open_nofollow(path, mode)
    except OSError as exc:
        why = "is a symbolic link" if exc.errno == errno.ELOOP else f"cannot be opened ({exc.strerror})"
        raise InputError([f"{path}: {why}; the sweep's checkpoint must be a regular file: remove it, or run "
                          f"with --restart"]) from None


class SweepStore:
    """``results/sweeps/<name>/``: ``state.json`` and ``checkpoint.jsonl`` while it runs, then the
    final files. Each finished task's rows are appended and fsynced; a torn last line (SIGKILL in
    the middle of a write) is ignored on resume and its points are evaluated again."""

    def __init__(self, directory: Path, fingerprint: str, points: int):
        self.directory = Path(directory)
        self.fingerprint = fingerprint
        self.points = points
        self.state_path = self.directory / "state.json"
        self.checkpoint_path = self.directory / "checkpoint.jsonl"

    def open(self, restart: bool, experiment_path: str) -> dict[int, dict]:
        """Completed rows by point. Refuses to mix runs of a changed experiment unless ``restart``, and
        to write into a directory that is not a sweep's (``sim.outdir``)."""
        from sim.outdir import check_replaceable
        from sim.scenario import InputError
        check_replaceable(self.directory, "sweep")
        if os.path.lexists(self.state_path) and not restart:
            try:
                with _open_nofollow(self.state_path, "rb") as fh:
                    state = json.loads(fh.read(1 << 20))
            except (OSError, ValueError, RecursionError) as exc:
                why = ("is a symbolic link" if isinstance(exc, OSError) and exc.errno == errno.ELOOP else
                       f"cannot be read ({exc.strerror})" if isinstance(exc, OSError) else "is not valid JSON")
                raise InputError([
                    f"{self.state_path}: {why}, so the partial sweep in {self.directory} cannot be resumed; run "
                    f"again with --restart to discard it, or give --out another directory"]) from None
            if not isinstance(state, dict) or not isinstance(state.get("fingerprint"), str):
                raise InputError([
                    f"{self.state_path}: fingerprint: missing, so the partial sweep in {self.directory} cannot "
                    f"be resumed; run again with --restart to discard it, or give --out another directory"])
            if state.get("fingerprint") != self.fingerprint:
                raise InputError([
                    f"{experiment_path}: the experiment or its scenario changed since the partial sweep in "
                    f"{self.directory} was started; run again with --restart to discard it, or give --out "
                    f"another directory"])
        if restart and self.directory.exists():
            self.discard()
        self.directory.mkdir(parents=True, exist_ok=True)
        if not self.state_path.exists():
            write_json(self.state_path, {"fingerprint": self.fingerprint, "points": self.points,
                                         "started_utc": utc_stamp()})
        return self.completed()

    def completed(self) -> dict[int, dict]:
        rows: dict[int, dict] = {}
        if not os.path.lexists(self.checkpoint_path):
            return rows
        with _open_checkpoint(self.checkpoint_path, "rb") as fh:
            for line in fh:
                try:
                    row = json.loads(line)
                except (ValueError, RecursionError):
                    continue  # a line torn by a kill: its points run again
                if (isinstance(row, dict) and isinstance(row.get("point"), int) and 0 <= row["point"] < self.points
                        and isinstance(row.get("outcomes"), (dict, type(None))) and "error" in row):
                    rows[int(row["point"])] = row
        return rows

    def _replication_chunks(self, points: int):
        """Per-replication rows in point order, read back from the checkpoint one point at a time."""
        offsets: dict[int, int] = {}
        with _open_checkpoint(self.checkpoint_path, "rb") as fh:
            while True:
                at = fh.tell()
                line = fh.readline()
                if not line:
                    break
                try:
                    offsets[int(json.loads(line)["point"])] = at
                except (ValueError, KeyError, TypeError):
                    continue
            for p in range(points):
                if p not in offsets:
                    continue
                fh.seek(offsets[p])
                reps = json.loads(fh.readline()).get("replications")
                if not reps:
                    continue
                yield [(p, i, int(c), float(m), who) for i, (m, c, who) in
                       enumerate(zip(reps["months"], reps["collapsed"], reps["initiator"]))]

    def append(self, rows: list[dict]) -> None:
        text = "".join(json.dumps(r, sort_keys=True, allow_nan=True) + "\n" for r in rows)
        with _open_checkpoint(self.checkpoint_path, "a+b") as fh:
            if fh.seek(0, os.SEEK_END):
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":  # a line torn by a kill: start afresh after it
                    text = "\n" + text
            fh.write(text.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())

    def discard(self) -> None:
        """Remove the partial sweep's files and its results (``--restart``); nothing else."""
        for name in ("state.json", "checkpoint.jsonl", *SWEEP_OUTPUTS):
            (self.directory / name).unlink(missing_ok=True)

    def finish(self, loaded, design, values: np.ndarray, rows: dict[int, dict], analysis: dict,
               replications_format: str = "csv") -> None:
        from sim.experiment import outcome_column
        e = loaded.experiment
        names = list(e.factors)
        write_csv(self.directory / "design.csv", ["point", *names],
                  ([p, *map(float, values[p])] for p in range(values.shape[0])))
        header = ["point", *names, "status"]
        for o in map(outcome_column, e.outcomes):
            header += [o, f"{o}_ci_low", f"{o}_ci_high"]
        header.append("error")

        def outcome_rows():
            for p in range(values.shape[0]):
                r = rows[p]
                cells = [p, *map(float, values[p]), "failed" if r["error"] else "ok"]
                for o in e.outcomes:
                    cells += [float(x) for x in r["outcomes"][o][:3]] if r["outcomes"] else ["", "", ""]
                cells.append(r["error"] or "")
                yield cells
        write_csv(self.directory / "outcomes.csv", header, outcome_rows())
        if e.keep_replications and replications_format == "parquet":
            stream_parquet(self.directory / "replications.parquet", self._replication_chunks(values.shape[0]))
        elif e.keep_replications:
            stream_csv(self.directory / "replications.csv",
                       ["point", "replication", "collapsed", "months_to_collapse", "initiator"],
                       self._replication_chunks(values.shape[0]))
        write_json(self.directory / "sensitivity.json", {
            "experiment": e.name, "question": e.question, "sampler": e.sampler,
            "factors": {k: f.model_dump() for k, f in e.factors.items()},
            "replications_per_point": e.replications, "horizon_months": e.horizon_months, "seed": e.seed,
            "analysed_outcome": e.analysed_outcome, **analysis})
        srows = []
        for outcome, res in analysis["outcomes"].items():
            for row in res["factors"]:
                srows.append({"outcome": outcome_column(outcome), **row})
        keys = ["outcome"] + [k for k in (srows[0].keys() if srows else []) if k != "outcome"]
        write_csv(self.directory / "sensitivity.csv", keys, ([r.get(k, "") for k in keys] for r in srows))
        write_json(self.directory / "manifest.json", {
            "experiment": e.name, "experiment_file": str(loaded.path), "fingerprint": self.fingerprint,
            "scenario_name": loaded.scenario.name, "scenario": loaded.scenario.model_dump(mode="json"),
            "points": self.points, "created_utc": utc_stamp(),
            **environment(), "experiment_definition": e.model_dump(mode="json")})
        write_data_dictionary(self.directory, _parameter_columns(
            {name: f.path for name, f in e.factors.items()}, loaded.scenario))


# --- scenario discovery --------------------------------------------------------------------------

def save_discovery(result: dict, directory: Path, *, figures: bool = True) -> Path:
    """discovery.json, discovery_trajectory.csv, discovery_tradeoff.png, discovery_boxes.png,
    discovery.html (a self-contained page with the figures inline) and datadictionary.csv."""
    from sim.discovery import html_page, trajectory_rows
    directory = Path(directory)
    arrays = result.get("_arrays")
    data = {k: v for k, v in result.items() if not k.startswith("_")}
    with result_directory(directory, kind="discovery") as tmp:
        write_json(tmp / "discovery.json", {**data, "manifest": environment()})
        header, rows = trajectory_rows(data)
        write_csv(tmp / "discovery_trajectory.csv", header, rows)
        svgs = {}
        if figures and data["boxes"]:
            from sim.plots import _pyplot, _save, discovery_boxes_figure, discovery_tradeoff_figure
            plt = _pyplot()
            made = [("discovery_tradeoff", "Coverage against density along the peeling trajectory",
                     discovery_tradeoff_figure(data))]
            if arrays is not None and len(arrays["names"]) >= 2:
                made.append(("discovery_boxes", "The design points coloured by their soft label, with the boxes",
                             discovery_boxes_figure(data, arrays["x"], arrays["labels"], arrays["names"])))
            for name, alt, fig in made:
                _save(fig, tmp / f"{name}.png")
                buf = io.StringIO()
                fig.savefig(buf, format="svg", metadata={"Date": None})
                plt.close(fig)
                svgs[alt] = buf.getvalue()[buf.getvalue().find("<svg"):]
        write_text_atomic(tmp / "discovery.html", html_page(data, svgs))
        write_data_dictionary(tmp)
    return directory


# --- calibration and backtest -------------------------------------------------------------------

def save_calibration(result, report: dict, directory: Path, *, posteriors: dict[str, str],
                     definition_file: Path | None = None) -> Path:
    """calibration.json, particles.csv (for the backtest), the posterior draws and the fragments scenarios inherit."""
    from sim.calibration import dynamics_toml, particles_table, posterior_rows
    directory = Path(directory)
    with result_directory(directory, kind="calibration") as tmp:
        write_json(tmp / "calibration.json", {**report, "manifest": environment()})
        header, rows = particles_table(result)
        write_csv(tmp / "particles.csv", header, rows)
        for conflict, stem in posteriors.items():
            names, draws = posterior_rows(result, conflict or None)
            write_csv(tmp / f"posterior{stem}.csv", names, draws.tolist())
            fragment = f"calibrated{stem if conflict else '_new_conflict' + stem}.toml"
            write_text_atomic(tmp / fragment, dynamics_toml(result, f"posterior{stem}.csv", conflict or None))
        if definition_file is not None:
            write_text_atomic(tmp / "calibration.toml", Path(definition_file).read_text(encoding="utf-8"))
        write_data_dictionary(tmp)
    return directory


def save_backtest(backtest: dict, directory: Path, *, extra: dict | None = None) -> Path:
    directory = Path(directory)
    with result_directory(directory, kind="backtest") as tmp:
        write_json(tmp / "backtest.json", {**backtest, "manifest": {**environment(), **(extra or {})}})
        months = list(backtest["cases"][0]["predicted"]["p_collapse"])
        header = ["case", "conflict", "observed_collapsed", "observed_months", "observed_initiator",
                  *[f"p_collapse_{m}" for m in months], "predicted_median", "observed_percentile", "pareto_k",
                  "predicted_share_observed_initiator"]
        write_csv(tmp / "backtest.csv", header, (
            [c["name"], c["conflict"], int(c["observed"]["collapsed"]), c["observed"]["months"],
             c["observed"]["initiator"] or "", *[c["predicted"]["p_collapse"][m] for m in months],
             c["predicted"]["median"] if c["predicted"]["median"] is not None else "",
             c["observed_percentile"], c["pareto_k"],
             c["predicted"]["initiator_share"].get(c["observed"]["initiator"] or "", "")]
            for c in backtest["cases"]))
        rows = []
        scopes = [("leave_one_out", backtest["scores"]),
                  ("leave_one_conflict_out", backtest["leave_one_conflict_out"]["scores"])]
        exact = backtest.get("exact_refits", {})
        scopes += [(f"{scope}_exact", exact[kind]["scores"])
                   for kind, scope in (("loo", "leave_one_out"), ("loco", "leave_one_conflict_out")) if kind in exact]
        for scope, scores in scopes:
            for name, s in scores.items():
                if s is None:
                    continue
                rows.append([scope, name, *[s["brier"].get(m, "") for m in months], s["log"], s["crps"],
                             s["coverage"]["50"], s["coverage"]["90"]])
        write_csv(tmp / "scores.csv", ["scope", "forecast", *[f"brier_{m}" for m in months], "log_score",
                                       "crps_months", "coverage_50", "coverage_90"], rows)
        write_data_dictionary(tmp)
    return directory
