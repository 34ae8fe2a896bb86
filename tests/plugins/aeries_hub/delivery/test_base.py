"""The delivery method of a mapping comes from its delivery section's key (delivery.base)."""

from __future__ import annotations

import json

import pytest
from airflow.sdk.exceptions import AirflowFailException

from aeries_hub.delivery.base import DELIVERIES, delivery_for
from aeries_hub.delivery.http_import import HttpImportDelivery
from aeries_hub.delivery.sftp_folder import SftpFolderDelivery
from aeries_hub.mapping.loader import load_mapping
from aeries_hub.paths import MAPPINGS_DIR, SCHEMAS_DIR

DESTINY = load_mapping(MAPPINGS_DIR / "destiny.yml")
ENROLL = load_mapping(MAPPINGS_DIR / "schoolmint_enroll.yml")


def test_an_sftp_mapping_delivers_into_its_folder_under_one_target():
    delivery = delivery_for(DESTINY)

    assert delivery == SftpFolderDelivery(DESTINY.sftp_conn_id, DESTINY.sftp_remote_dir)
    assert (delivery.target_name({}), delivery.target_address({})) == ("sftp", (DESTINY.sftp_conn_id, DESTINY.sftp_remote_dir))
    assert (delivery.params(), delivery.needs_target_gate()) == ({}, False)


def test_an_http_mapping_delivers_to_the_target_the_run_names():
    delivery = delivery_for(ENROLL)

    assert isinstance(delivery, HttpImportDelivery)
    assert delivery.target_name({}) == "sandbox"
    assert delivery.target_address({"target": "production"}) == ("schoolmint_enroll", "production/api/v1/students/import")
    assert list(delivery.params()) == ["target", "test_record"]
    assert delivery.needs_target_gate()  # the sandbox takes one scheduled import
    assert delivery.files_at_target(["students.jsonl"]) == ("", [])
    with pytest.raises(AirflowFailException, match=r"target 'staging' is not one of delivery.http.targets \(sandbox, production\)"):
        delivery.target_name({"target": "staging"})


def test_the_methods_are_registered_by_the_keys_of_the_mapping_schema():
    schema = json.loads((SCHEMAS_DIR / "mapping.schema.json").read_text())
    methods = {key for option in schema["properties"]["delivery"]["oneOf"] for key in option["required"]}
    assert set(DELIVERIES) == methods


@pytest.mark.parametrize("test_record", [None, "990001"])
def test_test_record_is_optional_in_the_trigger_form(test_record):
    from airflow.sdk.definitions.param import ParamsDict

    from aeries_hub.dag_factory import build_dag

    params = build_dag(ENROLL).params
    # Airflow's trigger form marks a typed field required unless its type allows null, and sends null for an empty one.
    assert params.get_param("test_record").schema["type"] == ["null", "string"]
    conf = ParamsDict(params.dump())
    conf["test_record"] = test_record
    assert conf.validate()["test_record"] == test_record


def test_an_http_upload_mapping_uploads_to_its_one_endpoint(tmp_path):
    import yaml

    from aeries_hub.config_files import read_yaml
    from aeries_hub.delivery.http_upload import HttpUploadDelivery
    from aeries_hub.mapping.models import HttpUpload

    document = read_yaml(MAPPINGS_DIR / "destiny.yml", shown="destiny.yml", error=ValueError)
    document["delivery"] = {"http_upload": {"conn_id": "canvas", "endpoint": "/api/v1/accounts/self/sis_imports",
                                            "params": {"import_type": "instructure_csv", "batch_mode": False}}}
    (tmp_path / "destiny.yml").write_text(yaml.safe_dump(document, sort_keys=False))

    delivery = delivery_for(load_mapping(tmp_path / "destiny.yml"))

    assert delivery == HttpUploadDelivery(HttpUpload("canvas", "/api/v1/accounts/self/sis_imports",
                                                     {"import_type": "instructure_csv", "batch_mode": False}, 60, 30))
    assert (delivery.params(), delivery.needs_target_gate(), delivery.skip_reason({})) == ({}, False, None)
    assert delivery.supports_holds and delivery.files_at_target(["patrons.csv"]) == ("", [])
