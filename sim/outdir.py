"""The output-directory guard: where a command may write, a lock while it writes, and the
leftovers of interrupted writes.

Rules (README, "Where results go"):

* ``--out`` may name a directory that does not exist yet or is empty. A file, the current
  directory or one of its parents, a symbolic link, or a directory holding anything ceasefire did not
  write is refused (exit 2), ``--force`` or not.
* A directory holding a complete result of the same kind (recognised by its manifest, and holding
  only the files that kind writes) is replaced only with ``--force``, or when it is the command's
  default location (``results/runs/...``, ``results/calibration/<name>``, ...), which only
  ceasefire writes. A sweep resumes in its own directory instead (``--restart`` discards it).
* While a command writes ``DIR`` it holds an exclusive ``flock`` on ``.DIR.lock`` beside it; a
  second writer (or ``ceasefire report DIR``) is refused with exit 2. The lock dies with its
  process, so a killed command never leaves ``DIR`` locked.
* Under the lock, what an interrupted write left is cleaned: ``.DIR.partial-*`` build directories,
  ``.DIR.old-*`` (put back if ``DIR`` itself is missing) and ``.<file>.XXXXXXXX`` temporary files
  inside ``DIR``.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import shutil
import stat
from pathlib import Path

from sim.scenario import InputError

# A name in these sets is a file name, or, starting with '^', a regular expression for file names.
SWEEP_FILES = {"state.json", "checkpoint.jsonl", "design.csv", "outcomes.csv", "replications.csv",
               "replications.parquet", "datadictionary.csv", "sensitivity.json", "sensitivity.csv", "manifest.json",
               "indices.png", "tornado.png", "grid.png"}
RUN_FILES = {"manifest.json", "runs.csv", "survival.csv", "summary.json", "timeseries.csv", "survival.png",
             "datadictionary.csv"}
COMPARED_RUN_FILES = {"manifest.json", "summary.json", "survival.csv", "timeseries.csv", "runs.csv", "survival.png"}
DISCOVERY_FILES = {"discovery.json", "discovery_trajectory.csv", "discovery_tradeoff.png", "discovery_boxes.png",
                   "discovery.html", "datadictionary.csv"}
CALIBRATION_FILES = {"calibration.json", "particles.csv", r"^posterior[A-Za-z0-9_.-]*\.csv$",
                     r"^calibrated[A-Za-z0-9_.-]*\.toml$", "calibration.toml", "calibration_fit.png",
                     "datadictionary.csv"}
BACKTEST_FILES = {"backtest.json", "backtest.csv", "scores.csv", "backtest.png", "datadictionary.csv"}

# what `ceasefire report` writes into a result (the figures go to figures/): the page in each language, the brief
REPORT_FILES = {"report.html", r"^report\.[a-z]{2,3}\.html$", r"^brief(\.[a-z]{2,3})?\.pdf$"}

# kind -> (files it writes, sub-directories it writes with the files allowed in them; None: figures)
LAYOUT: dict[str, tuple[set[str], dict[str, set[str] | None]]] = {
    "run": (RUN_FILES | REPORT_FILES, {"figures": None}),
    "compare": ({"comparison.json", "survival_compare.png", "datadictionary.csv"} | REPORT_FILES,
                {"base": COMPARED_RUN_FILES, "other": COMPARED_RUN_FILES, "figures": None}),
    # a sweep's discovery is written inside it by default (ceasefire discover SWEEP_DIR)
    "sweep": (SWEEP_FILES | REPORT_FILES, {"figures": None, "discovery": DISCOVERY_FILES}),
    "calibration": (CALIBRATION_FILES | REPORT_FILES, {"figures": None}),
    "backtest": (BACKTEST_FILES | REPORT_FILES, {"figures": None}),
    "discovery": (DISCOVERY_FILES, {}),
    "bench": ({"bench.json"}, {}),
}
# kind -> (the file that identifies it, keys its JSON object must have)
MANIFEST = {
    "run": ("manifest.json", ("scenario_name", "runs", "seed")),
    "compare": ("comparison.json", ("scenarios", "differences")),
    "sweep": ("manifest.json", ("experiment", "fingerprint")),
    "calibration": ("calibration.json", ("parameters", "cases")),
    "backtest": ("backtest.json", ("cases", "scores")),
    "discovery": ("discovery.json", ("boxes", "sweep")),
    "bench": ("bench.json", ()),
}
KIND_WORDS = {"run": "a run", "compare": "a comparison", "sweep": "a sweep", "calibration": "a calibration",
              "backtest": "a backtest", "discovery": "a discovery", "bench": "a benchmark",
              "compare-set": "comparisons"}
TEMP_SUFFIX = r"\.[a-z0-9_]{8}"  # tempfile.mkstemp's random part
MAX_MANIFEST_BYTES = 256 << 20


# --- what a directory holds ------------------------------------------------------------------------

def _read_json(path: Path):
    """A JSON object from a regular file (not followed if a symlink), or None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_MANIFEST_BYTES:
            return None
        with os.fdopen(os.dup(fd), "rb") as fh:
            data = json.loads(fh.read(MAX_MANIFEST_BYTES))
    except (OSError, ValueError, RecursionError):
        return None
    finally:
        os.close(fd)
    return data if isinstance(data, dict) else None


