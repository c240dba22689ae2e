"""READ_REPLICAS for real: a primary and one hot standby started through the System API on
spare ports with a throwaway state folder (no services, no gateway), then `down` and
`clean`; and the launcher refusing a READ_REPLICAS out of range."""

from __future__ import annotations

import dataclasses
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from stack.config import (
    ADMIN_ROLE,
    QUERY_ROLE,
    REPLICATION_ROLE,
    REPO_ROOT,
    StackConfig,
    throwaway_state_dir,
)
from stack.ports import bind_error, listeners
from stack.standbys import standby_binary
from stack.system import System
from stack.tools import StackError
from tests.tooling.test_launcher import live_pid

WAIT = 10.0  # seconds: the bound on every wait for replication


def _primary_port_with_a_free_next() -> int:
    """A port the kernel has free, whose next port (standby 1's) is free too."""
    for _ in range(50):
        with socket.create_server(("127.0.0.1", 0)) as probe:
            port = probe.getsockname()[1]
        pair_free = bind_error("127.0.0.1", port) is None and (
            port < 65535 and bind_error("127.0.0.1", port + 1) is None
        )
        if pair_free:
            return port
    raise AssertionError("no two consecutive free ports")


def _system(
    state_dir: Path, port: int, *, read_replicas: int = 1, standby_apply_delay_ms: int = 0
) -> System:
    config = dataclasses.replace(
        StackConfig.for_tests(),
        state_dir=state_dir,
        postgres_port=port,
        read_replicas=read_replicas,
        standby_apply_delay_ms=standby_apply_delay_ms,
    )
    return System(config)


