"""The hub's plugin for Airflow's plugins folder: the listener that puts each vendor run's one-line outcome in its
run note, in the grid (:mod:`aeries_hub.run.notes`)."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from aeries_hub.run import notes


class AeriesHubRunNotes(AirflowPlugin):
    name = "aeries_hub_run_notes"
    listeners = [notes]
