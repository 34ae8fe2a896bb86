"""`python -m aeries_sandbox.emulator` as a subprocess: CLI, EmulatorProcess, port file, logs."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import requests

from aeries_sandbox.emulator import READ_AREAS, District, EmulatorError, EmulatorProcess

CERT = "Pr0cessTestCert00000000000000000"
CERTS = [{"name": "process-tests", "certificate": CERT, "areas": list(READ_AREAS)}]


def _get(url: str, path: str, **params):
    return requests.get(f"{url}/api/v5/{path}", params=params or None, headers={"AERIES-CERT": CERT}, timeout=10)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    log_path = tmp_path_factory.mktemp("emulator") / "emulator.log"
    with EmulatorProcess(generate=150, seed=3, certs=CERTS, log_path=log_path) as emu:
        yield emu


def test_process_serves_the_generated_district(emulator):
    assert emulator.running and emulator.url.startswith("http://127.0.0.1:") and emulator.url.endswith("/aeries")
    assert requests.get(f"{emulator.url}/api/v5/systeminfo", timeout=5).json()["DatabaseYear"] == "2026-2027"
    schools = _get(emulator.url, "schools").json()
    assert 0 in [s["SchoolCode"] for s in schools]
    assert _get(emulator.url, "schools/100/students", StartingRecord=1, EndingRecord=3).status_code == 200
    assert f"Aeries emulator listening on {emulator.url}" in emulator.read_log()


def test_process_faults_and_stats(emulator):
    emulator.reset_stats()
    state = emulator.set_faults("500=1", seed=5, max_faults=2, path_pattern="students")
    assert state["rates"] == {"500": 1.0} and state["remaining"] == 2
    codes = [_get(emulator.url, "schools/100/students").status_code for _ in range(3)]
    assert codes == [500, 500, 200]
    assert _get(emulator.url, "staff").status_code == 200
    stats = emulator.stats()
    assert stats["requests"] == 4 and stats["faults"] == {"500": 2}
    assert stats["by_status"] == {"200": 2, "500": 2}
    emulator.set_faults({"429": 1.0})
    assert _get(emulator.url, "staff").status_code == 429
    assert emulator.clear_faults()["rates"] == {}
    assert _get(emulator.url, "staff").status_code == 200


def test_log_has_one_line_per_request_and_no_certificate(emulator):
    _get(emulator.url, "courses")
    deadline = time.monotonic() + 10  # the line is logged once the answer is sent: it may land a moment later
    while "GET /aeries/api/v5/courses 200" not in (log := emulator.read_log()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "GET /aeries/api/v5/courses 200" in log and "cert=process-tests" in log
    assert CERT not in log


def test_stop_removes_the_certificates_file(tmp_path):
    emu = EmulatorProcess(generate=20, certs=CERTS, faults={"latency": 0.0}, log_path=tmp_path / "emu.log")
    with emu:
        certs_file = emu.workdir / "certs.json"
        assert certs_file.exists() and (certs_file.stat().st_mode & 0o777) == 0o600
        assert "--faults" in emu.command()
    assert not emu.running and not certs_file.exists() and not emu.workdir.exists()
    assert (tmp_path / "emu.log").exists()
    with pytest.raises(EmulatorError):
        emu.stats()


def test_write_data_then_replay_it(tmp_path):
    data = tmp_path / "district"
    done = subprocess.run(
        [sys.executable, "-m", "aeries_sandbox.emulator", "--generate", "60", "--seed", "2",
         "--write-data", str(data), "--no-serve"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    district = District.load(data)
    assert district.counts()["distinct_students"] == 60
    student = next(s for s in district.students if s["SchoolCode"] != 0)
    with EmulatorProcess(data_dir=data, certs=CERTS, base_path="/admin", log_path=tmp_path / "emu.log") as emu:
        assert emu.url.endswith("/admin")
        found = _get(emu.url, f"schools/{student['SchoolCode']}/students/{student['StudentID']}").json()
        assert found == [student]


def test_cli_rejects_bad_input_without_echoing_certificates(tmp_path):
    secret = "short-secret-value"
    certs = tmp_path / "certs.json"
    certs.write_text(json.dumps({"certificates": [{"name": "bad", "certificate": secret, "areas": []}]}))
    cases = [
        ["--generate", "10", "--certs", str(certs)],
        ["--generate", "10"],
        ["--generate", "10", "--certs", str(certs), "--faults", "404=1"],
        ["--data", str(tmp_path / "nowhere"), "--generate", "10"],
    ]
    for args in cases:
        done = subprocess.run([sys.executable, "-m", "aeries_sandbox.emulator", "--port", "0", *args],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, (args, done.stderr)
        assert secret not in done.stderr + done.stdout
    assert "bad" in subprocess.run(
        [sys.executable, "-m", "aeries_sandbox.emulator", "--port", "0", *cases[0]],
        capture_output=True, text=True, timeout=60).stderr


def test_emulator_process_reports_a_failed_start(tmp_path):
    emu = EmulatorProcess(data_dir=tmp_path / "missing", certs=CERTS, startup_timeout=30, log_path=tmp_path / "e.log")
    with pytest.raises(EmulatorError, match="exited with code"):
        emu.start()
    assert "does not exist" in emu.read_log()
    assert not emu.workdir.exists()


def test_process_writes_log(emulator):
    emulator.clear_writes()
    response = requests.post(f"{emulator.url}/api/v5/schools/100/InsertStudent", json={"LastName": "X"},
                             headers={"AERIES-CERT": CERT}, timeout=10)
    assert response.status_code == 403  # a read-only certificate
    assert response.json() == {"Message": "The certificate does not have access to Student Data - Insert"}
    [entry] = emulator.writes()
    assert (entry["method"], entry["route"], entry["status"], entry["body"]) == ("POST", "InsertStudent", 403,
                                                                               {"LastName": "X"})
    assert emulator.clear_writes() == 1 and emulator.writes() == []


def test_process_paging_options(tmp_path):
    with EmulatorProcess(generate=60, certs=CERTS, log_path=tmp_path / "emu.log", unpaged_routes=[],
                         max_rows_per_request=2) as emu:
        contacts = _get(emu.url, "schools/100/contacts", StartingRecord=1, EndingRecord=1).json()
        assert len(contacts) == 1  # every route pages
        students = _get(emu.url, "schools/100/students", StartingRecord=1, EndingRecord=5).json()
        assert len(students) == 2 and [s["StudentID"] for s in students] == [s["StudentID"] for s in _get(
            emu.url, "schools/100/students", StartingRecord=1, EndingRecord=2).json()]  # capped at 2
        assert emu.set_paging(["contacts"]) == {"unpaged_routes": ["contacts"], "max_rows_per_request": None}
        whole = _get(emu.url, "schools/100/contacts").json()
        assert len(whole) > 1 and _get(emu.url, "schools/100/contacts", StartingRecord=1, EndingRecord=1).json() == whole
    done = subprocess.run([sys.executable, "-m", "aeries_sandbox.emulator", "--port", "0", "--generate", "10",
                           "--certs", str(tmp_path / "certs.json"), "--unpaged-routes", "contacts,guardians"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "unpaged_routes: unknown routes ['guardians']" in done.stderr
