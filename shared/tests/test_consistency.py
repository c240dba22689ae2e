"""Consistency tokens: a signed WAL position, read back exactly or refused."""

import pytest
from django.test import override_settings

from shared.api import consistency


@pytest.mark.parametrize(
    ("lsn", "position"), [("0/0", 0), ("16/B374D848", (0x16 << 32) + 0xB374D848)]
)
def test_a_token_names_the_position_it_was_issued_for(lsn, position):
    assert consistency.wal_position(consistency.issue(lsn)) == position


@pytest.mark.parametrize(
    "forge",
    [
        lambda token: "1/0:" + token.split(":", 1)[1],
        lambda token: token[:-2],
        lambda token: token.split(":", 1)[0],
        lambda token: token + "x",
        lambda token: "",
    ],
)
def test_a_token_changed_in_any_way_is_refused(forge):
    with pytest.raises(consistency.InvalidConsistencyToken):
        consistency.wal_position(forge(consistency.issue("0/16B3748")))


def test_a_token_of_another_deployment_is_refused():
    with override_settings(SECRET_KEY="another deployment's key, long enough to be real"):
        token = consistency.issue("0/16B3748")
    with pytest.raises(consistency.InvalidConsistencyToken):
        consistency.wal_position(token)


def test_a_signed_value_that_is_no_position_is_refused():
    with pytest.raises(consistency.InvalidConsistencyToken):
        consistency.wal_position(consistency.issue("0/16B3748; DROP"))
