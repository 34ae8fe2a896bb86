"""The format of the district's data-sharing policy (include/district_policy.yml) as pydantic models, the one
definition of it: plugins/aeries_hub/schemas/district_policy.schema.json is written from :class:`DistrictPolicyFile`
(:func:`policy_schema_document`) by ``make docs``. A mapping's ``sharing.allow`` names the same fields
(:data:`AeriesField`); :mod:`aeries_hub.mapping.sharing` loads the policy and checks each mapping against it.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from aeries_hub.schema_generator import ClosedModel, schema_document

POLICY_SCHEMA_ID = "https://aeries-integration-hub.invalid/schemas/district_policy.schema.json"

#: ``table.Column``: a column of the Aeries table registry (docs/mapping-reference.md, Aeries tables).
AeriesField = Annotated[str, Field(pattern="^[a-z]+\\.[A-Za-z][A-Za-z0-9]*$")]
#: A text that says something: not empty, not only spaces.
Explanation = Annotated[str, Field(pattern="\\S")]


class DistrictPolicyFile(ClosedModel):
    """The district's data-sharing policy: the Aeries fields no vendor receives unless its mapping allows the field
    under sharing.allow, with the reason the vendor needs it. Every mapping is checked against it when it is
    loaded; a mapping that sends a restricted field without that allowance is an import error."""

    restricted: dict[AeriesField, Explanation] = Field(description=(
        "The restricted fields, as table.Column of the Aeries tables (students.Birthdate, contacts.EmailAddress), "
        "each with what it is (birth date, contact's e-mail), shown in the error of a mapping that sends it. A "
        "mapping sends a field when a delivered column's value reads it: as its source, in a template, a fallback, "
        "or a transform step's argument, directly or through a lookup. An empty map restricts nothing."))


def policy_schema_document() -> dict[str, Any]:
    """plugins/aeries_hub/schemas/district_policy.schema.json, as :class:`DistrictPolicyFile` defines it."""
    return schema_document(DistrictPolicyFile, POLICY_SCHEMA_ID, "District data-sharing policy")