def _wait_for(check, timeout: float = WAIT) -> float:
    """Seconds until check() is true; fails after `timeout`."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, "not within the bounded wait"
        time.sleep(0.02)
    return time.monotonic() - started


@pytest.fixture(scope="module")
def replicated() -> Iterator[System]:
    state_dir = throwaway_state_dir("jobs-standby-test-")
    system = _system(state_dir, _primary_port_with_a_free_next())
    try:
        assert system.standbys.busy_ports() == []
        system.start_database()
        system.migrate()
        system.standbys.up()
        with psycopg.connect(system.postgres.admin_url, autocommit=True) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS probe (id serial PRIMARY KEY, note text)")
            conn.execute(f"GRANT SELECT ON probe TO {QUERY_ROLE}")
        _wait_for(lambda: _standby_has_probe(system))
        yield system
    finally:
        system.clean()
        shutil.rmtree(state_dir, ignore_errors=True)


def _standby_has_probe(system: System) -> bool:
    with psycopg.connect(_standby_url(system), autocommit=True) as conn:
        row = conn.execute(
            "SELECT to_regclass('probe') IS NOT NULL "
            "AND has_table_privilege(to_regclass('probe'), 'SELECT')"
        ).fetchone()
        return row == (True,)


def _alive(pid: int | None) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _standby_url(system: System) -> str:
    """The standby as query instance 0 reads it."""
    url = system.replica_url(0)
    assert url is not None
    return url


def _write(system: System, note: str) -> None:
    with psycopg.connect(system.postgres.admin_url, autocommit=True) as conn:
        conn.execute("INSERT INTO probe (note) VALUES (%s)", [note])


def _on_standby(system: System, note: str) -> bool:
    with psycopg.connect(_standby_url(system), autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM probe WHERE note = %s", [note]).fetchone() is not None


def test_a_row_written_on_the_primary_is_read_on_the_standby(replicated):
    assert not _on_standby(replicated, "replicated-row")
    _write(replicated, "replicated-row")
    _wait_for(lambda: _on_standby(replicated, "replicated-row"))


def test_the_query_instances_read_the_standby_as_the_query_role(replicated):
    port = replicated.config.postgres_port + 1
    for instance in (0, 1, 2):
        url = replicated.replica_url(instance)
        assert url is not None
        assert url.startswith(f"postgres://{QUERY_ROLE}:")
        assert url.endswith(f"@127.0.0.1:{port}/jobs")
    assert replicated.service_env("query", instance=1)["READ_REPLICA_URL"] == url
    assert "READ_REPLICA_URL" not in replicated.service_env("command")


def test_query_instances_spread_over_the_standbys(tmp_path):
    system = _system(tmp_path, 40000, read_replicas=3)
    ports = [system.replica_url(k).rsplit(":", 1)[1] for k in range(5)]  # type: ignore[union-attr]
    assert ports == ["40001/jobs", "40002/jobs", "40003/jobs", "40001/jobs", "40002/jobs"]
    assert _system(tmp_path, 40000, read_replicas=0).replica_url(0) is None


def test_the_standby_refuses_writes(replicated):
    url = replicated.standbys.wanted[0].url(ADMIN_ROLE, "admin_password")
    with (
        psycopg.connect(url, autocommit=True) as conn,
        pytest.raises(psycopg.errors.ReadOnlySqlTransaction, match="read-only transaction"),
    ):
        conn.execute("INSERT INTO probe (note) VALUES ('refused')")


def test_the_standby_is_a_hot_standby_with_feedback(replicated):
    url = replicated.standbys.wanted[0].url(ADMIN_ROLE, "admin_password")
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
        assert conn.execute("SHOW hot_standby_feedback").fetchone() == ("on",)
        assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)


def test_its_slot_exists_and_is_active(replicated):
    with psycopg.connect(replicated.postgres.admin_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT slot_name, active FROM pg_replication_slots ORDER BY slot_name"
        ).fetchall()
    assert rows == [("jobs_standby_1", True)]
    lag = replicated.standbys.lag()[1]
    assert lag.active and lag.replay_bytes is not None


def test_the_replication_role_has_the_replication_right_only(replicated):
    with psycopg.connect(replicated.postgres.admin_url, autocommit=True) as conn:
        role = conn.execute(
            "SELECT rolcanlogin, rolreplication, rolsuper, rolcreatedb, rolcreaterole, "
            "rolbypassrls FROM pg_roles WHERE rolname = %s",
            [REPLICATION_ROLE],
        ).fetchone()
        can_read = conn.execute(
            "SELECT has_table_privilege(%s, 'jobs_job', 'SELECT')", [REPLICATION_ROLE]
        ).fetchone()
    assert role == (True, True, False, False, False, False)
    assert can_read == (False,)


@pytest.mark.parametrize("database", ["jobs", "postgres"])
def test_the_replication_role_cannot_log_in_for_queries(replicated, database):
    url = replicated.postgres.url(REPLICATION_ROLE, "replication_password", database)
    with pytest.raises(psycopg.OperationalError, match=r"pg_hba\.conf rejects connection"):
        psycopg.connect(url, connect_timeout=5)


def test_the_standby_lags_by_the_apply_delay(replicated):
    standby = replicated.standbys.wanted[0]
    standby.stop()
    delayed = _system(
        replicated.config.state_dir, replicated.config.postgres_port, standby_apply_delay_ms=300
    )
    try:
        assert delayed.standbys.up() != []  # the same standby, restarted with the delay
        _write(delayed, "warm-up")
        _wait_for(lambda: _on_standby(delayed, "warm-up"))
        _write(delayed, "delayed-row")
        assert not _on_standby(delayed, "delayed-row")
        waited = _wait_for(lambda: _on_standby(delayed, "delayed-row"))
        assert 0.15 < waited < 2
    finally:
        delayed.standbys.down()
        replicated.standbys.up()


def test_up_again_reuses_the_standby(replicated):
    standby = replicated.standbys.wanted[0]
    pid = live_pid(standby.data / "postmaster.pid")
    assert replicated.standbys.up() == []
    assert live_pid(standby.data / "postmaster.pid") == pid


def test_fewer_replicas_remove_the_extra_standby_and_its_slot(replicated):
    fewer = _system(replicated.config.state_dir, replicated.config.postgres_port, read_replicas=0)
    # Standby 1 left on disk is work for `up`: the stack is not "already running".
    assert not fewer.standbys.is_running()
    fewer.standbys.up()
    assert fewer.standbys.is_running()
    try:
        assert not (replicated.config.state_dir / "postgres-standby-1").exists()
        with psycopg.connect(replicated.postgres.admin_url, autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM pg_replication_slots").fetchone() == (0,)
    finally:
        replicated.standbys.up()
    _write(replicated, "after-rebuild")
    _wait_for(lambda: _on_standby(replicated, "after-rebuild"))


def test_down_stops_the_standby_and_clean_leaves_no_process_and_no_slot(replicated):
    standby = replicated.standbys.wanted[0]
    pids = [
        live_pid(replicated.postgres.data / "postmaster.pid"),
        live_pid(standby.data / "postmaster.pid"),
    ]
    assert None not in pids
    replicated.down()
    assert live_pid(standby.data / "postmaster.pid") is None
    assert live_pid(replicated.postgres.data / "postmaster.pid") is None
    for pid in pids:
        _wait_for(lambda pid=pid: not _alive(pid))
    replicated.start_database()
    replicated.standbys.up()
    slots = "SELECT count(*) FROM pg_replication_slots"
    with psycopg.connect(replicated.postgres.admin_url, autocommit=True) as conn:
        assert conn.execute(slots).fetchone() == (1,)
    # What clean does first, while the primary still runs: no slot outlives its standby.
    replicated.standbys.remove_all()
    with psycopg.connect(replicated.postgres.admin_url, autocommit=True) as conn:
        assert conn.execute(slots).fetchone() == (0,)
    pid = live_pid(replicated.postgres.data / "postmaster.pid")
    replicated.clean()
    # pg_ctl returns once the pid file is gone; the process itself exits a moment later.
    _wait_for(lambda: not _alive(pid))
    for port in (replicated.config.postgres_port, replicated.config.postgres_port + 1):
        assert listeners(port) == []
    assert not replicated.config.state_dir.exists()


def _make_up(state_dir: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    """`make up`'s launcher in a process of its own, with only `variables` set."""
    return subprocess.run(
        [sys.executable, "-m", "stack", "up"],
        cwd=REPO_ROOT,
        env={"PATH": "/usr/bin:/bin", "STACK_DIR": str(state_dir), **variables},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("value", ["9", "-1", "two"])
def test_an_invalid_read_replicas_is_refused_with_the_variable_named(value, tmp_path):
    result = _make_up(tmp_path, READ_REPLICAS=value)
    assert result.returncode == 1
    assert f"READ_REPLICAS={value!r}" in result.stderr
    assert "0 to 8" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "postgres").exists()


