"""The run report (run.report, run.rejects): the status the stages lead to, failed checks, reasons for rejected
rows, and no student data besides ids."""

from __future__ import annotations

import json

import pandas as pd

from aeries_hub.mapping.loader import load_mapping
from aeries_hub.paths import MAPPINGS_DIR
from aeries_hub.quality import parse_checks, validate_frame
from aeries_hub.quality.column_rules import output_checks
from aeries_hub.run.rejects import reject_reason_lines
from aeries_hub.run.report import report_lines, summarize_run
from aeries_hub.run.summary import RunSummaries
from tests.plugins.aeries_hub.quality.test_column_rules import DESTINY, check_patrons, patron


def summarize(mapping, stages: dict[str, dict]) -> dict:
    """The report of a run whose stages wrote these summaries (by task id)."""
    return summarize_run(mapping, RunSummaries.from_documents(stages)).to_json()


def test_run_status_follows_rejects_failures_and_unfinished_stages():
    stages = {
        "extract_schools": {"table": "schools", "rows": 3},
        "extract_students": {"table": "students", "rows": 9},
        "extract_staff": {"table": "staff", "rows": 2},
        "extract_teachers": {"table": "teachers", "rows": 2},
        "validate_sources": {"tables": {"students": {"rejected": 0, "checks": {"passed": 5, "warned": 1, "failed": 0}}}},
        "build_patrons": {"file": "patrons.csv", "rows": 10, "rejected": 1, "sha256": "ab", "checks": {"passed": 9, "warned": 1, "failed": 0}},
        "deliver": {"dry_run": False, "files": [{"remote_path": "patrons/patrons.csv"}]},
    }
    assert summarize(DESTINY, stages)["status"] == "Completed with errors"
    assert summarize(DESTINY, {**stages, "build_patrons": {**stages["build_patrons"], "rejected": 0}})["status"] == "Completed"
    assert summarize(DESTINY, {k: v for k, v in stages.items() if k != "deliver"})["status"] == "Error"
    assert summarize(DESTINY, {k: v for k, v in stages.items() if k != "extract_staff"})["status"] == "Error"


def clean_destiny_stages() -> dict:
    """The stage summaries of a Destiny run that extracted and built without a reject, before it delivered."""
    return {
        "extract_schools": {"table": "schools", "rows": 3},
        "extract_students": {"table": "students", "rows": 9},
        "extract_staff": {"table": "staff", "rows": 2},
        "extract_teachers": {"table": "teachers", "rows": 2},
        "validate_sources": {"tables": {}},
        "build_patrons": {"file": "patrons.csv", "rows": 10, "rejected": 0, "sha256": "ab", "checks": {}},
    }


def test_a_failed_task_s_cause_is_the_reason_and_the_outcome_of_the_report():
    stages = clean_destiny_stages()
    cause = ("authentication failed for user hub on sftp connection 'destiny_sftp' (127.0.0.1:2222): check the login "
             "and the key_file/private_key extra, and that the vendor installed the matching public key")
    failure = {"task_id": "deliver", "error": "DeliveryError", "message": cause, "conn_id": "destiny_sftp",
               "check": cause.split(": ", 1)[1]}

    document = summarize_run(DESTINY, RunSummaries.from_documents(stages, {"deliver": failure})).to_json()

    assert document["status"] == "Error"
    assert document["failed_tasks"] == [failure]
    assert document["reason"] == f"deliver failed: DeliveryError: {cause}"
    assert document["outcome"] == f"Error: deliver failed: DeliveryError: {cause}"
    assert report_lines(document)[:2] == ["destiny: Error", f"deliver failed: DeliveryError: {cause}"]
    delivered = {"deliver": {"files": [{"file": "patrons.csv", "remote_path": "patrons/patrons.csv", "rows": 10}]}}
    assert summarize(DESTINY, stages | delivered)["outcome"] == "Completed: 10 rows delivered in 1 file"
    assert "reason" not in summarize(DESTINY, stages | delivered)


def test_the_report_names_failed_checks_with_counts_and_ids_but_no_other_student_data():
    failed = {"outcome": "failed", "expectation": "expect_column_values_to_match_regex", "columns": ["field_lastName"],
              "description": "field_lastName is required", "unexpected_count": 2, "element_count": 9, "exception": None,
              "sample": [{"row": 3, "field_districtID": "102", "field_lastName": "Zoë Q"},
                         {"row": 5, "field_districtID": "STAFF-7", "field_lastName": " "}]}
    stages = {
        "validate_sources": {"tables": {"students": {"rejected": 0, "checks": {"results": [{**failed, "columns": ["LastName"],
            "sample": [{"row": 1, "SchoolCode": 994, "StudentID": 101, "LastName": "O'Brien"}]}]}}}},
        "build_patrons": {"file": "patrons.csv", "rows": 0, "rejected": 0, "checks": {"results": [failed]}},
    }

    errors = summarize(DESTINY, stages)["errors"]

    assert errors == [
        "students: field_lastName is required [LastName]: 2 of 9 rows fail, e.g. 994/101",
        "patrons.csv: field_lastName is required [field_lastName]: 2 of 9 rows fail, e.g. 102, STAFF-7",
    ]


