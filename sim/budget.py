"""Memory and disk a command will need, checked before it starts.

A request that cannot fit (``--runs 1000000000000``, a grid of ten million points, a calibration
of twenty thousand particles x ten thousand replications on two hundred cases) is refused with exit 2 and a message naming the
flag or key, what it would need and what there is, instead of failing with MemoryError after
minutes. The estimates are deliberately generous upper bounds of what grows with the request; what
does not grow (the interpreter, numpy, one batch of the model) is in :data:`BASE_BYTES`.

Memory available is the least of: the system's ``MemAvailable``, the cgroup's limit (containers),
and the address-space limit of this process (``RLIMIT_AS``, ``RLIMIT_DATA``) minus what it uses.
"""

from __future__ import annotations

import os
import resource
import shutil
from pathlib import Path

from sim.scenario import InputError

BASE_BYTES = 64 << 20           # one batch of the model (about 5 MB), the figures, a small analysis
WORKER_BYTES = 200 << 20        # one worker process
RUN_BYTES_PER_REPLICATION = 300  # outcome arrays (about 50 bytes), their concatenation, the statistics' copies
RUNS_CSV_BYTES_PER_RUN = 64     # a runs.csv row
COMPARE_BYTES_PER_RUN = 240     # per replication and scenario: outcome arrays, paired statistics
SWEEP_BYTES_PER_POINT = 1600    # a point's row of outcomes, design values, its task
SWEEP_BYTES_PER_OUTCOME = 320
SWEEP_DISK_PER_POINT = 400      # checkpoint line and outcomes.csv row
SWEEP_DISK_PER_REPLICATION = 60  # keep_replications: checkpoint and replications.csv
CALIBRATION_BYTES_PER_SIM = 16  # per case, particle and replication: months, collapsed, initiator
USABLE_SHARE = 0.8              # leave some room for everything else


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_available() -> int | None:
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit == "max":
            return None
        used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
        return max(0, int(limit) - used)
    except (OSError, ValueError):
        return None


def _own_usage(field: str) -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _rlimit_headroom() -> int | None:
    headroom = None
    for limit, field in ((resource.RLIMIT_AS, "VmSize"), (getattr(resource, "RLIMIT_DATA", None), "VmData")):
        if limit is None:
            continue
        soft, _ = resource.getrlimit(limit)
        if soft != resource.RLIM_INFINITY:
            room = max(0, soft - _own_usage(field))
            headroom = room if headroom is None else min(headroom, room)
    return headroom


def available_memory() -> tuple[int | None, int | None]:
    """(bytes this process may still allocate, bytes the system has free for new processes)."""
    system = [x for x in (_meminfo_available(), _cgroup_available()) if x is not None]
    system_free = min(system) if system else None
    own = _rlimit_headroom()
    candidates = [x for x in (system_free, own) if x is not None]
    return (min(candidates) if candidates else None), system_free


def size_text(n: float) -> str:
    if n >= 1 << 60:
        return "more than an exabyte"
    for unit, scale in (("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n / 1024:,.0f} KB"


def _check_memory(need: int, workers: int, what: str, advice: str) -> None:
    own, system = available_memory()
    if own is not None and need > USABLE_SHARE * own:
        raise InputError([f"{what}: needs about {size_text(need)} of memory, more than the "
                          f"{size_text(own)} available; {advice}"])
    if system is not None and workers > 1 and need + workers * WORKER_BYTES > USABLE_SHARE * system:
        raise InputError([f"{what}: with {workers} worker processes needs about "
                          f"{size_text(need + workers * WORKER_BYTES)} of memory, more than the "
                          f"{size_text(system)} available; give fewer --jobs"])


def _check_disk(need: int, where: Path, what: str, advice: str) -> None:
    place = Path(os.path.abspath(where))
    for candidate in (place, *place.parents):
        if candidate.exists():
            try:
                free = shutil.disk_usage(candidate).free
            except OSError:
                return
            if need > free:
                raise InputError([f"{what}: would write about {size_text(need)} to {candidate}, which has "
                                  f"{size_text(free)} free; {advice}"])
            return


def check_run(runs: int, jobs: int, out: Path) -> None:
    """A run: its compact per-replication outcome arrays in memory, its runs.csv on disk."""
    blocks = -(-runs // 1000)
    _check_memory(BASE_BYTES + runs * RUN_BYTES_PER_REPLICATION, min(jobs, blocks), f"--runs {runs:,}",
                  "give fewer --runs")
    _check_disk(runs * RUNS_CSV_BYTES_PER_RUN, out, f"--runs {runs:,}", "give fewer --runs")


def check_compare(runs: int, scenarios: int, jobs: int) -> None:
    """A comparison keeps every replication of every scenario (pairing needs them)."""
    _check_memory(BASE_BYTES + runs * scenarios * COMPARE_BYTES_PER_RUN, jobs,
                  f"--runs {runs:,} ({scenarios} scenarios, paired)",
                  "give fewer --runs (or a smaller --max-runs)")


def check_sweep(path: Path, points: int, factors: int, outcomes: int, replications: int,
                keep_replications: bool, jobs: int, out: Path) -> None:
    need = BASE_BYTES + points * (SWEEP_BYTES_PER_POINT + SWEEP_BYTES_PER_OUTCOME * outcomes + 64 * factors)
    _check_memory(need, jobs, f"{path}: points ({points:,} design points)",
                  "give fewer points (or fewer factors for a grid)")
    disk = points * SWEEP_DISK_PER_POINT
    if keep_replications:
        disk += points * replications * SWEEP_DISK_PER_REPLICATION
    _check_disk(disk, out, f"{path}: points ({points:,} design points"
                f"{f' x {replications:,} kept replications' if keep_replications else ''})",
                "give fewer points" + (" or set keep_replications = false" if keep_replications else ""))


def check_calibration(path: Path, particles: int, replications: int, cases: int, jobs: int) -> None:
    need = BASE_BYTES + cases * particles * replications * CALIBRATION_BYTES_PER_SIM
    _check_memory(need, jobs, f"{path}: particles x replications ({particles:,} x {replications:,} on {cases} cases)",
                  "give fewer particles or replications")