def test_a_missing_pg_basebackup_is_named_with_what_to_do(tmp_path, monkeypatch):
    # A bin folder like an embedded PostgreSQL without the client programs.
    for name in ("initdb", "pg_ctl", "postgres"):
        (tmp_path / name).symlink_to(Path(shutil.which(name) or "/bin/true"))
    monkeypatch.setenv("PG_BIN", str(tmp_path))
    with pytest.raises(StackError, match="pg_basebackup is not in") as error:
        standby_binary("pg_basebackup")
    assert "READ_REPLICAS" in str(error.value)
    assert standby_binary("pg_ctl") == str(tmp_path / "pg_ctl")


def test_a_busy_standby_port_stops_up_before_anything_starts(tmp_path):
    port = _primary_port_with_a_free_next()
    with socket.create_server(("127.0.0.1", port + 1)):
        result = _make_up(tmp_path, POSTGRES_PORT=str(port), READ_REPLICAS="1")
    assert result.returncode == 1
    assert f"port {port + 1} (PostgreSQL standby 1)" in result.stderr
    assert "POSTGRES_PORT (standby 1 listens on it + 1)" in result.stderr
    assert "Nothing was started." in result.stderr
    assert not (tmp_path / "postgres").exists()


def test_a_standby_port_that_is_another_parts_port_is_refused(monkeypatch):
    monkeypatch.setenv("POSTGRES_PORT", "47000")
    monkeypatch.setenv("COMMAND_PORT", "47002")
    monkeypatch.setenv("READ_REPLICAS", "2")
    with pytest.raises(StackError, match=r"COMMAND_PORT=47002 is the port of PostgreSQL standby 2"):
        StackConfig.from_env(state_dir=Path(tempfile.gettempdir()))
    monkeypatch.setenv("READ_REPLICAS", "1")
    assert StackConfig.from_env(state_dir=Path(tempfile.gettempdir())).standby_port(1) == 47001
