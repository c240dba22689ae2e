"""Hostile bodies the strict JSON parser turns into 400s instead of 500s or silent guesses."""

import io

import pytest
from rest_framework.exceptions import ParseError

from shared.parsers import MAX_NESTING, StrictJSONParser


def parse(body: bytes, encoding: str = "utf-8"):
    return StrictJSONParser().parse(io.BytesIO(body), parser_context={"encoding": encoding})


def test_a_plain_object_parses():
    assert parse(b'{"name": "etl", "n": [1, {"a": null}]}') == {
        "name": "etl",
        "n": [1, {"a": None}],
    }


@pytest.mark.parametrize(
    ("body", "encoding", "message"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "utf-8", "nested deeper"),
        (b'{"name": "a", "name": "b"}', "utf-8", "duplicate key"),
        (b'{"name": "\xff\xfe"}', "utf-8", "not valid utf-8"),
        (b'{"name": "x"}', "no-such-charset", "Unknown charset"),
        (b'{"n": NaN}', "utf-8", "NaN"),
        (b'{"n": Infinity}', "utf-8", "Infinity"),
        (b'{"name": ', "utf-8", "JSON parse error"),
        (b"", "utf-8", "JSON parse error"),
    ],
)
def test_hostile_bodies_are_parse_errors(body, encoding, message):
    with pytest.raises(ParseError, match=message):
        parse(body, encoding)


def test_nesting_up_to_the_limit_is_fine_and_brackets_in_strings_do_not_count():
    assert parse(b"[" * MAX_NESTING + b"]" * MAX_NESTING)
    assert parse(b'{"name": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\"["}')