def test_the_report_says_which_school_year_aeries_served_and_why_it_is_not_the_runs():
    note = ("Aeries does not offer the school year 2027-2028 (it offers 2026-2027, 2025-2026); read 2026-2027, the "
            "newest that has started (connection extra unavailable_year: newest_started)")
    served = {"database_year": 2026, "school_year": "2026-2027", "requested_year": 2027,
              "available_years": ["2026-2027", "2025-2026"], "year_note": note}
    stages = {f"extract_{t}": {"table": t, "rows": 1, **served} for t in ("schools", "students", "staff", "teachers")}

    document = summarize(DESTINY, stages)

    assert (document["database_year"], document["school_year"], document["attention"]) == (2026, "2026-2027", [note])
    assert report_lines(document)[1:4] == [
        "extracted (Aeries DatabaseYear 2026, school year 2026-2027): schools 1, staff 1, students 1, teachers 1",
        "checks: 0 passed, 0 warned, 0 failed; 0 rows rejected",
        note,
    ]


def test_a_school_year_aeries_does_not_offer_is_an_error_of_the_report():
    error = ("Aeries connection 'aeries_default' does not offer the school year 2027-2028 (DatabaseYear 2027); it "
             "offers 2026-2027, 2025-2026. The connection's extra unavailable_year is \"fail\": ...")
    document = summarize(DESTINY, {"school_year": {"error": error}})
    assert (document["status"], document["errors"], document["school_year"]) == ("Error", [error], None)




def built(outcome, **extra) -> dict:
    """The summary build_file writes for patrons.csv (the parts summarize_run reads)."""
    return {"file": "patrons.csv", "rows_built": outcome.row_count, "rows": len(outcome.accepted),
            "rejected": len(outcome.rejected), "checks": outcome.to_dict(), **extra}


def test_a_file_whose_every_row_is_rejected_fails_saying_why_with_ids_and_no_other_student_data():
    rows = [patron(field_barcode=str(n), field_districtID=str(n), field_siteShortName=" ", field_firstName=f"Zoë{n}",
                   field_lastName=f"Quixote{n}", field_birthdate="03/04/2015") for n in range(101, 108)]
    rows[6]["field_status"] = "X"
    outcome = check_patrons(rows)
    assert outcome.has_errors and outcome.rejected_count == 7

    document = summarize(DESTINY, {"build_patrons": built(outcome)})

    assert document["status"] == "Error"
    assert document["files"]["patrons"]["reject_reasons"] == [
        {"reason": "field_siteShortName is required", "count": 7, "sample_ids": ["101", "102", "103", "104", "105"]},
        {"reason": "field_status is one of A, I, R", "count": 1, "sample_ids": ["107"]},
    ]
    assert document["files"]["patrons"]["more_reject_reasons"] == 0
    assert document["reason"] == ("7 rows rejected, top reasons: patrons.csv: field_siteShortName is required (7 rows); "
                                  "patrons.csv: field_status is one of A, I, R (1 row)")
    assert document["outcome"] == f"Error: {document['reason']}"
    assert document["errors"] == [
        "patrons.csv: all 7 rows rejected (patrons.csv has at least 1 rows: failed); top reasons: "
        "field_siteShortName is required (7 rows, e.g. 101, 102, 103, 104, 105); "
        "field_status is one of A, I, R (1 row, e.g. 107); every rejected row with its reasons: rejects/patrons.csv"
    ]
    lines = report_lines(document)
    assert [line for line in lines if line.startswith("rejected from")] == [
        "rejected from patrons.csv: field_siteShortName is required (7 rows, e.g. 101, 102, 103, 104, 105)",
        "rejected from patrons.csv: field_status is one of A, I, R (1 row, e.g. 107)",
    ]
    text = json.dumps(document) + "\n".join(lines)
    assert "Zoë" not in text and "Quixote" not in text and "03/04/2015" not in text


