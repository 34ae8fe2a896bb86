"""The Celery worker's name for Airflow (``[core] hostname_callable``) in the Celery system test.

Every process of the test runs on this machine, so the hostname a task instance records would be the same
for the scheduler and the worker. The worker gets ``AIRFLOW__CORE__HOSTNAME_CALLABLE=worker_hostname.hostname``
(with this folder on its PYTHONPATH) and its own name in ``AERIES_HUB_TEST_WORKER_HOSTNAME``, so a task
instance's ``hostname`` says which process ran it.
"""

from __future__ import annotations

import os


def hostname() -> str:
    return os.environ["AERIES_HUB_TEST_WORKER_HOSTNAME"]
