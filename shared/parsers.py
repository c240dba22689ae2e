"""The one JSON parser of both services: strict where DRF's is lenient.

DRF's JSONParser lets three kinds of hostile body through as a 500 or as silent
ambiguity; each is a 400 here:
- nesting so deep that the decoder recurses out of stack (RecursionError);
- a charset parameter that names no codec (LookupError);
- duplicate keys (`{"name": "a", "name": "b"}`), which json.loads resolves silently.
"""

import codecs
import json
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# No body of this API nests: a job is a flat object. Deeper input is refused before parsing.
MAX_NESTING = 32


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ParseError(f'JSON parse error - duplicate key "{key}".')
        result[key] = value
    return result


def _nesting_depth(text: str) -> int:
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):  # type: ignore[no-untyped-def]
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ParseError(f"Unknown charset {encoding!r}; send UTF-8.") from None
        try:
            text = stream.read().decode(encoding)
        except UnicodeDecodeError:
            raise ParseError(f"The body is not valid {encoding}.") from None
        if _nesting_depth(text) > MAX_NESTING:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_NESTING} levels.")
        try:
            return json.loads(
                text, object_pairs_hook=_reject_duplicate_keys, parse_constant=_reject_constant
            )
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259), though Python's decoder accepts them.
    raise ValueError(f"{name} is not valid JSON")
