"""schemathesis hooks for `make test` (loaded through SCHEMATHESIS_HOOKS).

One check of our own beside schemathesis's: every request the API accepted (any answer
below 400) must be valid by the description, so a client generated from it can send what
the API takes. Its negative-data check covers only requests schemathesis meant to be
invalid; this one covers every request, in every phase.
"""

import json

import schemathesis
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest
from openapi_core.templating.paths.exceptions import OperationNotFound

from stack.openapi import DESCRIPTION_PATH

_DESCRIPTION = OpenAPI.from_file_path(
    str(DESCRIPTION_PATH),
    config=Config(extra_media_type_deserializers={"application/problem+json": json.loads}),
)


@schemathesis.check
def accepted_requests_are_described(ctx, response, case):  # type: ignore[no-untyped-def]
    if response.status_code >= 400:
        return
    try:
        _DESCRIPTION.validate_request(RequestsOpenAPIRequest(response.request))
    except OperationNotFound:
        return  # a method the path does not describe (a plain OPTIONS): HTTP's, not the API's
    except Exception as error:  # openapi-core's errors carry the schema's reasons
        reasons = "; ".join(str(cause) for cause in getattr(error, "schema_errors", []))
        raise AssertionError(
            f"The API accepted ({response.status_code}) a request the description calls "
            f"invalid: {error} {reasons}"
        ) from None
