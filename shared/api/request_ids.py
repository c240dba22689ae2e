"""The X-Request-ID rule of the API: what a request id may be, and what replaces one
that is not. The gateway sets the header; a direct caller may too. Anything that is not a
short, plain token is replaced, so a request id can never inject text into logs or bodies."""

import re
import uuid

REQUEST_ID_CHARACTERS = "A-Za-z0-9._-"
REQUEST_ID_MAX_LENGTH = 128
REQUEST_ID_PATTERN = re.compile(rf"^[{REQUEST_ID_CHARACTERS}]{{1,{REQUEST_ID_MAX_LENGTH}}}$")


def safe_request_id(incoming: str) -> str:
    """The caller's request id when it is a short, plain token; else a new one."""
    return incoming if REQUEST_ID_PATTERN.match(incoming) else uuid.uuid4().hex
