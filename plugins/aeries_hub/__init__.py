"""Aeries integration hub: hooks, mapping engine, quality gates and delivery for vendor DAGs."""

__version__ = "0.1.0"


def get_provider_info() -> dict:
    """Provider metadata, so Airflow lists the ``aeries`` connection type in its UI."""
    return {
        "package-name": "aeries-integration-hub",
        "name": "Aeries integration hub",
        "description": "Aeries SIS hooks and vendor delivery for district integrations.",
        "versions": [__version__],
        "connection-types": [
            {"hook-class-name": "aeries_hub.aeries.hook.AeriesHook", "connection-type": "aeries"},
        ],
    }
