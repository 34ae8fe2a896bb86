"""The one logger of the Aeries modules.

Named as Airflow names a hook's logger (``airflow.task.hooks.<module>.<class>``), so that the task log takes its
records; plain stdlib logging, so that tests can capture them.
"""

from __future__ import annotations

import logging

LOGGER_NAME = "airflow.task.hooks.aeries_hub.aeries.hook.AeriesHook"
log = logging.getLogger(LOGGER_NAME)
