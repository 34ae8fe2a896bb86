"""Building one vendor file of a run: the validated tables mapped by the mapping's record sets, the file's column
rules and checks run over it, and the accepted rows rendered in the file's format."""

from __future__ import annotations

import dataclasses
import hashlib
import logging

from aeries_hub.mapping.models import Mapping, Output
from aeries_hub.quality.column_rules import output_checks, reference_tables, rule_checks
from aeries_hub.resources import use_allocators_that_return_memory
from aeries_hub.run.rejects import rejected_ids
from aeries_hub.run.report import dates_held_line, failed_checks
from aeries_hub.run.summary import BuildSummary, SourceValidation, read_run, write_summary
from aeries_hub.staging import RunFolder

log = logging.getLogger(__name__)


def build_vendor_file(mapping: Mapping, output: Output, run: RunFolder) -> BuildSummary:
    """Map the validated tables to one vendor file, check it, write ``output/<file>`` and its rejects; the build's
    summary (a file that fails its error checks or cannot be built fails the run, with its summary written), for
    the build task to write.

    The accepted rows are also kept as ``built/<stem>.parquet`` for the files built after this one: those
    that reference its keys (checked against its accepted rows) or nest its rows (jsonl).
    """
    import pandas as pd
    from airflow.sdk.exceptions import AirflowFailException

    from aeries_hub.mapping.engine import RECORD_SET_COLUMN, build_output
    from aeries_hub.mapping.reads import columns_read_by
    from aeries_hub.mapping.render import describe_single_line_values, single_line_values
    from aeries_hub.mapping.source_filters import apply_source_filters
    from aeries_hub.quality import validate_frame
    from aeries_hub.quality.runner import rejects_csv

    use_allocators_that_return_memory()
    read = {name: run.read_parquet(f"validated/{name}.parquet", columns=columns)
            for name, columns in columns_read_by(mapping, output).items()}
    sources = read_run(run).sources or SourceValidation()
    tables = apply_source_filters(mapping, read, sources.left_out_schools)
    del read  # the sources of a roster file take as much memory as the file: handed over to the build
    values = run_values(mapping, sources)
    try:
        built = build_output(mapping, output, tables, values, release_tables=True)
    except (KeyError, ValueError) as exc:
        _build_failed(run, output, exc)
    held = output.uses_date_conditions and values.conditions_date != values.run_date
    if held:
        log.warning("%s", dates_held_line(values.run_date, values.conditions_date, [output.file]))
    del tables
    single_line: dict = {}
    # Before the checks, they see the values as they are written; after them when a cells rule forbids line breaks.
    one_line_first = output.format.type == "delimited" and not (output.cells and output.cells.line_breaks)
    if one_line_first:
        built.frame, single_line = single_line_values(built.frame, output.delivered_columns, output.key)
    checks = file_checks(mapping, output, values.conditions_date)
    earlier = {file: run.read_parquet(f"built/{mapping.output(file).stem}.parquet", columns=columns)
               for file, columns in earlier_files_read(output, checks).items()}
    known = {**earlier, output.file: built.frame}  # a file may reference its own keys (OneRoster parentSourcedId)
    known.update(reference_tables(output, known, values.conditions_date))
    with run.local_dir(f"quality/{output.stem}") as docs_dir:
        outcome = validate_frame(built.frame, checks, name=output.stem, tables=known, docs_dir=docs_dir,
                                 id_columns=output.key, data_docs=False)
    rows_built = len(built.frame)
    # The built rows are in outcome.accepted and outcome.rejected now (a copy when some were rejected); the
    # earlier files are needed again only to nest their rows.
    built.frame = pd.DataFrame()
    del known
    if not output.nest:
        earlier = {}
    if output.format.type == "delimited" and not one_line_first:
        outcome.accepted, single_line = single_line_values(outcome.accepted, output.delivered_columns, output.key)
    if single_line:
        log.warning("%s", describe_single_line_values(output.file, single_line))
    if len(outcome.rejected):
        run.write_bytes(f"rejects/{output.stem}.csv", rejects_csv(outcome.rejected))
    summary = BuildSummary(
        file=output.file,
        rows_built=rows_built,
        rows=len(outcome.accepted),
        rejected=len(outcome.rejected),
        rejected_ids=rejected_ids(outcome.rejected, output.key),
        rows_by_record_set=built.rows_by_record_set,
        merged_duplicates=built.merged_duplicates,
        single_line_values=single_line,
        checks=outcome.to_dict(),
        dates_as_of=values.conditions_date.isoformat() if held and values.conditions_date else None,
        run_date=values.run_date.isoformat() if held and values.run_date else None,
    )
    if outcome.has_errors:
        write_summary(run, f"build_{output.stem}", summary)
        why = "\n".join(failed_checks(mapping, SourceValidation(), {output.stem: summary})) or outcome.error_message()
        raise AirflowFailException(f"{output.file} failed its error checks; nothing was delivered.\n{why}")
    accepted = outcome.accepted.drop(columns=[RECORD_SET_COLUMN])
    run.write_parquet(f"built/{output.stem}.parquet", accepted)
    del outcome
    try:
        path, size, sha256 = write_output(run, mapping, output, accepted, earlier)
    except (KeyError, ValueError) as exc:
        _build_failed(run, output, exc)
    return dataclasses.replace(summary, path=str(path), bytes=size, sha256=sha256)


