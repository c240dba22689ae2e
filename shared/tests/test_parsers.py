"""Hostile bodies the strict JSON parser turns into 4xx problems instead of 500s, messages
about Python, or silent guesses."""

import io

import pytest
from rest_framework.exceptions import ParseError, UnsupportedMediaType, ValidationError

from shared.api.parsers import MAX_NESTING, MAX_NUMBER_DIGITS, StrictJSONParser


def parse(body: bytes, media_type: str = "application/json"):
    return StrictJSONParser().parse(io.BytesIO(body), media_type=media_type, parser_context={})


def test_a_plain_object_parses():
    assert parse(b'{"name": "etl", "n": [1, {"a": null}]}') == {
        "name": "etl",
        "n": [1, {"a": None}],
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested deeper"),
        (b'{"name": "a", "name": "b"}', 'duplicate key "name"'),
        (b'{"name": "\xff\xfe"}', "not valid UTF-8"),
        (b'{"name": "\xed\xa0\x80"}', "not valid UTF-8"),  # a surrogate encoded as UTF-8
        (b'{"n": NaN}', "NaN"),
        (b'{"n": Infinity}', "Infinity"),
        (b'{"n": ' + b"1" * (MAX_NUMBER_DIGITS + 1) + b"}", "more than 100 digits"),
        (b'{"n": -' + b"1" * 5000 + b"}", "more than 100 digits"),
        (b'{"name": ', "JSON parse error - Expecting value"),
        (b"", "JSON parse error"),
    ],
)
def test_hostile_bodies_are_parse_errors(body, message):
    with pytest.raises(ParseError, match=message) as raised:
        parse(body)
    assert "sys." not in str(raised.value.detail)


@pytest.mark.parametrize("charset", ["rot13", "base64", "zlib", "hex", "no-such", "latin-1"])
def test_a_charset_other_than_utf8_is_unsupported(charset):
    with pytest.raises(UnsupportedMediaType, match="UTF-8"):
        parse(b'{"name": "x"}', f"application/json; charset={charset}")


def test_numbers_up_to_the_bound_parse_as_numbers():
    assert parse(b'{"n": ' + b"9" * MAX_NUMBER_DIGITS + b"}") == {"n": int("9" * 100)}
    assert parse(b'{"n": -12, "f": 1.5e3}') == {"n": -12, "f": 1500.0}


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (b'{"name": "\\ud800"}', ["name"]),
        (b'{"\\udfff": 1}', ["\\udfff"]),
        (b'{"a": {"b": ["x", "\\ud800y"]}}', ["a.b.1"]),
        (b'["\\udc00"]', ["0"]),
        (b'"\\ud800"', ["non_field_errors"]),
    ],
)
def test_a_lone_surrogate_is_a_validation_error_naming_where_it_is(body, errors):
    with pytest.raises(ValidationError) as raised:
        parse(body)
    assert list(raised.value.detail) == errors


def test_a_surrogate_pair_and_an_escaped_backslash_u_are_text():
    assert parse(b'{"name": "\\ud83d\\ude00"}') == {"name": "\U0001f600"}
    assert parse(b'{"name": "\\\\ud800"}') == {"name": "\\ud800"}


def test_nesting_up_to_the_limit_is_fine_and_brackets_in_strings_do_not_count():
    assert parse(b"[" * MAX_NESTING + b"]" * MAX_NESTING)
    assert parse(b'{"name": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\"["}')
