"""The cross-checks of a mapping its JSON Schema cannot express: keys, formats, references, nests, build order,
delivery and schedule."""

from __future__ import annotations

import pytest
import yaml

from aeries_hub.config_files import read_yaml
from aeries_hub.mapping.loader import load_mapping
from aeries_hub.mapping.models import MappingError
from aeries_hub.paths import MAPPINGS_DIR
from tests.plugins.aeries_hub.mapping.mapping_files import destiny_with, output_named, stemscopes_with


def test_escape_formulas_off_on_a_jsonl_column_is_a_load_error(tmp_path):
    path = tmp_path / "schoolmint_enroll.yml"
    document = read_yaml(MAPPINGS_DIR / "schoolmint_enroll.yml", shown="schoolmint_enroll.yml", error=ValueError)
    document["outputs"][0]["columns"][0]["escape_formulas"] = False
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    with pytest.raises(MappingError, match=r"schoolmint_enroll.yml:\d+: outputs\[0\].columns\[0\].escape_formulas: "
                                           r"only for delimited outputs \(no spreadsheet opens a jsonl file\)"):
        load_mapping(path)


def test_bad_schedule(tmp_path):
    def edit(d):
        d["schedule"] = {"cron": "0 25 * * *", "timezone": "Pacific Time"}

    assert destiny_with(tmp_path, edit) == (
        "destiny.yml: schedule.timezone: 'Pacific Time' is not an IANA time zone (e.g. America/Los_Angeles)\n"
        "destiny.yml: schedule.cron: '0 25 * * *' is not a valid cron expression"
    )


def test_key_must_be_a_delivered_column(tmp_path):
    def edit(d):
        d["outputs"][0]["key"] = ["field_password"]

    assert destiny_with(tmp_path, edit) == (
        "destiny.yml: outputs[0].key: 'field_password' is a column of patrons.csv marked do_not_map: it is not delivered")


def test_a_reference_to_a_file_the_mapping_does_not_build(tmp_path):
    def edit(d):
        output_named(d, "classes.csv")["references"][0]["file"] = "course.csv"

    message = stemscopes_with(tmp_path, edit)
    assert message.startswith(
        "stemscopes.yml: outputs[4].references[0].file: 'course.csv' is not another output of this mapping (manifest.csv, "
    )


def test_files_referencing_each_other_in_a_circle(tmp_path):
    def edit(d):
        output_named(d, "orgs.csv")["references"].append({"column": "identifier", "file": "users.csv"})

    assert stemscopes_with(tmp_path, edit) == (
        "stemscopes.yml: outputs: files reference each other in a circle "
        "(orgs.csv -> users.csv -> orgs.csv); none of them could be built first"
    )


def test_overwrite_and_nest_are_for_jsonl_files(tmp_path):
    def edit(d):
        users = output_named(d, "users.csv")
        users["columns"][0]["overwrite"] = True
        users["nest"] = {"demographics": {"file": "demographics.csv", "on": {"sourcedId": "sourcedId"}}}

    assert stemscopes_with(tmp_path, edit) == "\n".join([
        "stemscopes.yml: outputs[5].columns[0].overwrite: only for jsonl outputs (a blank cell of a delimited file is already sent)",
        "stemscopes.yml: outputs[5].nest: only a jsonl output can nest the rows of another file",
        "stemscopes.yml: outputs[5].nest.demographics.file: demographics.csv must be a jsonl output to be nested",
        "stemscopes.yml: outputs: files reference each other in a circle (users.csv -> demographics.csv -> users.csv); none of them could be built first",
    ])


def test_dates_compared_with_the_run_date_need_the_schools_table(tmp_path):
    """The run's date is held inside the school year Aeries served, whose days are the schools' terms."""
    def edit(d):
        d["source"]["tables"].remove("schools")

    assert ("destiny.yml: source.tables: patrons.csv compare dates with the run's date, which is held inside the school "
            "year Aeries serves, whose days come from Aeries' schools table; add schools") in destiny_with(tmp_path, edit)


UPLOAD = {"conn_id": "canvas", "endpoint": "/api/v1/accounts/self/sis_imports"}


def test_an_http_upload_of_several_files_without_a_package_is_a_load_error(tmp_path):
    def upload_unpackaged(document):
        document["delivery"] = {"http_upload": UPLOAD}

    assert stemscopes_with(tmp_path, upload_unpackaged) == (
        "stemscopes.yml: delivery.http_upload: uploads one file; set delivery.package.zip to send the outputs in one zip")


def test_an_http_upload_of_one_file_or_a_package_loads(tmp_path):
    from tests.plugins.aeries_hub.mapping.mapping_files import load_error

    def upload(document):
        document["delivery"] = {"http_upload": {**UPLOAD, "params": {"import_type": "instructure_csv"}}}

    def upload_packaged(document):
        document["delivery"] = {"package": {"zip": "patrons.zip"}, "http_upload": UPLOAD}

    assert load_error(tmp_path, upload) is None
    assert load_error(tmp_path, upload_packaged) is None


def test_http_upload_and_sftp_together_are_refused_by_the_schema(tmp_path):
    def both(document):
        document["delivery"]["http_upload"] = UPLOAD

    assert destiny_with(tmp_path, both) == "destiny.yml: delivery: give exactly one of: sftp, http, http_upload"
