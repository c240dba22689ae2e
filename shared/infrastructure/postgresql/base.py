"""Django's PostgreSQL backend, with a cheaper health check of persistent connections.

Django checks a reused connection at the start of every request (CONN_HEALTH_CHECKS) with
`SELECT 1`: a round trip to PostgreSQL per request, measured at about a quarter of a list
request's time under load. A connection the server has dropped (a restart, a terminated
backend) has something to read on its socket: the server's goodbye, or the end of the
stream. So an idle connection whose socket has nothing to read is taken as healthy
without asking; one that has something is checked the full way (Django's `SELECT 1`).
A connection that breaks unnoticed still fails only its one query (a 503), and Django
closes it at the end of that request.
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
