"""Talking to Aeries: the hook (:mod:`.hook`), its errors, settings, paging, Arrow conversion and table registry.

Import each name from the module that defines it (e.g. ``from aeries_hub.aeries.hook import AeriesHook``).
"""
