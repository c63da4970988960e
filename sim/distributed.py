"""Running sweep tasks on an existing Dask distributed cluster (optional extra)."""

from __future__ import annotations

INSTALL_HINT = "pip install 'ceasefire-sim[distributed]'"


class DistributedUnavailable(Exception):
    pass


class DaskExecutor:
    """The executor interface of ``LocalExecutor`` over a ``dask.distributed.Client``."""

    def __init__(self, address: str):
        try:
            from dask.distributed import Client
        except ImportError:
            raise DistributedUnavailable(
                f"--scheduler needs the optional Dask extra, which is not installed: {INSTALL_HINT}") from None
        try:
            self.client = Client(address, timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise DistributedUnavailable(f"--scheduler {address}: cannot reach the Dask scheduler ({exc})") from None
        self.jobs = max(1, sum(self.client.nthreads().values()))

    computes_elsewhere = True   # the cluster computes: this process is free meanwhile (LocalExecutor's)

    def map_unordered(self, fn, tasks):
        from dask.distributed import as_completed
        futures = [self.client.submit(fn, task, pure=False) for task in tasks]
        for fut in as_completed(futures):
            yield fut.result()
            fut.release()

    def close(self) -> None:
        self.client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
