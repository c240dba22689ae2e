"""`make openapi` writes the dashboard's contract.js from the OpenAPI description (and
the catalogue of problem types): the facts the description states, and none it does not."""

import json
import re
from typing import Any

import pytest
import yaml

from stack.openapi import (
    DASHBOARD_CONTRACT_PATH,
    DESCRIPTION_PATH,
    OpenApiConflict,
    render_dashboard_contract,
)


def exported(module: str) -> dict[str, Any]:
    """The module's `export const NAME = <JSON>;` lines."""
    return {
        name: json.loads(value)
        for name, value in re.findall(r"^export const (\w+) = (.*);$", module, re.MULTILINE)
    }


def list_parameter_schemas(description: dict[str, Any]) -> dict[str, dict[str, Any]]:
    parameters = description["paths"]["/api/jobs/"]["get"]["parameters"]
    return {p["name"]: p["schema"] for p in parameters if p["in"] == "query"}


def test_the_dashboards_contract_is_what_the_description_states():
    description = yaml.safe_load(DESCRIPTION_PATH.read_text())
    schemas = list_parameter_schemas(description)
    expected = {
        "STATUSES": description["components"]["schemas"]["JobStatusTypeEnum"]["enum"],
        "CURSOR_ORDERINGS": schemas["ordering"]["x-cursor-orderings"],
        "MAX_OFFSET": schemas["offset"]["maximum"],
        "QUERY_TIMEOUT_PROBLEM_TYPE": "https://jobs.example/problems/query-timeout",
    }
    assert exported(render_dashboard_contract(description)) == expected
    assert exported(DASHBOARD_CONTRACT_PATH.read_text()) == expected


@pytest.mark.parametrize(
    ("parameter", "keyword"), [("ordering", "x-cursor-orderings"), ("offset", "maximum")]
)
def test_a_fact_the_description_does_not_state_stops_the_generation(parameter, keyword):
    description = yaml.safe_load(DESCRIPTION_PATH.read_text())
    del list_parameter_schemas(description)[parameter][keyword]
    with pytest.raises(OpenApiConflict, match=keyword):
        render_dashboard_contract(description)
