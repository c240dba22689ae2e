"""Hot standbys of the launcher's PostgreSQL, by streaming replication (READ_REPLICAS).

Standby k is a pg_basebackup of the primary under <state>/postgres-standby-k/data, made
with the replication role and a replication slot of its own (jobs_standby_k), started
with hot_standby and hot_standby_feedback on, on 127.0.0.1:POSTGRES_PORT+k.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from stack.config import ADMIN_ROLE, REPLICATION_ROLE
from stack.ports import busy_port_message
from stack.postgres import Postgres, Server, prepare_server_folder
from stack.tools import StackError, postgres_bindir

SLOT_PREFIX = "jobs_standby_"


def slot_name(number: int) -> str:
    return f"{SLOT_PREFIX}{number}"


def standby_binary(name: str) -> str:
    """A PostgreSQL program from the bindir the primary uses, or a message naming it."""
    path = postgres_bindir() / name
    if not path.exists():
        raise StackError(
            f"{name} is not in {path.parent}, the PostgreSQL binaries the launcher uses: "
            "READ_REPLICAS needs it. Install PostgreSQL's client programs there, point "
            "PG_BIN at a complete bin folder, or set READ_REPLICAS=0."
        )
    return str(path)


@dataclass(frozen=True)
class Lag:
    """How far a standby is behind the primary, from pg_stat_replication."""

    active: bool
    replay_bytes: int | None
    replay_seconds: float | None


class Standby(Server):
    def __init__(self, number: int, primary: Postgres) -> None:
        super().__init__(
            primary.config, primary.secrets, primary.config.state_dir / f"postgres-standby-{number}"
        )
        self.number = number
        self.primary = primary
        self.label = f"standby {number}"
        # The replication role's password for pg_basebackup and then the WAL receiver
        # (pg_basebackup -R writes `passfile=` into primary_conninfo): never on a command line.
        self.passfile = self.root / "pgpass"
        self.slot = slot_name(number)

    @property
    def port(self) -> int:
        return self.config.standby_port(self.number)

    def _options(self) -> list[str]:
        return [
            "-c hot_standby=on",
            # The primary keeps the rows a standby's queries still read, so long reads
            # there are not cancelled by the cleanup of the primary (vacuum).
            "-c hot_standby_feedback=on",
            f"-c recovery_min_apply_delay={self.config.standby_apply_delay_ms}ms",
            f"-c cluster_name=jobs_standby_{self.number}",
            "-c max_connections=200",
        ]

    def _write_passfile(self) -> None:
        password = self.primary.secrets["replication_password"]
        self.passfile.write_text(
            f"127.0.0.1:{self.config.postgres_port}:*:{REPLICATION_ROLE}:{password}\n"
        )
        self.passfile.chmod(0o600)
        if self.user is not None:
            shutil.chown(self.passfile, self.user, self.user)

    def create(self) -> None:
        """pg_basebackup of the running primary, once; its slot is made with it (-C)."""
        prepare_server_folder(self.root, self.user)
        self._write_passfile()
        if self.exists():
            return
        # A slot left by a standby whose folder is gone would make -C fail; it is of no use.
        drop_slot(self.primary, self.slot)
        shutil.rmtree(self.data, ignore_errors=True)
        result = self._run(
            [
                standby_binary("pg_basebackup"),
                *("-h", "127.0.0.1", "-p", str(self.config.postgres_port)),
                *("-U", REPLICATION_ROLE, "-w"),
                *("-D", str(self.data)),
                *("-X", "stream", "-C", "-S", self.slot, "-R"),
                "--checkpoint=fast",
            ],
            env={"PGPASSFILE": str(self.passfile), "PATH": "/usr/bin:/bin"},
        )
        if result.returncode != 0:
            shutil.rmtree(self.data, ignore_errors=True)
            drop_slot(self.primary, self.slot)
            raise StackError(
                f"pg_basebackup for standby {self.number} failed:\n{result.stderr[-2000:]}"
            )

    def remove(self) -> None:
        """Stop it, drop its slot (else the primary keeps WAL for it forever), delete it."""
        self.stop()
        drop_slot(self.primary, self.slot)
        shutil.rmtree(self.root, ignore_errors=True)


def drop_slot(primary: Postgres, slot: str) -> None:
    """Drop a replication slot on the running primary, if it is there."""
    if not primary.is_running():
        return
    with psycopg.connect(primary.url(ADMIN_ROLE, "admin_password"), autocommit=True) as conn:
        conn.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
            "WHERE slot_name = %s",
            [slot],
        )


class Standbys:
    """The READ_REPLICAS standbys of one stack, and any left over from a larger count."""

    def __init__(self, primary: Postgres) -> None:
        self.primary = primary
        self.config = primary.config
        self.wanted = [Standby(k, primary) for k in range(1, self.config.read_replicas + 1)]

    def on_disk(self) -> list[Standby]:
        """Every standby folder under the state folder, wanted or not."""
        numbers = set()
        for folder in self.config.state_dir.glob("postgres-standby-*"):
            suffix = folder.name.rsplit("-", 1)[1]
            if suffix.isdigit():
                numbers.add(int(suffix))
        numbers.update(standby.number for standby in self.wanted)
        return [Standby(k, self.primary) for k in sorted(numbers)]

    def is_running(self) -> bool:
        """The wanted standbys run and no other is left on disk: else `up` has work to do
        (a lower READ_REPLICAS removes the standbys above it, and their slots)."""
        wanted = {standby.number for standby in self.wanted}
        extra = [standby for standby in self.on_disk() if standby.number not in wanted]
        return not extra and all(standby.is_running() for standby in self.wanted)

    def busy_ports(self) -> list[str]:
        prefix = self.config.env_prefix
        messages = []
        for standby in self.wanted:
            if standby.is_running():
                continue
            message = busy_port_message(
                what=f"PostgreSQL standby {standby.number}",
                host="127.0.0.1",
                port=standby.port,
                variable=f"{prefix}POSTGRES_PORT (standby {standby.number} listens on it "
                f"+ {standby.number}) or {prefix}READ_REPLICAS",
            )
            if message:
                messages.append(message)
        return messages

    def up(self, on_start: Callable[[Standby], object] | None = None) -> list[Standby]:
        """Make and start the wanted standbys (the primary runs); remove the ones beyond
        READ_REPLICAS, whose slots would hold WAL forever. Returns those this run started,
        each also given to on_start before it starts, so a later failure can stop it."""
        wanted = {standby.number for standby in self.wanted}
        for extra in self.on_disk():
            if extra.number not in wanted:
                extra.remove()
        started = []
        for standby in self.wanted:
            if standby.is_running():
                continue
            standby.create()
            started.append(standby)
            if on_start is not None:
                on_start(standby)
            standby.start()
        return started

    def down(self) -> None:
        for standby in reversed(self.on_disk()):
            standby.stop()

    def remove_all(self) -> None:
        """Stop every standby and drop every jobs_standby_ slot (the primary runs)."""
        for standby in reversed(self.on_disk()):
            standby.remove()
        if self.primary.is_running():
            with (
                contextlib.suppress(psycopg.Error),
                psycopg.connect(
                    self.primary.url(ADMIN_ROLE, "admin_password"), autocommit=True
                ) as conn,
            ):
                conn.execute(
                    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                    "WHERE slot_name LIKE %s AND NOT active",
                    [SLOT_PREFIX.replace("_", r"\_") + "%"],
                )

    def lag(self) -> dict[int, Lag]:
        """Each wanted standby's replay lag as the primary sees it through its slot."""
        found: dict[int, Lag] = {}
        with psycopg.connect(
            self.primary.url(ADMIN_ROLE, "admin_password"), autocommit=True, connect_timeout=5
        ) as conn:
            for standby in self.wanted:
                row = conn.execute(
                    """
                    SELECT slot.active,
                           pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn)::bigint,
                           extract(epoch FROM r.replay_lag)::float8
                    FROM pg_replication_slots AS slot
                    LEFT JOIN pg_stat_replication AS r ON r.pid = slot.active_pid
                    WHERE slot.slot_name = %s
                    """,
                    [standby.slot],
                ).fetchone()
                if row is None:
                    found[standby.number] = Lag(False, None, None)
                else:
                    # replay_lag is NULL once a standby has caught up and nothing is written.
                    seconds = row[2] if row[2] is not None else (0.0 if row[1] == 0 else None)
                    found[standby.number] = Lag(bool(row[0]), row[1], seconds)
        return found
