"""Mapping files for the tests of aeries_hub.mapping: edited copies of the shipped ones (for load errors) and
small sample mappings built over hand-written Aeries tables (the ``tables`` fixture of conftest.py)."""

from __future__ import annotations

import re
import textwrap

import pytest
import yaml

from aeries_hub.config_files import read_yaml
from aeries_hub.mapping.engine import RECORD_SET_COLUMN, build_output
from aeries_hub.mapping.loader import load_mapping
from aeries_hub.mapping.models import MappingError
from aeries_hub.mapping.source_filters import apply_source_filters
from aeries_hub.paths import MAPPINGS_DIR

DESTINY = MAPPINGS_DIR / "destiny.yml"


def without_lines(message: str) -> str:
    """A load error without its line numbers (``destiny.yml:42: key: ...`` -> ``destiny.yml: key: ...``): the
    edited copies below are written by yaml.safe_dump, whose lines no reader of a test can see; the lines
    themselves are checked on hand-written files (test_loader.py, test_load_errors_name_the_line_of_the_key)."""
    return re.sub(r"^([\w.-]+\.yml):\d+: ", r"\1: ", message, flags=re.MULTILINE)


def destiny_with(tmp_path, edit) -> str:
    document = read_yaml(DESTINY, shown="destiny.yml", error=ValueError)
    edit(document)
    path = tmp_path / "destiny.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    with pytest.raises(MappingError) as err:
        load_mapping(path)
    return without_lines(str(err.value))


STEMSCOPES = MAPPINGS_DIR / "stemscopes.yml"


def stemscopes_with(tmp_path, edit) -> str:
    """Load an edited copy of stemscopes.yml (with the crosswalks it names) and return the error."""
    import shutil

    (tmp_path / "mappings").mkdir()
    shutil.copytree(MAPPINGS_DIR.parent / "crosswalks", tmp_path / "crosswalks")
    document = read_yaml(STEMSCOPES, shown="stemscopes.yml", error=ValueError)
    edit(document)
    path = tmp_path / "mappings" / "stemscopes.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    with pytest.raises(MappingError) as err:
        load_mapping(path)
    return without_lines(str(err.value))


def output_named(document: dict, file: str) -> dict:
    return next(o for o in document["outputs"] if o["file"] == file)


def load_error(tmp_path, edit) -> str | None:
    """The MappingError of an edited destiny.yml, or None when it loads."""
    document = read_yaml(DESTINY, shown="destiny.yml", error=ValueError)
    edit(document)
    path = tmp_path / "destiny.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    try:
        load_mapping(path)
    except MappingError as exc:
        return without_lines(str(exc))
    return None


def edited_error(tmp_path, text: str, old: str, new: str, name: str = "lined.yml") -> str | None:
    """The MappingError (with its lines) of the hand-written mapping ``text`` with ``old`` replaced by ``new``,
    or None when it loads."""
    assert text.count(old) == 1, old
    path = tmp_path / name
    path.write_text(text.replace(old, new))
    try:
        load_mapping(path)
    except MappingError as exc:
        return str(exc)
    return None


HEADER = """
name: sample
description: A test integration.
schedule: null
aeries: {conn_id: aeries_default}
delivery: {sftp: {conn_id: vendor_sftp, remote_dir: /in}}
"""


def mapping_with(tmp_path, body: str, tables="[schools, students, staff, teachers]", source_extra=""):
    text = HEADER + f"source:\n  tables: {tables}\n" + textwrap.indent(textwrap.dedent(source_extra), "  ")
    text += textwrap.dedent(body)
    path = tmp_path / "sample.yml"
    path.write_text(text)
    return load_mapping(path)


def one_output(columns: list[str], values: str, *, table="students", extra="") -> str:
    cols = "\n".join(f"      - {{name: {c}}}" for c in columns)
    return f"""
outputs:
  - file: out.csv
    format: {{}}
    key: [{columns[0]}]
    columns:
{cols}
    records:
      - name: rows
        from: {table}
{textwrap.indent(textwrap.dedent(extra), "        ")}        values:
{textwrap.indent(textwrap.dedent(values), "          ")}"""


def allowing(*fields: str) -> str:
    """A ``sharing`` section that allows ``fields`` of the district's data-sharing policy (include/district_policy.yml)
    in a sample mapping that reads them to show a step."""
    return "\nsharing:\n  allow:\n" + "".join(f"    {field}: a test of the steps\n" for field in fields)


def rows(mapping, tables, filtered=False):
    source = apply_source_filters(mapping, tables) if filtered else tables
    frame = build_output(mapping, mapping.outputs[0], source).frame
    return frame.drop(columns=[RECORD_SET_COLUMN]).to_dict("records")