def _allowed(name: str, allowed: set[str]) -> bool:
    """``name`` is one of the file names in ``allowed``, or matches one of its patterns ('^...')."""
    return name in allowed or any(a.startswith("^") and re.fullmatch(a[1:].rstrip("$"), name) for a in allowed)


def _is_temp_of(name: str, allowed: set[str]) -> bool:
    m = re.fullmatch(r"\.(.+)" + TEMP_SUFFIX, name)
    return bool(m) and _allowed(m.group(1), allowed)


def _is_leftover_of_subdir(name: str, subdirs) -> bool:
    """What writing one of the sub-directories leaves beside it while it runs or when killed: its lock,
    its build directory, the old copy renamed aside."""
    m = re.fullmatch(r"\.(.+)\.(lock|partial-[a-z0-9_]{8}|old-\d+)", name)
    return bool(m) and m.group(1) in subdirs


def foreign_entries(directory: Path, kind: str) -> list[str]:
    """Entries of ``directory`` that ``kind`` never writes (relative paths), at most a few."""
    files, subdirs = LAYOUT[kind]
    found: list[str] = []
    with os.scandir(directory) as entries:
        entries = sorted(entries, key=lambda e: e.name)
    for entry in entries:
        name = entry.name
        if entry.is_symlink():
            found.append(f"{name}, a symbolic link")
        elif _is_leftover_of_subdir(name, subdirs):
            continue
        elif entry.is_dir():
            if name not in subdirs:
                found.append(name + "/")
                continue
            inner = subdirs[name]
            with os.scandir(entry.path) as subs:
                subs = sorted(subs, key=lambda e: e.name)
            for sub in subs:
                ok = (sub.is_file(follow_symlinks=False) and
                      (sub.name.endswith(".png") if inner is None else
                       _allowed(sub.name, inner) or _is_temp_of(sub.name, inner)))
                if inner is None and not ok:
                    ok = sub.is_file(follow_symlinks=False) and re.fullmatch(r"\..+\.png" + TEMP_SUFFIX, sub.name)
                if not ok:
                    found.append(f"{name}/{sub.name}")
        elif not (entry.is_file() and (_allowed(name, files) or _is_temp_of(name, files))):
            found.append(name)
        if len(found) >= 3:
            break
    return found


def result_kind(directory: Path) -> str | None:
    """The kind of complete result ``directory`` holds, recognised by its manifest; None if none."""
    directory = Path(directory)
    for kind in ("compare", "sweep", "calibration", "backtest", "discovery", "bench", "run"):
        name, keys = MANIFEST[kind]
        data = _read_json(directory / name)
        if data is not None and all(k in data for k in keys):
            if kind == "run" and _read_json(directory / "summary.json") is None:
                continue
            return kind
    return None


def _is_sweep_in_progress(directory: Path) -> bool:
    """A sweep's own directory before it finishes: a regular state.json (valid or not: the sweep then
    says what is wrong with it) among nothing but the files a sweep writes."""
    state = directory / "state.json"
    return (state.is_file() and not state.is_symlink() and not foreign_entries(directory, "sweep"))


