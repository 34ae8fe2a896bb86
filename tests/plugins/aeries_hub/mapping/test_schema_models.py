"""The pydantic models are the definition of the mapping and check file formats (the JSON Schema files are
written from them, test_reference.py): the shipped files are valid documents of the models too."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from aeries_hub.config_files import read_yaml
from aeries_hub.mapping.schema_models import MappingFile
from aeries_hub.paths import MAPPINGS_DIR, QUALITY_DIR
from aeries_hub.quality.check_models import ChecksFile

MAPPINGS = sorted(MAPPINGS_DIR.glob("*.yml"))


@pytest.mark.parametrize("path", MAPPINGS, ids=lambda path: path.name)
def test_every_shipped_mapping_is_a_mapping_file(path):
    MappingFile.model_validate(read_yaml(path, shown=path.name, error=ValueError))


@pytest.mark.parametrize("path", sorted(QUALITY_DIR.glob("*.yml")), ids=lambda path: path.name)
def test_every_shipped_checks_file_is_a_checks_file(path):
    ChecksFile.model_validate(read_yaml(path, shown=path.name, error=ValueError))


def test_a_key_the_format_does_not_define_is_rejected_by_the_models_too():
    document = read_yaml(MAPPINGS[0], shown=MAPPINGS[0].name, error=ValueError)
    document["outputs"][0]["columns"][0]["max_lenght"] = 10
    with pytest.raises(ValidationError, match="max_lenght"):
        MappingFile.model_validate(document)
