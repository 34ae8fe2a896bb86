"""A sandbox stack with Airflow pointed at it: what the ``stack`` fixture and the tests with a stack of their own share."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def stack_serving(workdir: Path, *, aeries_extra: dict | None = None, **options) -> Iterator:
    """``sandbox_stack(workdir, **options)`` with the Airflow connections pointing at it and staging in
    ``workdir/staging`` while the block runs; the environment is put back after."""
    from aeries_sandbox.stack import sandbox_stack

    saved = dict(os.environ)
    try:
        with sandbox_stack(workdir, **options) as running:
            os.environ.update(running.connection_env(aeries_extra=aeries_extra))
            os.environ["AIRFLOW__AERIES_HUB__STAGING_URL"] = f"file://{workdir}/staging"
            yield running
    finally:
        os.environ.clear()
        os.environ.update(saved)