def _entries(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


def _described(directory: Path, name: str) -> str:
    return f"{name}, a symbolic link" if os.path.islink(directory / name) else name


# --- the guard -------------------------------------------------------------------------------------

def _refuse(message: str):
    raise InputError([message])


def _check_place(out: Path, flag: str, shown: Path | None = None) -> None:
    """``out`` may become a directory: not the working directory or above, every existing ancestor a
    directory, the nearest one writable."""
    shown = out if shown is None else shown
    here = Path.cwd()
    if out == here or out in here.parents:
        _refuse(f"{flag} {shown}: is the current directory or one of its parents; give a new directory for "
                f"the results")
    if len(os.fsencode(out.name)) > 200:
        _refuse(f"{flag} {shown}: the directory name is longer than 200 bytes")
    for ancestor in out.parents:
        if os.path.lexists(ancestor):
            if not ancestor.is_dir():
                _refuse(f"{flag} {shown}: {ancestor} is a file, not a directory")
            if not os.access(ancestor, os.W_OK | os.X_OK):
                _refuse(f"{flag} {shown}: cannot create it: {ancestor} is not writable")
            try:
                fs = os.statvfs(ancestor)
            except OSError:
                return
            if fs.f_flag & getattr(os, "ST_RDONLY", 1):
                _refuse(f"{flag} {shown}: cannot create it: {ancestor} is on a read-only file system")
            if fs.f_blocks == 0:  # /proc, /sys: kernel interfaces, not storage
                _refuse(f"{flag} {shown}: cannot create it: {ancestor} is not on a file system that stores files")
            return


def _check_target(out: Path, kind: str, *, force: bool, default: bool, flag: str, shown: Path | None = None) -> None:
    """Refuse unless ``out`` is absent, empty, or a result this command may replace (or resume)."""
    shown = out if shown is None else shown
    if os.path.islink(out):
        _refuse(f"{flag} {shown}: is a symbolic link; give the directory itself")
    if not os.path.lexists(out):
        return
    if not out.is_dir():
        _refuse(f"{flag} {shown}: is a file, not a directory; ceasefire never replaces a file: give a new "
                f"directory for the results")
    try:
        entries = _entries(out)
    except OSError as exc:
        _refuse(f"{flag} {shown}: cannot be read ({exc.strerror})")
    if not entries:
        return
    if kind == "compare-set":  # several comparisons, one directory each inside ``out``
        others = [e for e in entries if not (out / e).is_dir() or result_kind(out / e) != "compare"]
        others = [e for e in others if not re.fullmatch(r"\..+\.(partial-[a-z0-9_]{8}|old-\d+|lock)", e)]
        if others:
            _refuse(f"{flag} {shown}: holds files ceasefire did not write here ({', '.join(others[:3])}); "
                    f"nothing is replaced: give a new directory")
        if not (force or default):
            _refuse(f"{flag} {shown}: already holds comparisons; give --force to replace them, or another "
                    f"directory")
        return
    found = result_kind(out) or ("sweep" if _is_sweep_in_progress(out) else None)
    if found is None:
        listed = ", ".join(_described(out, e) for e in entries[:3]) + (", ..." if len(entries) > 3 else "")
        _refuse(f"{flag} {shown}: exists and is not empty ({listed}), and is not a ceasefire result; nothing "
                f"is replaced: give a new directory")
    if found != kind:
        _refuse(f"{flag} {shown}: holds {KIND_WORDS[found]} result, not {KIND_WORDS[kind]}; nothing is "
                f"replaced: give another directory")
    if kind != "sweep":
        extra = foreign_entries(out, kind)
        if extra:
            _refuse(f"{flag} {shown}: holds {KIND_WORDS[kind]} result and also files ceasefire did not write "
                    f"({', '.join(extra)}); nothing is replaced: move them, or give another directory")
        if not (force or default):
            _refuse(f"{flag} {shown}: already holds {KIND_WORDS[kind]} result; give --force to replace it, "
                    f"or give another directory")


def check_replaceable(final: Path, kind: str) -> None:
    """Raise InputError unless ``final`` is absent, empty or a complete ``kind`` result of only our
    files: the last check before a result directory is swapped into place."""
    _check_target(Path(final), kind, force=True, default=True, flag="output directory")


class Claim:
    """An output directory checked and locked for one command; ``release()`` (or ``with``) unlocks."""

    def __init__(self, path: Path, lock_path: Path, fd: int):
        self.path, self.lock_path, self._fd = path, lock_path, fd

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.unlink(self.lock_path)  # while still holding it: a waiting writer re-checks the inode
        except OSError:
            pass
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)  # worker processes share the descriptor: unlock for all
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def preflight(out: Path, kind: str, *, force: bool = False, default: bool = False, flag: str = "--out") -> None:
    """The checks of :func:`claim` without creating or locking anything (before a budget check,
    whose message would otherwise be about the wrong thing)."""
    shown = Path(out)
    out = Path(os.path.abspath(out))
    _check_place(out, flag, shown)
    _check_target(out, kind, force=force, default=default, flag=flag, shown=shown)