def test_the_report_gives_the_five_most_frequent_reasons_and_counts_the_others():
    rows = [patron(field_barcode=str(n), field_districtID=str(n)) for n in range(101, 121)]
    broken = {  # reason: the rows that have it, in file order
        "field_siteShortName is required": range(0, 6),
        "field_status is one of A, I, R": range(6, 11),
        "field_gender is one of M, F, U": range(11, 15),
        "field_isTeacher is one of T, F": range(15, 18),
        "field_patronType is required": range(18, 19),
        r"field_birthdate matches ^\d{2}/\d{2}/\d{4}$": range(19, 20),
        "field_lastName is required": range(0, 2),
    }
    values = {"field_siteShortName is required": ("field_siteShortName", ""),
              "field_status is one of A, I, R": ("field_status", "X"),
              "field_gender is one of M, F, U": ("field_gender", "X"),
              "field_isTeacher is one of T, F": ("field_isTeacher", "X"),
              "field_patronType is required": ("field_patronType", ""),
              r"field_birthdate matches ^\d{2}/\d{2}/\d{4}$": ("field_birthdate", "2015-03-04"),
              "field_lastName is required": ("field_lastName", " ")}
    for reason, positions in broken.items():
        column, value = values[reason]
        for n in positions:
            rows[n][column] = value
    outcome = check_patrons(rows + [patron(field_barcode="900", field_districtID="900")])

    file = summarize(DESTINY, {"build_patrons": built(outcome, sha256="ab")})["files"]["patrons"]

    assert [(r["reason"], r["count"], r["sample_ids"]) for r in file["reject_reasons"]] == [
        ("field_siteShortName is required", 6, ["101", "102", "103", "104", "105"]),
        ("field_status is one of A, I, R", 5, ["107", "108", "109", "110", "111"]),
        ("field_gender is one of M, F, U", 4, ["112", "113", "114", "115"]),
        ("field_isTeacher is one of T, F", 3, ["116", "117", "118"]),
        ("field_lastName is required", 2, ["101", "102"]),
    ]
    assert file["more_reject_reasons"] == 2
    assert reject_reason_lines({"files": {"patrons": file}})[-1] == (
        "rejected from patrons.csv: 2 more reasons, see rejects/patrons.csv")


def test_vendor_refusals_are_grouped_by_reason_without_the_values_the_vendor_quotes():
    refused = [
        {"index": 5, "id": "141005", "errors": ["students.DOB: '02/10/2010' is not a YYYY-MM-DD date"]},
        {"index": 9, "id": "141009", "errors": ["students.DOB: '11/30/2011' is not a YYYY-MM-DD date",
                                                 "students.fname: is required (missing or blank)"]},
        {"index": 12, "id": "141012", "errors": ['guardians.email: "ana.diaz@mail.test" is not an e-mail address']},
    ]
    stages = {
        "build_students": {"file": "students.jsonl", "rows": 3, "rejected": 0, "sha256": "ab", "checks": {}},
        "deliver": {"files": [{"file": "students.jsonl", "url": "/api/import", "conn_id": "enroll", "rows": 3,
                               "bytes": 10, "sha256": "ab", "rejected": refused}]},
    }
    mapping = load_mapping(MAPPINGS_DIR / "schoolmint_enroll.yml")

    document = summarize(mapping, stages)

    file = document["files"]["students"]
    assert file["rejected_by_vendor"] == 3 and document["rejected_by_vendor"] == 3
    assert document["reason"] == (
        "3 rows rejected, top reasons: refused by the vendor from students.jsonl: students.DOB: <value> is not a "
        "YYYY-MM-DD date (2 records); refused by the vendor from students.jsonl: students.fname: is required (missing "
        "or blank) (1 record); refused by the vendor from students.jsonl: guardians.email: <value> is not an e-mail "
        "address (1 record)")
    assert file["vendor_reject_reasons"] == [
        {"reason": "students.DOB: <value> is not a YYYY-MM-DD date", "count": 2, "sample_ids": ["141005", "141009"]},
        {"reason": "students.fname: is required (missing or blank)", "count": 1, "sample_ids": ["141009"]},
        {"reason": "guardians.email: <value> is not an e-mail address", "count": 1, "sample_ids": ["141012"]},
    ]
    assert [r["errors"] for r in document["delivered"][0]["rejected"]] == [
        ["students.DOB: <value> is not a YYYY-MM-DD date"],
        ["students.DOB: <value> is not a YYYY-MM-DD date", "students.fname: is required (missing or blank)"],
        ["guardians.email: <value> is not an e-mail address"],
    ]
    lines = report_lines(document)
    assert [line for line in lines if line.startswith("refused by the vendor")] == [
        "refused by the vendor from students.jsonl: students.DOB: <value> is not a YYYY-MM-DD date "
        "(2 records, e.g. 141005, 141009)",
        "refused by the vendor from students.jsonl: students.fname: is required (missing or blank) "
        "(1 record, e.g. 141009)",
        "refused by the vendor from students.jsonl: guardians.email: <value> is not an e-mail address "
        "(1 record, e.g. 141012)",
    ]
    text = json.dumps(document) + "\n".join(lines)
    assert "2010" not in text and "2011" not in text and "ana.diaz" not in text


