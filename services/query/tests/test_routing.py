"""Where a read goes, as pure decisions: the lag arithmetic, what a standby's measured
state allows, and the route of an instance without a standby. Reads of a real standby
are tested through the gateway (tests/contract/test_read_replicas.py)."""

import time

import pytest

from query_service import routing
from query_service.routing import Lag, ReplicaHealth


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(routing.time, "monotonic", lambda: now[0])
    return now


def test_nothing_to_replay_is_no_lag_however_old_the_last_transaction():
    assert routing._lag(500, 500, 3600.0, now=1.0) == Lag(0.0, 0, 1.0)
    # A standby measured after the primary may be ahead of what the primary said.
    assert routing._lag(500, 600, 3600.0, now=1.0) == Lag(0.0, 0, 1.0)


def test_bytes_behind_count_as_the_age_of_the_last_replayed_transaction():
    assert routing._lag(900, 500, 2.5, now=1.0) == Lag(2.5, 400, 1.0)
    # None replayed since the standby started: unknown, so not read while it is behind.
    unknown = routing._lag(900, 500, None, now=1.0)
    assert unknown.seconds is None
    health = ReplicaHealth(True, True, unknown, checked_at=1.0)
    assert health.staleness() is None and health.usable() is False
    assert health.summary()["lag_seconds"] is None  # JSON, not an infinity /readyz cannot write


def test_staleness_grows_with_the_clock_since_the_lag_was_measured(clock):
    health = ReplicaHealth(True, True, Lag(0.5, 10, measured_at=1000.0), checked_at=1000.0)
    assert health.staleness() == pytest.approx(0.5)
    clock[0] += 2
    assert health.staleness() == pytest.approx(2.5)
    assert ReplicaHealth(True, True, None, 1000.0).staleness() is None


@pytest.mark.parametrize(
    ("reachable", "primary_reachable", "lag_seconds", "usable"),
    [
        (True, True, 1.0, True),
        (True, True, 5.0, True),
        (True, True, 5.5, False),  # beyond MAX_REPLICA_LAG: the primary answers
        (False, True, 0.0, False),  # away: the primary answers
        (True, False, 60.0, True),  # the primary away: the standby is the best there is
        (False, False, 0.0, False),
    ],
)
def test_a_standby_is_read_when_reachable_and_within_max_replica_lag(
    clock, settings, reachable, primary_reachable, lag_seconds, usable
):
    settings.MAX_REPLICA_LAG = 5.0
    lag = Lag(lag_seconds, 1, measured_at=1000.0)
    assert ReplicaHealth(reachable, primary_reachable, lag, 1000.0).usable() is usable


def test_a_standby_never_measured_against_the_primary_is_not_read(clock):
    assert ReplicaHealth(True, True, None, 1000.0).usable() is False


def test_without_a_standby_every_read_is_from_the_primary(settings):
    assert routing.REPLICA not in settings.DATABASES
    assert routing.choose(None) == routing.Route()
    assert routing.choose(123) == routing.Route(token="primary")
    assert routing.current() == routing.Route(token="primary")
    routing.forget_route()
    assert routing.current() == routing.Route()


def test_the_furthest_replayed_position_answers_a_token_without_asking(monkeypatch):
    monitor = routing.ReplicaMonitor()
    monitor._note_replayed(700)
    monitor._note_replayed(650)  # an older measurement never moves it back
    asked = []

    def one_row(*args: str) -> tuple[int]:
        asked.append(args)
        return (900,)

    monkeypatch.setattr(routing, "_one_row", one_row)
    assert monitor.wait_for(700, timeout=0) == "replayed"
    assert asked == []
    assert monitor.wait_for(800, timeout=0) == "replayed"  # past it at the first question
    assert len(asked) == 1
    assert monitor.wait_for(901, timeout=0.05) == "behind"
    assert len(asked) >= 3  # asked again until the wait ran out


def test_a_token_the_standby_reaches_while_asked_again_has_waited(monkeypatch):
    monitor = routing.ReplicaMonitor()
    positions = iter([100, 150, 250])
    monkeypatch.setattr(routing, "_one_row", lambda *args: (next(positions),))
    assert monitor.wait_for(200, timeout=1) == "waited"


def test_a_new_connection_to_the_standby_forgets_the_furthest_replayed_position():
    """A standby that started again (after a crash) may open behind what it showed: its
    first connection must not answer a token from the position remembered before."""
    monitor = routing.monitor
    monitor._note_replayed(10_000)
    routing._forget_replayed(sender=None, connection=type("C", (), {"alias": "default"})())
    assert monitor._replayed == 10_000
    routing._forget_replayed(sender=None, connection=type("C", (), {"alias": routing.REPLICA})())
    assert monitor._replayed == 0


def test_an_answer_from_the_standby_says_how_stale_it_is_when_it_leaves(clock):
    lag = Lag(0.25, 10, measured_at=1000.0)
    route = routing.Route(routing.REPLICA, ReplicaHealth(True, False, lag, 1000.0))
    assert route.primary_away
    clock[0] += 0.5
    assert route.health is not None and route.health.staleness() == pytest.approx(0.75)


@pytest.fixture
def standby_answers(monkeypatch):
    """An instance with a standby whose primary no longer answers: what the next
    measurement finds (the databases' answers stand in for the two servers)."""
    primary_up = [False]

    def one_row(alias: str, query: str) -> tuple:
        if alias == routing.PRIMARY and not primary_up[0]:
            raise routing.Error("the database system is shutting down")
        return (1000,) if alias == routing.PRIMARY else (1000, 0.0)

    monkeypatch.setattr(routing, "has_replica", lambda: True)
    monkeypatch.setattr(routing, "_one_row", one_row)
    monkeypatch.setattr(routing, "monitor", routing.ReplicaMonitor())
    routing.forget_route()
    return primary_up


def test_a_read_of_a_primary_found_away_goes_on_from_the_standby(standby_answers):
    # Routed to the primary a moment ago (the standby was measured too far behind).
    routing.monitor._health = ReplicaHealth(True, True, None, checked_at=time.monotonic())
    route = routing.fall_back_to_replica()
    assert route == routing.current()
    assert route is not None and route.alias == routing.REPLICA
    assert route.primary_away  # the answer says read-only
    assert routing.monitor.health() is route.health  # measured now, not the last second's


def test_a_primary_that_failed_one_read_but_answers_is_the_callers_to_report(standby_answers):
    standby_answers[0] = True
    assert routing.fall_back_to_replica() is None
    assert routing.current() == routing.Route()


def test_a_tokens_read_is_never_answered_from_a_standby_when_the_primary_fails(standby_answers):
    routing._route.set(routing.Route(token="primary"))
    assert routing.fall_back_to_replica() is None
    assert routing.current() == routing.Route(token="primary")


def test_without_a_standby_a_failed_read_of_the_primary_is_reported(settings):
    assert routing.fall_back_to_replica() is None