def claim(out: Path, kind: str, *, force: bool = False, default: bool = False, flag: str = "--out") -> Claim:
    """Check that a command of ``kind`` may write ``out``, lock it and clean what interrupted writes
    left. Raises :class:`InputError` (exit 2) with one message naming ``out`` otherwise.

    Nothing is created unless the checks pass; then the parent directories are.
    """
    shown = Path(out)
    out = Path(os.path.abspath(out))
    _check_place(out, flag, shown)
    _check_target(out, kind, force=force, default=default, flag=flag, shown=shown)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _refuse(f"{flag} {shown}: cannot create {out.parent} ({exc.strerror})")
    lock_path = out.parent / f".{out.name}.lock"
    fd = _lock(lock_path, shown, flag)
    held = Claim(out, lock_path, fd)
    try:
        _check_target(out, kind, force=force, default=default, flag=flag, shown=shown)  # again, now that no one else writes
        clean_leftovers(out)
    except BaseException:
        held.release()
        raise
    return held


def lock_existing(directory: Path, flag: str = "DIR") -> Claim:
    """Lock an existing result directory to write into it (``ceasefire report``)."""
    directory = Path(os.path.abspath(directory))
    fd = _lock(directory.parent / f".{directory.name}.lock", directory, flag)
    held = Claim(directory, directory.parent / f".{directory.name}.lock", fd)
    try:
        clean_leftovers(directory, parent=False)
    except BaseException:
        held.release()
        raise
    return held


def _lock(lock_path: Path, out: Path, flag: str) -> int:
    for _ in range(10):
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                _refuse(f"{flag} {out}: {lock_path} is a symbolic link; remove it")
            _refuse(f"{flag} {out}: cannot lock it ({lock_path}: {exc.strerror})")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                who = f" (pid {holder})" if holder.isdigit() else ""
                _refuse(f"{flag} {out}: is being written by another ceasefire command{who}; wait for it to "
                        f"finish, or give another directory")
            _refuse(f"{flag} {out}: cannot lock it ({exc.strerror})")
        # the previous holder may have removed the file between our open and our lock: use the current one
        try:
            current = os.stat(lock_path, follow_symlinks=False)
        except FileNotFoundError:
            current = None
        mine = os.fstat(fd)
        if current is not None and (current.st_ino, current.st_dev) == (mine.st_ino, mine.st_dev):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            return fd
        os.close(fd)
    _refuse(f"{flag} {out}: cannot lock it (the lock file keeps changing)")


# --- leftovers of interrupted writes -----------------------------------------------------------------

def clean_leftovers(out: Path, parent: bool = True) -> list[Path]:
    """Remove what interrupted writes of ``out`` left (the caller holds the lock); return what went.

    ``.out.old-PID`` is put back as ``out`` if ``out`` itself is missing (a crash between the two
    renames of a replacement on a file system without atomic exchange).
    """
    removed: list[Path] = []
    if parent and out.parent.is_dir():
        name = re.escape(out.name)
        olds = sorted(e for e in os.listdir(out.parent) if re.fullmatch(rf"\.{name}\.old-\d+", e))
        if olds and not os.path.lexists(out):
            os.rename(out.parent / olds.pop(), out)
        for entry in os.listdir(out.parent):
            if re.fullmatch(rf"\.{name}\.partial-[a-z0-9_]{{8}}", entry) or entry in olds:
                path = out.parent / entry
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                    removed.append(path)
    kind = result_kind(out) if out.is_dir() and not out.is_symlink() else None
    if kind is None and out.is_dir() and not out.is_symlink() and _is_sweep_in_progress(out):
        kind = "sweep"
    if kind is not None:
        files, subdirs = LAYOUT[kind]
        places = [(out, files)] + [(out / d, inner) for d, inner in subdirs.items() if (out / d).is_dir()]
        for place, allowed in places:
            for entry in os.listdir(place):
                temp = (re.fullmatch(r"\..+\.png" + TEMP_SUFFIX, entry) if allowed is None
                        else _is_temp_of(entry, allowed))
                path = place / entry
                if temp and path.is_file() and not path.is_symlink():
                    path.unlink()
                    removed.append(path)
    return removed