def test_an_e_mail_shared_by_educators_is_a_warning_with_every_id_in_the_report_and_no_names():
    xello = load_mapping(MAPPINGS_DIR / "xello.yml")
    educators = xello.output("Educator.txt")
    shared = [("994", "70"), ("994", "71"), ("995", "72"), ("994", "73"), ("994", "74"), ("994", "75"), ("994", "76")]
    rows = [{c: "" for c in educators.delivered_columns} | {
        "FirstName": f"Zoë{sid}", "LastName": f"Quixote{sid}", "Email": "nowhere@aeries.com", "SchoolCode": school,
        "Permissions": "User", "EducatorSISId": sid} for school, sid in shared]
    rows.append(rows[0] | {"Email": "kim@district.org", "EducatorSISId": "77"})
    checks = parse_checks(output_checks(educators), where="xello.yml: outputs[3]")
    outcome = validate_frame(pd.DataFrame(rows), checks, name="Educator", id_columns=educators.key)
    build = {"file": "Educator.txt", "rows_built": 8, "rows": 8, "rejected": 0, "checks": outcome.to_dict(),
             "sha256": "ab"}

    document = summarize(xello, {"build_Educator": build})

    warning = "an e-mail (Xello's username) belongs to one educator per school"
    assert document["files"]["Educator"]["shared_values"] == [
        {"warning": warning, "values": {"Email": "nowhere@aeries.com", "SchoolCode": "994"}, "count": 6,
         "ids": ["70", "71", "73", "74", "75", "76"]},
    ]
    lines = report_lines(document)
    assert [line for line in lines if line.startswith("Educator.txt:")] == [
        f"Educator.txt: {warning}: Email nowhere@aeries.com, SchoolCode 994 is shared by 6 rows: "
        "70, 71, 73, 74, 75, 76"]
    text = json.dumps(document) + "\n".join(lines)
    assert "Zoë" not in text and "Quixote" not in text


def test_a_class_without_a_teacher_enrollment_is_named_in_the_report_with_every_id():
    stemscopes = load_mapping(MAPPINGS_DIR / "stemscopes.yml")
    enrollments = stemscopes.output("enrollments.csv")
    rows = [{c: "" for c in enrollments.delivered_columns} | {
        "sourcedId": f"{klass}-{user}", "classSourcedId": klass, "schoolSourcedId": "300", "userSourcedId": user,
        "role": role} for klass, user, role in (("300-1", "T7", "teacher"), ("300-2", "55", "student"),
                                                ("300-3", "T8", "teacher"), ("300-4", "T7", "teacher"))]
    known = {"classes.csv": pd.DataFrame({"sourcedId": ["300-1", "300-2", "300-3", "300-4", "300-10"]}),
             "orgs.csv": pd.DataFrame({"sourcedId": ["300"]}),
             "users.csv": pd.DataFrame({"sourcedId": ["T7", "55"]})}  # T8 was rejected from users.csv
    checks = parse_checks(output_checks(enrollments), where="stemscopes.yml: outputs[6]")
    outcome = validate_frame(pd.DataFrame(rows), checks, name="enrollments", tables=known, id_columns=enrollments.key)
    build = {"file": "enrollments.csv", "rows_built": 4, "rows": 3, "rejected": 1, "checks": outcome.to_dict(),
             "sha256": "ab"}

    document = summarize(stemscopes, {"build_enrollments": build})

    (missing,) = document["files"]["enrollments"]["missing_values"]
    assert missing["warning"].startswith("a class has a teacher enrollment (")
    assert (missing["count"], missing["ids"]) == (3, ["300-2", "300-3", "300-10"])
    assert f"enrollments.csv: {missing['warning']}: 3 without: 300-2, 300-3, 300-10" in report_lines(document)
    assert document["checks"]["warned"] == 2  # and the rejected enrollment of T8

