"""The health check of persistent connections (shared/infrastructure/postgresql): free when the
connection is fine, and still right when the server has dropped it."""

import select

import psycopg
import pytest
from django.db import connection

pytestmark = pytest.mark.django_db(transaction=True)


def _last_query_of(pid: int) -> str:
    # Another session sees what this connection last sent to the server.
    with psycopg.connect(_admin_dsn(), autocommit=True) as other:
        row = other.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
    assert row is not None
    return row[0]


def _admin_dsn() -> str:
    settings = connection.settings_dict
    return psycopg.conninfo.make_conninfo(
        dbname=settings["NAME"],
        user=settings["USER"],
        password=settings["PASSWORD"],
        host=settings["HOST"],
        port=str(settings["PORT"]),
    )


def test_an_idle_healthy_connection_is_usable_without_a_query():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'marker-of-the-last-query'")
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()

    assert connection.is_usable()

    assert _last_query_of(pid) == "SELECT pg_backend_pid()"


def test_a_connection_the_server_dropped_is_not_usable_and_django_reconnects():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    with psycopg.connect(_admin_dsn(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    # The server's goodbye (or the end of the stream) reaches the socket: waited for, with
    # an end, rather than slept for.
    readable, _, _ = select.select([connection.connection.fileno()], [], [], 10)
    assert readable, "the terminated backend's socket never became readable"

    assert not connection.is_usable()

    connection.close_if_unusable_or_obsolete()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (new_pid,) = cursor.fetchone()
    assert new_pid != pid
