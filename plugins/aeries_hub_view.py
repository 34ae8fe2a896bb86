"""Registers the Aeries hub view (``aeries_hub.hub_view``) with Airflow, which imports every module of its plugins
folder and loads the AirflowPlugin classes it finds there."""

from aeries_hub.hub_view.plugin import AeriesHubViewPlugin

__all__ = ["AeriesHubViewPlugin"]
