"""Django's PostgreSQL backend, with a health check of persistent connections that costs
no round trip (docs/decisions.md, "The health check costs no round trip").

A connection the server has dropped has something to read on its socket (its goodbye, or
the end of the stream): an idle connection with nothing to read is taken as healthy
without asking; one with something is checked Django's way (`SELECT 1`).
"""

import select

from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed:
            return False
        if connection.info.transaction_status != TransactionStatus.IDLE:
            return super().is_usable()
        try:
            readable, _, _ = select.select([connection.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable or super().is_usable()
