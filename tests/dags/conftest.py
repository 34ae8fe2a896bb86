"""The sandbox every end-to-end DAG test runs against: the Aeries emulator and OpenSSH's sshd on localhost.

A test module sets ``STACK = {"students": 300, "seed": 5}`` (any ``sandbox_stack`` option, plus
``aeries_extra`` for the Aeries connection) and uses the module-scoped ``stack`` fixture; the Airflow
connections point at the stack, and staging at the module's own folder, for as long as the module runs.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def stack(request, tmp_path_factory, airflow_db):
    from tests.dags.stacks import stack_serving

    options = dict(getattr(request.module, "STACK", {}))
    # Each module stages into its own folder: the last delivered snapshot a run is compared with (change
    # tracking, the mass-change guard) must be this module's, not another module's district.
    with stack_serving(tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]), **options) as running:
        yield running
