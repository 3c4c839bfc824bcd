"""Many independent jobs over worker processes, in order, with a progress bar (:func:`run_jobs`)."""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

__all__ = ["run_jobs"]

# BLAS/OpenMP thread counts a worker inherits; each is set to 1 while the pool lives.
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def run_jobs(
    fn: Callable,
    jobs: Iterable[tuple[tuple, dict]],
    workers: int = 1,
    total: int | None = None,
    progress: bool = True,
    desc: str = "jobs",
) -> list[Any]:
    """``[fn(*args, **kwargs) for args, kwargs in jobs]``, in order, over ``workers`` processes.

    For jobs that use one core each (HiGHS' simplex does), so that two workers on a 2-core machine double
    the throughput. ``jobs`` may be a generator: at most ``2 * workers`` jobs are held at a time, so a
    job's inputs (19 MB of rows for a region of a 3 x 1024 MNIST net) need only exist while it is pending.
    Workers are spawned (not forked, which is
    unsafe once torch has started its threads); ``fn`` must be a module-level function.
    """
    from tqdm import tqdm

    if not (isinstance(workers, int) and not isinstance(workers, bool) and workers >= 1):
        raise ValueError(f"parameter 'workers' must be an integer >= 1, got {workers!r}")
    bar = tqdm(total=total, desc=desc, disable=not progress)
    out: list[Any] = []
    try:
        if workers == 1:
            for args, kwargs in jobs:
                out.append(fn(*args, **kwargs))
                bar.update()
            return out
        ctx = multiprocessing.get_context("spawn")
        # each worker gets one BLAS/OpenMP thread (children inherit the environment, which is set for
        # as long as the pool lives): workers x threads above the core count makes threads spin
        saved = {k: os.environ.get(k) for k in _THREAD_VARS}
        os.environ.update({k: "1" for k in _THREAD_VARS})
        try:
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
                pending: deque = deque()
                for args, kwargs in jobs:
                    pending.append(pool.submit(fn, *args, **kwargs))
                    while len(pending) >= 2 * workers:
                        out.append(pending.popleft().result())
                        bar.update()
                while pending:
                    out.append(pending.popleft().result())
                    bar.update()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        return out
    finally:
        bar.close()
