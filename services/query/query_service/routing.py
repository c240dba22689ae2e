"""Which database a read is answered from: this instance's standby, or the primary.

With READ_REPLICA_URL set, a read goes to the standby unless (docs/decisions.md, "Reads
from standbys"):
- it carries a Consistency-Token the standby has not replayed past within
  CONSISTENCY_WAIT_MS: then the primary, through the query role's read-only connection
  (503 `consistency-unavailable` when the primary cannot be reached either);
- the standby is away or more than MAX_REPLICA_LAG seconds behind the primary.
When the primary is away, the standby still answers: reads go on, writes are 503s. A read
sent to the primary that finds it gone answers from the standby too, not with a 503.

The standby's state is measured at most once a second per process, never per read.
"""

from __future__ import annotations

import logging
import threading
import time
from contextvars import ContextVar
from dataclasses import dataclass, replace

from django.conf import settings
from django.db import Error, connections
from django.db.backends.signals import connection_created

from shared.api.problem_types import CONSISTENCY_UNAVAILABLE
from shared.api.problems import ProblemError

PRIMARY = "default"
REPLICA = "replica"
# How old the measured state of the standby may be before a read measures it again, and how
# often a token's read asks the standby whether it has replayed far enough.
CHECK_INTERVAL = 1.0
POLL_INTERVAL = 0.005

logger = logging.getLogger("jobs.replica")


class ConsistencyUnavailable(ProblemError):
    """A token's write is not on the standby yet and the primary cannot be reached."""

    status = 503
    problem = CONSISTENCY_UNAVAILABLE
    headers = {"Retry-After": "1"}
    default_detail = (
        "The write this Consistency-Token names is not readable here yet and the primary "
        "database cannot be reached. Retry shortly with the same token."
    )


@dataclass(frozen=True)
class Lag:
    """How far the standby was behind the primary when last measured (monotonic clock);
    `seconds` is None when it cannot be bounded (behind, and no commit replayed since the
    standby started)."""

    seconds: float | None
    bytes: int
    measured_at: float


@dataclass(frozen=True)
class ReplicaHealth:
    reachable: bool
    primary_reachable: bool
    lag: Lag | None  # None until the standby and the primary have both been reached once
    checked_at: float

    def staleness(self) -> float | None:
        """At most how many seconds the standby's data is behind the primary now: lag can
        grow no faster than the clock since it was measured."""
        if self.lag is None or self.lag.seconds is None:
            return None
        return self.lag.seconds + max(0.0, time.monotonic() - self.lag.measured_at)

    def usable(self) -> bool:
        """Readable, and within MAX_REPLICA_LAG unless the primary is away (then the
        standby is the best there is: reads go on, read-only)."""
        if not self.reachable:
            return False
        if not self.primary_reachable:
            return True
        staleness = self.staleness()
        return staleness is not None and staleness <= settings.MAX_REPLICA_LAG

    def summary(self) -> dict[str, object]:
        """What /readyz and the logs say about the standby."""
        staleness = self.staleness()
        return {
            "reachable": self.reachable,
            "primary_reachable": self.primary_reachable,
            "lag_seconds": None if staleness is None else round(staleness, 3),
            "lag_bytes": None if self.lag is None else self.lag.bytes,
            "reading_from": "replica" if self.usable() else "primary",
        }


def _one_row(alias: str, query: str) -> tuple:
    with connections[alias].cursor() as cursor:
        cursor.execute(query)
        return cursor.fetchone()


# `- '0/0'` turns an LSN into a number of bytes, comparable with a token's position.
_PRIMARY_POSITION = "SELECT pg_current_wal_insert_lsn() - '0/0'"
_REPLAYED = "SELECT pg_last_wal_replay_lsn() - '0/0'"
_REPLAYED_AND_AGE = (
    "SELECT pg_last_wal_replay_lsn() - '0/0', "
    "extract(epoch FROM now() - pg_last_xact_replay_timestamp())"
)


class ReplicaMonitor:
    """The standby's health and the furthest WAL position it was seen to have replayed,
    shared by a process's threads."""

    def __init__(self) -> None:
        self._health: ReplicaHealth | None = None
        self._replayed = 0
        self._lock = threading.Lock()

    def health(self) -> ReplicaHealth:
        """The last measurement, measured again when older than CHECK_INTERVAL (by one
        thread; the others go on with the last one meanwhile)."""
        current = self._health
        if current is not None and time.monotonic() - current.checked_at < CHECK_INTERVAL:
            return current
        if self._lock.acquire(blocking=current is None):
            try:
                if self._health is current:  # else another thread has just measured
                    self._health = self._measure(current)
            finally:
                self._lock.release()
        return self._health or current  # type: ignore[return-value]

    def measure_now(self) -> ReplicaHealth:
        """Measured after this call began (waiting for a measurement under way), never the
        last second's: a read of the primary has just failed."""
        asked = time.monotonic()
        with self._lock:
            current = self._health
            if current is None or current.checked_at < asked:
                current = self._health = self._measure(current)
            return current

    def forget(self) -> None:
        """A read of the standby failed: the next read measures it again."""
        health = self._health
        if health is not None:
            self._health = replace(health, reachable=False, checked_at=float("-inf"))

    def _measure(self, last: ReplicaHealth | None) -> ReplicaHealth:
        now = time.monotonic()
        try:
            (primary_position,) = _one_row(PRIMARY, _PRIMARY_POSITION)
        except Error:
            primary_position = None
        try:
            replayed, replay_age = _one_row(REPLICA, _REPLAYED_AND_AGE)
        except Error:
            replayed = None
        lag = last.lag if last is not None else None
        if replayed is not None:
            self._note_replayed(int(replayed))
        if replayed is not None and primary_position is not None:
            lag = _lag(int(primary_position), int(replayed), replay_age, now)
        health = ReplicaHealth(replayed is not None, primary_position is not None, lag, now)
        _log_change(last, health)
        return health

    def forget_replayed(self) -> None:
        self._replayed = 0

    def _note_replayed(self, position: int) -> None:
        # Replay only moves forward on a standby of one primary, so the furthest position
        # seen answers any token at or below it without asking.
        self._replayed = max(self._replayed, position)

    def wait_for(self, position: int, timeout: float) -> str:
        """`replayed` when the standby is already past `position`, `waited` when it got
        there within `timeout` seconds, `behind` when it did not (or could not be asked)."""
        waited = False
        deadline = time.monotonic() + timeout
        while self._replayed < position:
            if waited and time.monotonic() >= deadline:
                return "behind"
            if waited:
                time.sleep(POLL_INTERVAL)
            try:
                (replayed,) = _one_row(REPLICA, _REPLAYED)
            except Error:
                self.forget()
                return "behind"
            self._note_replayed(int(replayed or 0))
            waited = waited or self._replayed < position
        return "waited" if waited else "replayed"


