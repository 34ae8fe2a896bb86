"""A build of a run takes an earlier run's file instead of building it again (:mod:`aeries_hub.run.reuse` says when
a run takes an earlier one's files): from the run validate_sources took its files from, or, when only extracts
changed since the last completed run, from that run if what the build reads is unchanged (:func:`changed_reads`)."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from aeries_hub.run.reuse import changed_inputs, configuration, sibling_run, take_files, written_files
from aeries_hub.run.summary import BuildSummary, read_run
from aeries_hub.staging import RunFolder

log = logging.getLogger(__name__)


def build_files(stem: str, file: str) -> tuple[str, ...]:
    return (f"built/{stem}.parquet", f"output/{file}", f"rejects/{stem}.csv", f"quality/{stem}/")


def reuse_build(mapping, output, run: RunFolder, params: dict) -> BuildSummary | None:
    """The build of ``output`` taken from an earlier run (its files linked and checked): from the run validate_sources
    took its files from, or, when only extracts changed since the last completed run, from that run if what the
    build reads is unchanged (:func:`changed_reads`). None when the run has neither, the mapping, include, params,
    settings, code or date are not those validate_sources saw (a build run again alone) or that build was made
    with, or its files are not as recorded."""
    sources = read_run(run).sources
    earlier = None if sources is None else sources.reused_from or sources.earlier_run
    if sources is None or earlier is None:
        return None
    now = configuration(mapping, params)
    changed = changed_inputs(now, {key: (sources.inputs or {}).get(key) for key in now})
    if changed:
        log.warning("build_%s computes: %s changed since validate_sources", output.stem, ", ".join(changed))
        return None
    previous_folder = sibling_run(run, earlier)
    previous_run = read_run(previous_folder)
    previous = previous_run.builds.get(output.stem)
    if previous is None or previous.files is None or previous.error or previous.sha256 is None:
        log.warning("build_%s computes: %s recorded no files of it", output.stem, earlier)
        return None
    # That build may have run again alone after its validation (a task cleared after the mapping was edited):
    # its own configuration, not its validation's, says what its files were built with.
    changed = changed_inputs(now, previous.inputs or {})
    if changed:
        log.warning("build_%s computes: %s changed since %s built it", output.stem, ", ".join(changed), earlier)
        return None
    if sources.reused_from is None:
        differs = changed_reads(mapping, output, run, previous_folder)
        if differs:
            log.info("build_%s computes: %s changed since %s", output.stem, ", ".join(differs), earlier)
            return None
    problem = take_files(previous_folder, run, previous.files)
    if problem:
        log.warning("build_%s computes: cannot take the files of %s: %s", output.stem, earlier, problem)
        return None
    log.info("build_%s takes %s from %s: nothing it depends on changed", output.stem, output.file, earlier)
    return dataclasses.replace(previous, path=str(run.root / "output" / output.file), reused_from=earlier)


def changed_reads(mapping, output, run: RunFolder, previous: RunFolder) -> list[str]:
    """What a build of ``output`` reads that differs between ``run`` and the earlier run ``previous``, in words
    (empty: nothing, its files would be the same): the run values (the run's date, dates as of, ``{run.NAME}``
    values, the schools left out), the columns it reads of each validated table, and of each file built before it
    the columns its checks read. A file recorded with the same sha256 in both runs is not read."""
    from aeries_hub.mapping.build import earlier_files_read, file_checks, run_values
    from aeries_hub.mapping.reads import columns_read_by

    now, before = read_run(run), read_run(previous)
    sources, earlier_sources = now.sources, before.sources
    if sources is None or earlier_sources is None:
        return ["the validation"]
    settled = ("run_date", "dates_as_of", "run_values", "left_out_schools")
    if [getattr(sources, name) for name in settled] != [getattr(earlier_sources, name) for name in settled]:
        return ["the run values"]
    differs = []
    for table, read in sorted(columns_read_by(mapping, output).items()):
        path = f"validated/{table}.parquet"
        if _differs(run, previous, path, read, sources.files, earlier_sources.files):
            differs.append(f"the columns it reads of the validated {table}")
    checks = file_checks(mapping, output, run_values(mapping, sources).conditions_date)
    for file, checked in sorted(earlier_files_read(output, checks).items()):
        stem = mapping.output(file).stem
        built_now, built_before = now.builds.get(stem), before.builds.get(stem)
        if _differs(run, previous, f"built/{stem}.parquet", checked, built_now.files if built_now else None,
                    built_before.files if built_before else None):
            differs.append(f"the columns its checks read of {file}")
    return differs


def _differs(run: RunFolder, previous: RunFolder, path: str, columns: set[str] | None,
             files: dict[str, str] | None, earlier_files: dict[str, str] | None) -> bool:
    """Whether ``columns`` (None: all) of the staged Parquet ``path`` differ between the two runs: not when both
    recorded it with one sha256, else by value (the same rows in the same order). A file that cannot be read
    differs (the build reads it again and says what is wrong with it)."""
    sha256, earlier_sha256 = (files or {}).get(path), (earlier_files or {}).get(path)
    if sha256 is not None and sha256 == earlier_sha256:
        return False
    if not (run.exists(path) and previous.exists(path)):
        return run.exists(path) or previous.exists(path)
    try:
        return not run.read_parquet(path, columns=columns).equals(previous.read_parquet(path, columns=columns))
    except (OSError, ValueError) as exc:  # pyarrow's errors are ValueErrors
        log.warning("%s of %s or %s cannot be read (%s): taken as changed", path, run.root.name, previous.root.name,
                    type(exc).__name__)
        return True


def recorded_build(mapping, output, run: RunFolder, params: dict) -> dict[str, Any]:
    """The fields a computed build's summary adds: its files and the configuration it was built with."""
    return {"files": written_files(run, build_files(output.stem, output.file)), "inputs": configuration(mapping, params)}
