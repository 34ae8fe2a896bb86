"""The build_<file> tasks: one vendor file mapped, checked and rendered (:func:`aeries_hub.mapping.build.build_vendor_file`)."""

from __future__ import annotations

import dataclasses

from aeries_hub.run.summary import write_summary
from aeries_hub.staging import RunFolder
from aeries_hub.tasks.context import mapping_for


def build_file(mapping_file: str, file_name: str) -> dict:
    """Map the validated tables to one vendor file, check it, write ``output/<file>`` and its rejects.

    The accepted rows are also kept as ``built/<stem>.parquet`` for the files built after this one: those
    that reference its keys (checked against its accepted rows) or nest its rows (jsonl). When validate_sources
    took an earlier run's files, the build takes that run's too (:func:`aeries_hub.run.build_reuse.reuse_build`). Returns what package
    and deliver take: the file, its rows and rejected rows, its path, size and sha256.
    """
    from airflow.sdk import get_current_context

    from aeries_hub.mapping.build import build_vendor_file
    from aeries_hub.run import build_reuse

    mapping = mapping_for(mapping_file)
    output = mapping.output(file_name)
    run = RunFolder.current()
    params = get_current_context()["params"]
    summary = build_reuse.reuse_build(mapping, output, run, params)
    if summary is None:
        summary = build_vendor_file(mapping, output, run)
        summary = dataclasses.replace(summary, **build_reuse.recorded_build(mapping, output, run, params))
    write_summary(run, f"build_{output.stem}", summary)
    return {k: getattr(summary, k) for k in ("file", "rows", "rejected", "path", "bytes", "sha256")}