def _lag(primary_position: int, replayed: int, replay_age: object, now: float) -> Lag:
    """Nothing to replay is no lag; otherwise the time since the last transaction the
    standby replayed committed (an upper bound; None, unknown, when it replayed none yet)."""
    behind = max(0, primary_position - replayed)
    if behind == 0:
        return Lag(0.0, 0, now)
    seconds = None if replay_age is None else max(0.0, float(replay_age))  # type: ignore[arg-type]
    return Lag(seconds, behind, now)


def _log_change(last: ReplicaHealth | None, health: ReplicaHealth) -> None:
    """One log line each time reads move between the standby and the primary, or the
    primary goes away or comes back."""
    was = None if last is None else (last.usable(), last.primary_reachable)
    if was == (health.usable(), health.primary_reachable):
        return
    level = logging.INFO if health.usable() and health.primary_reachable else logging.WARNING
    logger.log(level, "replica state changed", extra={"replica": health.summary()})


@dataclass(frozen=True)
class Route:
    """Where this request reads, the standby's measured state when it reads the standby
    (how stale its answer may be is asked when the answer leaves), and what a token asked
    for: `replayed` (at once), `waited`, or `primary`."""

    alias: str = PRIMARY
    health: ReplicaHealth | None = None
    token: str | None = None

    @property
    def primary_away(self) -> bool:
        return self.health is not None and not self.health.primary_reachable


_ON_PRIMARY = Route()
_route: ContextVar[Route] = ContextVar("read_route")
monitor = ReplicaMonitor()


def _forget_replayed(sender: object, connection: object, **kwargs: object) -> None:
    """A new connection to the standby may reach a standby that started again, which can
    open behind what it had shown (after a crash or an immediate stop): the furthest
    position seen before no longer answers a token without asking."""
    if getattr(connection, "alias", None) == REPLICA:
        monitor.forget_replayed()


connection_created.connect(_forget_replayed)


def has_replica() -> bool:
    return REPLICA in settings.DATABASES


def current() -> Route:
    return _route.get(_ON_PRIMARY)


def forget_route() -> None:
    _route.set(_ON_PRIMARY)


def choose(token_position: int | None) -> Route:
    """Decide where this request reads (kept for the rest of the request)."""
    route = (
        _choose(token_position) if has_replica() else Route(token=_primary_token(token_position))
    )
    _route.set(route)
    return route


def _primary_token(token_position: int | None) -> str | None:
    return None if token_position is None else "primary"


def _choose(token_position: int | None) -> Route:
    health = monitor.health()
    if not health.usable():
        return _on_primary(token_position)
    if token_position is None:
        return Route(REPLICA, health)
    replayed = monitor.wait_for(token_position, settings.CONSISTENCY_WAIT_MS / 1000)
    if replayed == "behind":
        return _on_primary(token_position)
    return Route(REPLICA, health, replayed)


def _on_primary(token_position: int | None) -> Route:
    """The primary, which has every acknowledged write; a token's read that cannot reach it
    is a 503, never an answer from a standby that may not have the write."""
    if token_position is not None:
        primary = connections[PRIMARY]
        try:
            # A connection the primary dropped while idle is closed here, not found out
            # by the read (which would answer a plain 503).
            primary.close_if_health_check_failed()
            primary.ensure_connection()
        except Error:
            raise ConsistencyUnavailable from None
    return Route(PRIMARY, None, _primary_token(token_position))


def fall_back_to_replica() -> Route | None:
    """A read of the primary failed. Without a token to honour, the rest of the request
    reads the standby when it answers and the primary is found away (read-only, as the
    next measurement would have routed it); None when the failure is the caller's to
    report: no standby, a token's read, the standby away too, or the primary answering."""
    if not has_replica() or current().token is not None:
        return None
    connections[PRIMARY].close()  # broken by the failure; the measurement opens a new one
    health = monitor.measure_now()
    if not health.reachable or health.primary_reachable:
        return None
    route = Route(REPLICA, health)
    _route.set(route)
    logger.warning("read of the primary failed and the primary is away; reading the standby")
    return route


def fall_back_to_primary() -> Route:
    """A read of the standby failed mid-request: the rest of it reads the primary."""
    monitor.forget()
    route = replace(current(), alias=PRIMARY, health=None)
    _route.set(route)
    logger.warning("read of the replica failed; reading the primary")
    return route
