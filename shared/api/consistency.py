"""Consistency tokens: what lets a client read its own writes from any read instance.

Every successful write answers `Consistency-Token`, a position in the primary's WAL at or
past the write's commit, signed with the services' SECRET_KEY (Django's signing, so a
client can neither forge nor move it). A read that sends it back is answered only from
data that has replayed past that position (docs/decisions.md, "Consistency tokens").
"""

import re

from django.core import signing

from shared.api.problem_types import CONSISTENCY_TOKEN_INVALID
from shared.api.problems import ProblemError

HEADER = "Consistency-Token"
_SALT = "jobs.consistency-token"
# An LSN as PostgreSQL writes it: two hexadecimal halves of 32 bits.
_LSN = re.compile(r"^([0-9A-F]{1,8})/([0-9A-F]{1,8})$")


class InvalidConsistencyToken(ProblemError):
    status = 400
    problem = CONSISTENCY_TOKEN_INVALID
    default_detail = (
        "The Consistency-Token header is not one this API issued: send back the value a "
        "write answered, unchanged, or no header."
    )


def issue(lsn: str) -> str:
    """The token of a WAL position (`pg_current_wal_insert_lsn()` after the write
    committed)."""
    return signing.Signer(salt=_SALT).sign(lsn)


def wal_position(token: str) -> int:
    """The WAL position a token names, as a number comparable with PostgreSQL's
    `pg_lsn - '0/0'`; InvalidConsistencyToken when it was not issued here."""
    try:
        lsn = signing.Signer(salt=_SALT).unsign(token)
    except signing.BadSignature:
        raise InvalidConsistencyToken from None
    found = _LSN.match(lsn)
    if found is None:
        raise InvalidConsistencyToken
    high, low = found.groups()
    return (int(high, 16) << 32) + int(low, 16)
