"""Aeries integration hub: hooks, mapping engine, quality gates and delivery for vendor DAGs."""

__version__ = "0.1.0"


def get_provider_info() -> dict:
    """Provider metadata: the ``aeries`` connection type with its form fields, and the ``[aeries_hub]``
    configuration section (``airflow config list --section aeries_hub``)."""
    from aeries_hub.connection_extras import AERIES_CONN_FIELDS, AERIES_FIELD_BEHAVIOUR
    from aeries_hub.settings import CONFIG_SECTION

    info: dict = {
        "package-name": "aeries-integration-hub",
        "name": "Aeries integration hub",
        "description": "Aeries SIS hooks and vendor delivery for district integrations.",
        "versions": [__version__],
        "connection-types": [
            {"hook-class-name": "aeries_hub.aeries.hook.AeriesHook", "connection-type": "aeries"},
        ],
    }
    info["connection-types"][0].update({"hook-name": "Aeries SIS", "conn-fields": AERIES_CONN_FIELDS,
                                        "ui-field-behaviour": AERIES_FIELD_BEHAVIOUR})
    info["config"] = CONFIG_SECTION
    return info
