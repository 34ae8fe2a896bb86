"""Hooks of the Aeries integration hub (import them from their modules, e.g. aeries_hub.hooks.aeries)."""