#: Rows of a delimited file rendered at a time: its bytes go into the file batch after batch, never whole in memory
#: (a district's enrollments.csv is hundreds of megabytes).
RENDER_BATCH_ROWS = 200_000


def write_output(run: RunFolder, mapping: Mapping, output: Output, rows, frames: dict,
                 batch_rows: int = RENDER_BATCH_ROWS) -> tuple[object, int, str]:
    """``output/<file>`` written with ``rows`` in its format (:func:`render_rows`): its path, size and sha256.

    A delimited UTF-8 file is rendered ``batch_rows`` rows at a time, the header (and byte order mark) with the
    first batch: every row's bytes depend on that row alone, so the file is the same as rendered whole."""
    from aeries_hub.staging import write_private_with

    digest, size = hashlib.sha256(), 0
    batched = output.format.type == "delimited" and output.format.encoding in ("utf-8", "utf-8-sig")

    def batches():
        if not batched or len(rows) <= batch_rows:
            yield render_rows(mapping, output, rows, frames)
            return
        later = dataclasses.replace(output, format=dataclasses.replace(output.format, header=False, encoding="utf-8"))
        for start in range(0, len(rows), batch_rows):
            yield render_rows(mapping, output if start == 0 else later, rows.iloc[start:start + batch_rows], frames)

    def produce(handle) -> None:
        nonlocal size
        for data in batches():
            handle.write(data)
            digest.update(data)
            size += len(data)

    path = run.path("output", output.file)
    write_private_with(path, produce)
    return path, size, digest.hexdigest()


def file_checks(mapping: Mapping, output: Output, conditions_date) -> list:
    """The checks a build of ``output`` runs: those of its column rules, its own, its ``counts:`` and ``matches:``
    (their date conditions comparing with ``conditions_date``)."""
    from aeries_hub.quality import parse_checks

    where = f"{mapping.path.name}: outputs[{mapping.outputs.index(output)}]"
    return parse_checks(output_checks(output), where=where) + rule_checks(output, where, conditions_date)


def earlier_files_read(output: Output, checks: list) -> dict[str, set[str] | None]:
    """The files built before ``output`` that its build reads, each with the columns it reads (None: all)."""
    return {file: columns_checked(output, checks, file) for file in output.needs}


def columns_checked(output: Output, checks: list, file: str) -> set[str] | None:
    """The columns of the earlier built ``file`` that ``output``'s checks read: the ones they look values up in,
    and those of their references' ``where`` (a users file of a district is hundreds of megabytes, of which
    enrollments check one column). None (all of them) when ``output`` nests the file's rows or has ``matches``."""
    from aeries_hub.quality.checks import referenced_columns
    from aeries_hub.quality.column_rules import reference_table

    if output.nest or output.matches:
        return None
    read = referenced_columns(checks)
    columns = set(read.get(file, ()))
    for ref in output.references:
        if ref.file == file:
            columns |= set(read.get(reference_table(ref), ())) | {ref.key}
            columns |= {column for condition in ref.where for column in condition.columns}
    return columns


def render_rows(mapping: Mapping, output: Output, rows, frames: dict) -> bytes:
    """The bytes of ``output`` with ``rows`` in its format; a jsonl file nests the rows of ``frames`` (by file name)."""
    from aeries_hub.mapping.render import NestedRows, render_delimited, render_jsonl

    if output.format.type == "jsonl":
        nested = [NestedRows(nest, mapping.output(nest.file), frames[nest.file]) for nest in output.nest]
        return render_jsonl(rows, output, nested)
    return render_delimited(rows, output.delivered_columns, output.format, output.key, output.raw_columns)


def run_values(mapping: Mapping, sources: SourceValidation):
    """Crosswalks, and what validate_sources settled from Aeries (``extract.school_year.settle_run_values``): the
    run's date, the day its date conditions compare with and the ``{run.NAME}`` values."""
    from datetime import date

    from aeries_hub.mapping.crosswalk import read_crosswalks
    from aeries_hub.mapping.values import RunValues

    def day(iso: str | None) -> date | None:
        return date.fromisoformat(iso) if iso else None

    return RunValues(crosswalks=read_crosswalks(mapping), run_date=day(sources.run_date), aeries=sources.run_values or {},
                     dates_as_of=day(sources.dates_as_of))


def _build_failed(run: RunFolder, output, exc: Exception):
    """A file that cannot be built (a column the mapping names is missing, a value its encoding cannot hold):
    the reason goes to the report, and the run stops before delivery."""
    from airflow.sdk.exceptions import AirflowFailException

    reason = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    write_summary(run, f"build_{output.stem}", BuildSummary(file=output.file, error=reason))
    raise AirflowFailException(f"{output.file} could not be built; nothing was delivered: {reason}") from exc

