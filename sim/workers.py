"""Worker processes: how many, started so that they never outlive the command, stopped at once.

* ``--jobs`` is capped at :data:`JOBS_PER_CORE` times the usable cores (results are the same for
  any number of workers, so more only costs memory), and a pool never has more workers than tasks.
* Each worker watches its parent: on Linux the kernel kills it when the parent dies, SIGKILL
  included (``prctl(PR_SET_PDEATHSIG)``); everywhere a thread checks that the parent is still
  there (``os.getppid()``) and ends the worker when it is not.
* On an interruption (Ctrl-C, SIGTERM) the pool is stopped by terminating its workers rather than
  waiting for the tasks they are running.
"""

from __future__ import annotations

import functools
import gc
import multiprocessing as mp
import os
import signal
import threading
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

JOBS_PER_CORE = 4
PARENT_POLL_SECONDS = 0.5
_PR_SET_PDEATHSIG = 1


def usable_cores() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def max_jobs() -> int:
    return JOBS_PER_CORE * usable_cores()


def cap_jobs(jobs: int) -> int:
    """``jobs`` limited to :func:`max_jobs` (at least 1)."""
    return max(1, min(int(jobs), max_jobs()))


def _watch_parent(parent: int) -> None:
    """Pool initializer, run in each worker: end this process when ``parent`` is gone."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the command's own handler is not the worker's
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: the thread below does it
    if os.getppid() != parent:  # the parent died before the kernel was told to watch it
        os._exit(1)

    def poll():
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)
    threading.Thread(target=poll, name="parent-watch", daemon=True).start()


FULL_COLLECTION_EVERY = 8   # tasks between full collections (see _call_and_collect)
_tasks_since_full = 0


def _call_and_collect(fn, *args):
    """``fn(*args)``, then a collection that looks only at what the call made: everything alive before it
    (modules, scenarios, earlier results: tens of thousands of objects) is set aside for the call
    (``gc.freeze``) and handed back to the collector afterwards (``gc.unfreeze``). A full collection scanned
    them all, 20 to 40 ms a task. Older objects that became cyclic garbage meanwhile (during a task, or between
    tasks run back to back) are left to a full collection every ``FULL_COLLECTION_EVERY`` tasks, and after a
    task that failed (its traceback held the batch's model while the frozen collection ran)."""
    global _tasks_since_full
    failed = True
    gc.freeze()
    try:
        out = fn(*args)
        failed = False
        return out
    finally:
        gc.collect()
        gc.unfreeze()
        _tasks_since_full += 1
        if failed or _tasks_since_full >= FULL_COLLECTION_EVERY:
            _tasks_since_full = 0
            gc.collect()


def collecting(fn):
    """``fn`` followed by a garbage collection. A batch's model and its agents refer to one another,
    so only the cycle collector frees them, and it runs rarely: without this, finished models pile up
    (about 0.45 KB per replication) until it does. See :func:`_call_and_collect` for why it is cheap."""
    return functools.partial(_call_and_collect, fn)


def _start_worker(parent: int, warm_up) -> None:
    """Pool initializer: watch the parent, then run ``warm_up`` (e.g. import the engine)."""
    _watch_parent(parent)
    if warm_up is not None:
        warm_up()


_IMPORT_THREADS: list[threading.Thread] = []


def import_in_background(target, name: str) -> threading.Thread:
    """Run ``target`` (imports, e.g. matplotlib for the figures) in a thread while the workers compute.
    A fork while such a thread holds a module's import lock would leave the child waiting for that lock
    for ever, so :func:`process_pool` forks only once these threads are done (start the workers first)."""
    thread = threading.Thread(target=target, name=name, daemon=True)
    _IMPORT_THREADS.append(thread)
    thread.start()
    return thread


def import_while_computing(executor, target, name: str) -> None:
    """:func:`import_in_background` while ``executor``'s tasks run in other processes (``computes_elsewhere``);
    nothing where they run in this one, whose interpreter the thread would share with the engine: there the
    import waits until it is needed."""
    if executor.computes_elsewhere:
        import_in_background(target, name)


def join_background_imports() -> None:
    """Wait for the imports started by :func:`import_in_background` (before a fork: a child must not inherit a
    module lock held by one of them)."""
    while _IMPORT_THREADS:
        _IMPORT_THREADS.pop().join()


def process_pool(workers: int, warm_up=None) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes that end with their parent (fork where available); each runs
    ``warm_up()`` (a module-level function) when it starts. The processes are started now, not at the
    first task, so that they warm up while the caller goes on and are forked before any background import
    of the caller begins (a fork during one deadlocks the child)."""
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    if method == "fork":
        join_background_imports()
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context(method),
                               initializer=_start_worker, initargs=(os.getpid(), warm_up))
    pool.submit(int)   # with fork, the first submission starts every worker at once
    return pool


def pool_size(pool: ProcessPoolExecutor) -> int:
    return pool._max_workers


def stop_pool(pool: ProcessPoolExecutor, *, abrupt: bool) -> None:
    """Shut the pool down; with ``abrupt`` (an interruption), terminate the workers first."""
    if abrupt:
        for process in list(getattr(pool, "_processes", {}).values()):
            try:
                process.terminate()
            except (OSError, ValueError, AttributeError):
                pass
    pool.shutdown(wait=True, cancel_futures=True)


def ordered(pool: ProcessPoolExecutor, fn, tasks: list, *, window: int):
    """``fn(*task)`` for each task, in task order, with at most ``window`` tasks submitted ahead; a
    result is dropped by the pool as soon as it is handed on (memory stays flat in the task count)."""
    pending: deque = deque()
    it = iter(tasks)
    for task in it:
        pending.append(pool.submit(fn, *task))
        if len(pending) >= window:
            break
    while pending:
        result = pending.popleft().result()
        for task in it:
            pending.append(pool.submit(fn, *task))
            break
        yield result


def unordered(pool: ProcessPoolExecutor, fn, tasks: list, *, window: int):
    """``fn(task)`` for each task as they finish, with at most ``window`` submitted ahead."""
    it = iter(tasks)
    running = set()
    for task in it:
        running.add(pool.submit(fn, task))
        if len(running) >= window:
            break
    while running:
        done, running = wait(running, return_when=FIRST_COMPLETED)
        for fut in done:
            for task in it:
                running.add(pool.submit(fn, task))
                break
        for fut in done:
            yield fut.result()
