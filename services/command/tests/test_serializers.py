"""The name rule: one pattern, published in the OpenAPI description and checked by the
service, says what the description's words say, for every character there is."""

import re
import sys
import unicodedata

import pytest
from rest_framework.exceptions import ValidationError

from command_service.serializers import NAME_PATTERN, JobNameField
from shared.domain.models import NAME_MAX_LENGTH


def is_control(character: str) -> bool:
    return unicodedata.category(character) == "Cc"


# Characters on either side of the rule's lines (control, whitespace, both, neither) and
# some ordinary ones.
BORDER_CHARACTERS = [
    chr(code)
    for code in range(sys.maxunicode + 1)
    if chr(code).isspace() or unicodedata.category(chr(code)) in ("Cc", "Cf", "Zs", "Zl", "Zp")
] + ["a", "é", "\u00ad", "\u200b", "\u180e", "\ufeff", "\U0001f600"]


def test_the_pattern_takes_one_character_unless_it_is_a_control_or_whitespace():
    name = re.compile(NAME_PATTERN)
    disagree = [
        f"U+{code:04X}"
        for code in range(sys.maxunicode + 1)
        if bool(name.fullmatch(chr(code))) is (is_control(chr(code)) or chr(code).isspace())
    ]
    assert disagree == []


@pytest.mark.parametrize("character", BORDER_CHARACTERS, ids=lambda c: f"U+{ord(c):04X}")
def test_the_field_takes_what_the_pattern_takes_and_trims_what_str_strip_trims(character):
    field = JobNameField()
    for sent in (character, f"x{character}x", f"{character}x{character}"):
        described = len(sent) <= NAME_MAX_LENGTH and re.fullmatch(NAME_PATTERN, sent)
        try:
            accepted = field.run_validation(sent)
        except ValidationError:
            accepted = None
        assert (accepted is not None) is bool(described), repr(sent)
        if accepted is not None:
            assert accepted == sent.strip(), repr(sent)
