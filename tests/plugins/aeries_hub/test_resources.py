"""What a measured task (:func:`aeries_hub.resources.measured`) leaves behind in a process that runs the next task
too (``dag.test()``, a worker that does not fork): frames held in reference cycles are collected when it grew."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

from aeries_hub import resources


class _Cycle:
    """An object that refers to itself, as Great Expectations' validation objects refer to their batch."""

    def __init__(self, megabytes: int):
        self.itself = self
        self.data = np.ones(megabytes * 2**20 // 8)  # written, so resident


@pytest.fixture
def no_automatic_collection():
    gc.collect()
    gc.disable()
    yield
    gc.enable()


@pytest.mark.parametrize("megabytes, collected", [(resources.COLLECT_AFTER_GROWTH_MB + 100, True), (8, False)],
                         ids=["a task that grew", "a small task"])
def test_a_task_that_grew_collects_what_it_left_in_reference_cycles(megabytes, collected, no_automatic_collection):
    left = []

    def task() -> None:
        left.append(weakref.ref(_Cycle(megabytes)))

    resources.measured(task)()
    assert (left[0]() is None) == collected  # a small task leaves its cycles to Python's own collector
