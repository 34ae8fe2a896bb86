"""Wall time and peak memory of each pipeline task, kept in the run's staging folder for the run report.

Airflow records how long a task ran but not how much memory it took; at district scale that is the figure
that decides the worker size. :func:`measured` wraps a task's callable: it resets the process's peak
resident memory when the task starts (Linux ``/proc/self/clear_refs``; elsewhere the process's lifetime
peak is reported instead) and writes ``resources/<task_id>.json`` when it ends, whether it succeeded or not, with
the resident memory the task started from (in a process that runs task after task, what the earlier ones left).
When the task fails it also records why (:mod:`aeries_hub.run.failures`), for the run report and the alert.
"""

from __future__ import annotations

import functools
import gc
import logging
import re
import resource
import sys
import time
from typing import Any, Callable

log = logging.getLogger(__name__)

RESOURCES_DIR = "resources"


def reset_peak_memory() -> bool:
    """Make the peak resident memory start again from the current one; False where the OS cannot.

    What earlier work in the same process freed is handed back to the OS first (Arrow's memory pool, glibc's
    heap), so that a task run in a long-lived process (``dag.test()``, a Celery worker
    with fork disabled) is not charged with its predecessors' leftovers."""
    _release_freed_memory()
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _release_freed_memory() -> None:
    import ctypes

    # (no gc.collect(): a full collection of a big process's heap costs seconds, and data frames are freed by
    # reference counting anyway)
    if "pyarrow" in sys.modules:
        sys.modules["pyarrow"].default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


#: glibc's mallopt parameter and the size from which every allocation gets its own mapping (freed at once).
M_MMAP_THRESHOLD, MMAP_THRESHOLD = -3, 128 * 1024


def use_allocators_that_return_memory() -> None:
    """Make this process give the memory of a freed column back to the OS at once: Arrow allocates with the system
    allocator (its default, mimalloc, keeps freed pages for later), and glibc maps every allocation of 128 KiB and
    more on its own. A build or a comparison frees and allocates columns of millions of rows one after the other;
    measured at 100,000 students, this takes a quarter off the peak of building enrollments.csv (docs/benchmarks.md)."""
    import ctypes

    import pyarrow as pa

    if pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())
    try:
        ctypes.CDLL("libc.so.6").mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    except (OSError, AttributeError):  # not glibc
        pass


def peak_memory_mb() -> float:
    """The peak resident memory of this process in MiB (since the last reset, where it could be reset)."""
    try:
        with open("/proc/self/status") as handle:
            match = re.search(r"^VmHWM:\s+(\d+) kB", handle.read(), re.MULTILINE)
        if match:
            return round(int(match.group(1)) / 1024, 1)
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux, bytes on macOS
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def measured(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` as a task callable that records its wall time and peak memory (see the module doc)."""

    @functools.wraps(function)
    def task_callable(*args: Any, **kwargs: Any) -> Any:
        use_allocators_that_return_memory()
        since_reset = reset_peak_memory()
        at_start = resident_memory_mb()
        started = time.monotonic()
        _note_failure(None)
        try:
            return function(*args, **kwargs)
        except BaseException as exc:
            _note_failure(exc)
            raise
        finally:
            peak = peak_memory_mb()
            _record({"seconds": round(time.monotonic() - started, 2), "peak_memory_mb": peak,
                     "peak_since_task_start": since_reset, "start_memory_mb": at_start})
            if since_reset and peak - at_start > COLLECT_AFTER_GROWTH_MB:
                # a big task's frames may sit in reference cycles (Great Expectations' validation objects hold
                # them): 180 MiB after validate_sources at 500,000 students, in a process that runs the next
                # task too; a full collection takes a fifth of a second there
                gc.collect()

    return task_callable


#: A task whose peak rose this far above its start collects reference cycles when it ends (a fifth of a second in
#: a process that holds half a million students).
COLLECT_AFTER_GROWTH_MB = 50


def resident_memory_mb() -> float:
    """This process's resident memory now, in MiB (0 where it cannot be read)."""
    try:
        with open("/proc/self/statm") as handle:
            return round(int(handle.read().split()[1]) * resource.getpagesize() / 2**20, 1)
    except (OSError, IndexError, ValueError):
        return 0.0


def _note_failure(exc: BaseException | None) -> None:
    """Record why the task failed, or (``None``, as an attempt starts) forget what an earlier attempt recorded; a
    skip or a deferral is no failure."""
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowRescheduleException, AirflowSkipException, TaskDeferred

    from aeries_hub.run.failures import forget_failure, record_failure
    from aeries_hub.staging import RunFolder

    if isinstance(exc, (AirflowSkipException, AirflowRescheduleException, TaskDeferred)):
        return
    try:
        task_id, run = get_current_context()["ti"].task_id, RunFolder.current()
        record_failure(run, task_id, exc) if exc is not None else forget_failure(run, task_id)
    except Exception:  # noqa: BLE001 - the record must never hide the task's own error
        log.warning("Could not record why the task failed", exc_info=True)


def _record(document: dict) -> None:
    from airflow.sdk import get_current_context

    from aeries_hub.staging import RunFolder

    try:
        task_id = get_current_context()["ti"].task_id
        RunFolder.current().write_json(f"{RESOURCES_DIR}/{task_id}.json", document)
    except Exception:  # noqa: BLE001 - a measurement must never fail the task it measures
        log.warning("Could not record the task's time and memory", exc_info=True)


def read_resources(run) -> dict[str, dict]:
    """Every recorded task of a run (a :class:`~aeries_hub.staging.RunFolder`), by task id."""
    return {name[: -len(".json")]: run.read_json(f"{RESOURCES_DIR}/{name}")
            for name in run.list(RESOURCES_DIR) if name.endswith(".json")}
