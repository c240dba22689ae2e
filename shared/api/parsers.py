"""The one JSON parser of both services: strict where DRF's is lenient.

DRF's JSONParser lets these hostile bodies through as a 500, as a message about Python, or
as silent ambiguity; each is a 4xx problem here, with nothing written:
- a `charset` other than UTF-8, including names that are codecs but not text encodings
  (`rot13`, `base64`, `zlib`): a 415 (RFC 8259: JSON between systems is UTF-8);
- nesting so deep that the decoder recurses out of stack (RecursionError);
- duplicate keys (`{"name": "a", "name": "b"}`), which json.loads resolves silently;
- an integer of thousands of digits, whose error named `sys.set_int_max_str_digits()`;
- a lone surrogate escape (`"\\ud800"`), a str Python holds but cannot encode, in a value
  or a key: a 400 naming the field, since no Unicode text can carry it.
"""

import codecs
import json
import re
from typing import Any

from django.utils.http import parse_header_parameters
from rest_framework.exceptions import ParseError, UnsupportedMediaType, ValidationError
from rest_framework.parsers import JSONParser

# No body of this API nests: a job is a flat object. Deeper input is refused before parsing.
MAX_NESTING = 32
# No number of this API has more digits; Python's own bound (4,300) errs in its own words.
MAX_NUMBER_DIGITS = 100
# A surrogate can only come from a \u escape: valid UTF-8 cannot encode one.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


class _Refused(ValueError):
    """A body the parser refuses, with a message that speaks of JSON only."""


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Refused(f'duplicate key "{_printable(key)}"')
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259), though Python's decoder accepts them.
    raise _Refused(f"{name} is not valid JSON")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise _Refused(f"a number has more than {MAX_NUMBER_DIGITS} digits")
    return int(text)


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


def _printable(text: str) -> str:
    """The text with each lone surrogate written as its JSON escape, so it can be shown."""
    return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def _lone_surrogates(value: Any, path: str = "") -> dict[str, list[str]]:
    """Field path -> message for every key and string holding a lone surrogate."""
    found: dict[str, list[str]] = {}
    if isinstance(value, str):
        if _SURROGATE.search(value):
            found[path or "non_field_errors"] = [
                f'Not valid Unicode text: "{_printable(value)}" holds a lone surrogate.'
            ]
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{_printable(key)}" if path else _printable(key)
            if _SURROGATE.search(key):
                found[name] = ["This field name is not valid Unicode text (a lone surrogate)."]
            found.update(_lone_surrogates(item, name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.update(_lone_surrogates(item, f"{path}.{index}" if path else str(index)))
    return found


def _charset(media_type: str | None) -> str | None:
    """The `charset` parameter of the request's Content-Type, if it has one."""
    _, params = parse_header_parameters(media_type or "")
    return params.get("charset")


def _is_utf8(charset: str) -> bool:
    try:
        return codecs.lookup(charset).name == "utf-8"
    except LookupError:
        return False


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):  # type: ignore[no-untyped-def]
        charset = _charset(media_type)
        if charset is not None and not _is_utf8(charset):
            raise UnsupportedMediaType(
                media_type or "",
                detail=f"The charset {charset!r} is not accepted: JSON is sent as UTF-8 "
                "(charset=utf-8, or no charset).",
            )
        try:
            text = stream.read().decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError("The body is not valid UTF-8.") from None
        if _nesting_depth(text) > MAX_NESTING:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_NESTING} levels.")
        try:
            data = json.loads(
                text,
                object_pairs_hook=_reject_duplicate_keys,
                parse_constant=_reject_constant,
                parse_int=_bounded_int,
            )
        except json.JSONDecodeError as exc:
            raise ParseError(f"JSON parse error - {exc.msg} at character {exc.pos}.") from None
        except _Refused as exc:
            raise ParseError(f"JSON parse error - {exc}.") from None
        if _SURROGATE_ESCAPE.search(text) and (errors := _lone_surrogates(data)):
            raise ValidationError(errors)
        return data
