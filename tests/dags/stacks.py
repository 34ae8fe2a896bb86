"""A sandbox stack with Airflow pointed at it: what the ``stack`` fixture and the tests with a stack of their own share."""

from __future__ import annotations

import csv
import io
import json
import os
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator

if TYPE_CHECKING:
    from aeries_hub.staging import RunFolder


@contextmanager
def stack_serving(workdir: Path, *, aeries_extra: dict | None = None, **options) -> Iterator:
    """``sandbox_stack(workdir, **options)`` with the Airflow connections pointing at it and staging in
    ``workdir/staging`` while the block runs; the environment is put back after."""
    from aeries_sandbox.stack import sandbox_stack

    saved = dict(os.environ)
    try:
        with sandbox_stack(workdir, **options) as running:
            os.environ.update(running.connection_env(aeries_extra=aeries_extra))
            os.environ["AIRFLOW__AERIES_HUB__STAGING_URL"] = f"file://{workdir}/staging"
            yield running
    finally:
        os.environ.clear()
        os.environ.update(saved)


@dataclass
class RunOutcome:
    """One run on a stack of its own: the files it delivered (name -> bytes), its staging folder, its report and
    the rows of the rejects files asked for (file name -> rows)."""

    dag_run: Any
    files: dict[str, bytes]
    run: RunFolder
    report: dict
    rejects: dict[str, list[dict]]


def run_on_district(tmp_path: Path, district: Path, dag_id: str, *, archive: str | None = None,
                    folder: str | None = None, rejects: Iterable[str] = (), **test_kwargs) -> RunOutcome:
    """Runs ``dag_id`` (built from ``aeries_hub.paths.MAPPINGS_DIR``, which a test may point at a copy) under
    ``dag.test(**test_kwargs)`` on a stack of its own in ``tmp_path/stack`` serving ``district``, and reads what
    it delivered: the members of the zip at ``archive``, or the files in ``folder``, both relative to the SFTP
    root; ``rejects`` names the run's rejects files to read (e.g. ``"classes.csv"``)."""
    from aeries_hub import paths
    from aeries_hub.dag_factory import build_dags
    from aeries_hub.staging import RunFolder, staging_base

    with stack_serving(tmp_path / "stack", data_dir=district) as running:
        dag_run = build_dags(paths.MAPPINGS_DIR)[dag_id].test(**test_kwargs)
        if archive is not None:
            with zipfile.ZipFile(running.sftp.root / archive) as zipped:
                files = {name: zipped.read(name) for name in zipped.namelist()}
        else:
            files = {path.name: path.read_bytes() for path in sorted((running.sftp.root / folder).iterdir())}
        run = RunFolder(staging_base(), dag_id, dag_run.run_id)
        report = run.read_json("report.json")
        rejected = {name: list(csv.DictReader(io.StringIO(run.path("rejects", name).read_text(), newline="")))
                    for name in rejects}
    return RunOutcome(dag_run, files, run, report, rejected)


def blank_teacher_names(district: Path, staff_id: int) -> None:
    """Makes staff member ``staff_id`` of the district's data files a teacher with no name at all: FirstName and
    LastName blank in staff.json and in each of their teacher records in teachers.json."""
    for table, key in (("staff", "ID"), ("teachers", "StaffID1")):
        path = district / f"{table}.json"
        records = json.loads(path.read_text(encoding="utf-8"))
        for record in records:
            if record[key] == staff_id:
                record.update({"FirstName": "", "LastName": ""})
        path.write_text(json.dumps(records), encoding="utf-8")
