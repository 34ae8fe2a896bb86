"""End to end on the hand-written fixture district: each vendor's delivered files, byte for byte.

The district (tests/fixtures/district/) and the files each vendor should receive
(tests/fixtures/expected/<vendor>/) were written by hand from the seeds and the mappings' stated rules,
not produced by the code under test; tests/fixtures/district/README.md says which record exercises which
rule and how the less obvious rows were derived. Each vendor's DAG runs once under dag.test() against the
Aeries emulator serving that district and OpenSSH's sshd; the files that land on the SFTP server (the
members of PowerSchool Learning's zip, in order) must equal the expected files, and the run report's
rejected ids must equal the vendor's rejects.txt. SchoolMint Enroll posts JSON records to the vendor-API
receiver instead: its staged ``output/students.jsonl`` must equal the expected file, the delivery must report
those bytes' checksum and every record imported, and the receiver's sandbox must hold exactly those students.

"""

from __future__ import annotations

import difflib
import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from aeries_hub.staging import RunFolder, staging_base

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DISTRICT = FIXTURES / "district"
EXPECTED = FIXTURES / "expected"

# The shared `stack` fixture (tests/dags/conftest.py) starts sandbox_stack(workdir, data_dir=DISTRICT) once
# for this module and points the Airflow connections at it.
STACK = {"data_dir": DISTRICT}


@dataclass(frozen=True)
class Vendor:
    dag_id: str
    remote_dir: str | None  # None: posted over HTTP to the vendor-API receiver, not put on the SFTP server
    files: tuple[str, ...]  # in the mapping's order (the zip's member order)
    zip: str | None = None
    run_conf: dict = field(default_factory=dict)

    @property
    def http(self) -> bool:
        return self.remote_dir is None


VENDORS = {
    "destiny": Vendor("aeries_to_destiny", "patrons", ("patrons.csv",)),
    "xello": Vendor(
        "aeries_to_xello",
        "xello",
        ("School.txt", "Student.txt", "StudentCourses.txt", "Educator.txt", "StudentGroup.txt"),
        run_conf={"ignore_window": True},  # the pull window is weekends 20:00-02:00
    ),
    "powerschool_learning": Vendor(
        "aeries_to_powerschool_learning",
        "powerschool_learning",
        ("organizations.csv", "users.csv", "users_levels.csv", "classes.csv", "rosters.csv"),
        zip="powerschool_learning_import.zip",
    ),
    "stemscopes": Vendor(
        "aeries_to_stemscopes",
        "stemscopes",
        (
            "manifest.csv",
            "orgs.csv",
            "academicSessions.csv",
            "courses.csv",
            "classes.csv",
            "users.csv",
            "enrollments.csv",
            "demographics.csv",
        ),
        zip="stemscopes_oneroster.zip",
    ),
    # One jsonl file, posted in batches to the receiver's sandbox instance (delivery.http.target).
    "schoolmint_enroll": Vendor("aeries_to_schoolmint_enroll", None, ("students.jsonl",)),
}


def expected_rejects(expected_dir: Path) -> set[tuple[str, str]]:
    """(file, id) pairs from a vendor's rejects.txt: ``file<TAB>id<TAB>why`` per line, ``#`` comments."""
    pairs = set()
    for line in (expected_dir / "rejects.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            file, rejected_id, _why = line.split("\t", 2)
            pairs.add((file, rejected_id))
    return pairs


def delivered_files(stack, spec: Vendor) -> dict[str, bytes]:
    """What landed on the SFTP server: the files, or the zip's members in their order."""
    folder = stack.sftp.root / spec.remote_dir
    if spec.zip:
        with zipfile.ZipFile(folder / spec.zip) as archive:
            return {name: archive.read(name) for name in archive.namelist()}
    return {name: (folder / name).read_bytes() for name in spec.files if (folder / name).exists()}


def staged_files(run: RunFolder, spec: Vendor) -> dict[str, bytes]:
    """What an HTTP vendor's DAG staged and posted: ``output/<file>`` of the run."""
    files = {}
    for name in spec.files:
        with run.path("output", name).open("rb") as handle:
            files[name] = handle.read()
    return files


def record_ids(data: bytes) -> list[str]:
    """The students.student_district_id of each JSON Lines record."""
    return [json.loads(line)["students"]["student_district_id"] for line in data.decode("utf-8").splitlines()]


def byte_diff(name: str, expected: bytes, actual: bytes) -> str:
    """A unified diff that shows line endings (repr of each line)."""

    def lines(data: bytes) -> list[str]:
        return [repr(line) + "\n" for line in data.decode("utf-8", errors="replace").splitlines(keepends=True)]

    return "".join(difflib.unified_diff(lines(expected), lines(actual), f"expected/{name}", f"delivered/{name}", n=0))


@pytest.mark.e2e
@pytest.mark.parametrize("vendor", list(VENDORS))
def test_fixture_district_delivers_the_hand_written_files(stack, vendor):
    check_delivers_the_hand_written_files(stack, vendor, EXPECTED / vendor)


def check_delivers_the_hand_written_files(stack, vendor: str, expected_dir: Path) -> tuple[RunFolder, dict]:
    """Run ``vendor``'s DAG once against the stack's district; what it delivers, and what its report says it
    rejected, must be the hand-written files and rejects.txt of ``expected_dir``. Returns the run's staging
    folder and its report, for a caller's own checks."""
    from aeries_hub.dag_factory import build_dags
    from aeries_hub.paths import MAPPINGS_DIR

    spec = VENDORS[vendor]
    if spec.http:
        stack.vendor_api.reset()
    else:
        folder = stack.sftp.root / spec.remote_dir
        for name in (spec.zip,) if spec.zip else spec.files:
            (folder / name).unlink(missing_ok=True)

    dag_run = build_dags(MAPPINGS_DIR)[spec.dag_id].test(run_conf=spec.run_conf)

    assert dag_run.state == "success"
    run = RunFolder(staging_base(), spec.dag_id, dag_run.run_id)
    expected = {name: (expected_dir / name).read_bytes() for name in spec.files}
    delivered = staged_files(run, spec) if spec.http else delivered_files(stack, spec)
    assert list(delivered) == list(expected), "delivered files (zip members in order)"
    differ = [name for name in expected if delivered[name] != expected[name]]
    diffs = "\n".join(byte_diff(name, expected[name], delivered[name]) for name in differ)
    assert not differ, "delivered bytes differ from the hand-written files:\n" + diffs

    report = run.read_json("report.json")
    rejected = {(f["file"], rejected_id) for f in report["files"].values() for rejected_id in f["rejected_ids"]}
    wanted = expected_rejects(expected_dir)
    assert rejected == wanted
    assert report["rejected"] == len(wanted), "no Aeries row is rejected before mapping"
    assert report["status"] == ("Completed with errors" if wanted else "Completed")
    if spec.http:
        (data,) = expected.values()
        ids = record_ids(data)
        (posted,) = report["delivered"]
        assert posted["target"] == "sandbox"
        assert posted["sha256"] == hashlib.sha256(data).hexdigest()
        assert posted["records_sent"] == posted["imported"] == len(ids)
        assert sorted(stack.vendor_api.state("sandbox")["records"]) == sorted(ids)
    else:
        remote = [d["remote_path"] for d in report["delivered"]]
        assert sorted(remote) == sorted(f"{spec.remote_dir}/{name}" for name in ((spec.zip,) if spec.zip else spec.files))
    return run, report