def test_a_count_per_group_that_warned_names_every_group_with_its_count_in_the_report():
    from aeries_hub.mapping.row_rules import GroupCount
    from aeries_hub.quality.checks import rule_check

    stemscopes = load_mapping(MAPPINGS_DIR / "stemscopes.yml")
    frame = pd.DataFrame({"sourcedId": ["e1", "e2", "e3", "e4"], "userSourcedId": ["T7", "T7", "55", "T7"]})
    warning = rule_check(GroupCount(per=("userSourcedId",), at_most=1), "warning", description="one enrollment a user")
    outcome = validate_frame(frame, [warning], name="enrollments", id_columns=["sourcedId"])
    build = {"file": "enrollments.csv", "rows_built": 4, "rows": 4, "rejected": 0, "checks": outcome.to_dict(),
             "sha256": "ab"}

    document = summarize(stemscopes, {"build_enrollments": build})

    assert document["files"]["enrollments"]["failing_groups"] == [
        {"check": "one enrollment a user", "groups": [{"ids": "T7", "count": 3}]}]
    assert "enrollments.csv: one enrollment a user: 1 group fails: 1 has 3 (T7)" in report_lines(document)
    assert document["checks"]["warned"] == 1


def test_rows_rejected_from_aeries_tables_are_named_with_their_keys():
    from aeries_hub.aeries.tables import TABLES
    from aeries_hub.quality import load_checks
    from aeries_hub.quality.aeries_sources import SOURCE_CHECKS_FILE
    from aeries_hub.quality.checks import select_checks

    schools = pd.DataFrame([{"SchoolCode": 994, "Name": "Real High"}])
    students = pd.DataFrame([{"SchoolCode": code, "StudentID": sid, "StudentNumber": sid, "LastName": "Ng",
                              "FirstName": "Kim", "Grade": 9, "InactiveStatusCode": ""}
                             for code, sid in ((994, 101), (12, 102), (12, 103))])
    checks = select_checks(load_checks(SOURCE_CHECKS_FILE)["students"], ["schools", "students"])
    outcome = validate_frame(students, checks, name="students", tables={"schools": schools, "students": students},
                             id_columns=TABLES["students"].key)
    stages = {"validate_sources": {"tables": {"students": {"rows": 3, "rejected": outcome.rejected_count,
                                                           "checks": outcome.to_dict()}}}}

    document = summarize(DESTINY, stages)

    assert reject_reason_lines(document) == [
        "rejected from Aeries students: student record at an unknown school (SchoolCode not in schools) "
        "(2 rows, e.g. 12/102, 12/103)"
    ]


def test_a_blackout_ends_held_and_a_chosen_hold_is_in_the_approval_and_the_lines():
    stages = clean_destiny_stages()
    blackout = "held: blackout summer until 2027-08-15; nothing was delivered (calendar.blackouts)"
    report = summarize(DESTINY, {**stages, "deliver": {"held_because": blackout}})
    assert (report["status"], report["reason"], report["delivered"]) == ("Held", blackout, [])
    held = {"kind": "removals", "why": "ops approved the changes with the removals held at 2027-01-04T13:05:00",
            "files": {"patrons.csv": {"changed": 0, "removed": 40, "sample_changed": [], "sample_removed": ["7", "9"],
                                      "rows": 50, "sha256": "cd"}}}
    report = summarize(DESTINY, {**stages, "deliver": {"files": [], "held": held}, "approve_changes": {
        "needed": True, "decision": "approved", "by": "ops", "reason": held["why"],
        "choice": "Deliver additions and changes, hold removals", "hold": "removals"}})
    assert report["status"] == "Completed"
    assert report["approval"]["held"] == report["held"] == held
    assert report["approval"]["choice"] == "Deliver additions and changes, hold removals"
    assert ("held in patrons.csv (ops approved the changes with the removals held at 2027-01-04T13:05:00): 0 changed "
            "and 40 removed ids keep what the vendor last received, e.g. 7, 9") in report_lines(report)


def test_an_upload_s_import_with_canvas_warnings_is_completed_and_its_line_counts_them():
    receipt = {"file": "patrons.csv", "rows": 10, "conn_id": "canvas", "url": "https://canvas.test/api/v1/accounts/self/"
               "sis_imports/7", "import_id": 7, "workflow_state": "imported_with_messages", "bytes": 120, "sha256": "ab",
               "warnings": [{"file": "users.csv", "message": "No login_id given for user 141113"}], "warning_count": 1}
    document = summarize(DESTINY, {**clean_destiny_stages(), "deliver": {"files": [receipt]}})

    assert document["status"] == "Completed"
    assert document["delivered"][0]["warnings"] == receipt["warnings"]
    assert ("delivered https://canvas.test/api/v1/accounts/self/sis_imports/7 over canvas: 10 rows, 120 bytes, sha256 "
            "ab; import 7 ended imported_with_messages with 1 warning") in report_lines(document)
