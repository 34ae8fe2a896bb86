"""The provider contract: the ``[aeries_hub]`` options as ``airflow config list`` shows them, every option the code
reads declared, the ``aeries`` connection's form fields, and a misspelt extra refused."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from aeries_hub import get_provider_info
from aeries_hub.connection_extras import AERIES_CONN_FIELDS, ExtraError, check_known_extras
from aeries_hub.settings import OPTIONS

REPO = Path(__file__).resolve().parents[3]
PACKAGE = REPO / "plugins" / "aeries_hub"


def test_airflow_config_list_shows_every_option_with_its_description_default_and_example(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__AERIES_HUB__")}
    env |= {"AIRFLOW_HOME": str(tmp_path), "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO)])}

    listed = subprocess.run(
        [sys.executable, "-m", "airflow", "config", "list", "--section", "aeries_hub", "--include-descriptions",
         "--include-examples", "--show-values", "--color", "off"],
        check=True, capture_output=True, text=True, env=env, timeout=300,
    ).stdout

    assert listed.startswith("[aeries_hub]\n# The Aeries integration hub: where runs stage their files")
    for name, option in OPTIONS.items():
        assert f"# {option['description']}\n#\n# Example: {name} = {option['example']}\n" in listed, name
        shown = f"# {name} = \n" if option["default"] is None else f"\n{name} = {option['default']}\n"
        assert shown in listed, name


def test_every_option_the_code_reads_is_declared():
    read = set()
    for path in PACKAGE.rglob("*.py"):
        read |= set(re.findall(r"conf\.get\w*\(\s*[\"']aeries_hub[\"'],\s*[\"'](\w+)[\"']", path.read_text()))
    assert read and read == set(OPTIONS)


def test_the_provider_info_is_valid_for_the_installed_airflow():
    import airflow

    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    info = get_provider_info()
    jsonschema.validate(info, schema)
    (aeries,) = info["connection-types"]
    assert aeries["connection-type"] == "aeries" and "extra" in aeries["ui-field-behaviour"]["hidden-fields"]
    assert set(aeries["conn-fields"]) == set(AERIES_CONN_FIELDS)


def test_a_misspelt_aeries_extra_names_the_connection_the_key_and_the_closest_valid_key():
    check_known_extras({"page_size": 250, "allow_insecure": True}, AERIES_CONN_FIELDS, "aeries_sis")

    with pytest.raises(ExtraError) as err:
        check_known_extras({"page_sise": 250, "timeout": 10}, AERIES_CONN_FIELDS, "aeries_sis")

    assert str(err.value) == (
        "connection 'aeries_sis': unknown extra 'page_sise' (did you mean 'page_size'?); the extras this connection "
        "type reads are: allow_insecure, api_version, backoff_base, backoff_max, database_year, max_concurrency, "
        "max_page_bytes, max_retries, page_size, prefetch_pages, probe_short_pages, terms_from_schools, timeout, "
        "unavailable_year, verify_ssl")
