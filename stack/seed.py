"""`make seed JOBS=1000000`: realistic jobs and events, generated inside PostgreSQL.

Rows are made by `generate_series` in batches (one INSERT of jobs and one of their events
per batch), so a million jobs take about a minute, not hours: no row crosses the wire.
Every invariant holds by construction: each job starts PENDING at its creation time;
20% stop there or at RUNNING, the rest end COMPLETED or FAILED (a quarter of them; most
during a three-hour failure spike two days back) after one minute to an hour; arrivals
follow a daily rhythm (busiest around 14:00 UTC); the newest jobs, whose next step would
come after the seed's clock, are still PENDING or RUNNING, so no time is in the future;
timestamps strictly increase; the job's current status is its last event. The
statement-level counter and rollup triggers see each batch as one statement, so the
stats' rollups are filled as the events are written (a million jobs: about 7 minutes
here, most of it the rollups' minute rows). Names mix teams, tasks,
environments and a number, so a search can be common (`etl`, one job in eight) or rare
(`-424242`).
"""

from __future__ import annotations

import psycopg
from tqdm import tqdm

from stack.tools import StackError

BATCH = 50_000

_BATCH_SQL = """
WITH params AS (
    SELECT %(start)s::bigint AS first, %(stop)s::bigint AS last, %(total)s::bigint AS total,
           %(now)s::timestamptz AS now, %(span)s::float8 AS span
),
arrivals AS (
    -- Spread over the past year (the span), in id order, as jobs arrive.
    SELECT g, p.now,
           p.now - make_interval(secs => (p.total - g) * p.span / p.total) AS uniform
      FROM params p, generate_series(p.first, p.last) AS g
),
generated AS (
    SELECT g,
           (ARRAY['billing','search','ingest','reports','ml','payments','auth','mail'])[1 + g %% 8]
           || '-' || (ARRAY['nightly-etl','hourly-sync','backfill','export','reindex',
                            'train','cleanup','digest'])[1 + (g / 8) %% 8]
           || '-' || (ARRAY['prod','staging','dev'])[1 + (g / 64) %% 3]
           || '-' || g AS name,
           -- A daily rhythm: within each whole day before the seed's, arrivals crowd
           -- around 14:00 UTC and thin out at night, by a warp of the day that keeps their
           -- order (x - a(sin 2pi(x - peak) + sin 2pi peak)/2pi rises for a < 1, and maps
           -- the day onto itself); the seed's own day stays as it came, never ahead.
           CASE WHEN day + interval '1 day' <= now
                THEN day + make_interval(secs => 86400 * (x - 0.8 * (
                         sin(2 * pi() * (x - 14 / 24.0)) + sin(2 * pi() * 14 / 24.0)
                     ) / (2 * pi())))
                ELSE uniform
           END AS created,
           g %% 20 AS kind, now
      FROM arrivals,
           LATERAL (SELECT date_trunc('day', uniform, 'UTC') AS day) AS d,
           LATERAL (SELECT extract(epoch FROM uniform - day) / 86400 AS x) AS f
),
planned AS (
    SELECT name, created, kind, now,
           created + interval '30 seconds' AS started,
           -- Run times from one minute to an hour, spread evenly on a log scale.
           created + interval '30 seconds'
               + make_interval(secs => 60 * power(60.0, ((g * 7919) %% 1000) / 1000.0)) AS ended,
           -- A failure spike: three hours two days before the seed, most runs fail.
           created >= now - interval '2 days 6 hours'
               AND created < now - interval '2 days 3 hours' AS in_spike
      FROM generated
),
shaped AS (
    -- A job whose next step would come after the seed's clock has not taken it yet: the
    -- newest jobs are still PENDING or RUNNING, and no status time is in the future.
    SELECT name, created, kind,
           CASE WHEN kind < 3 OR started > now THEN 'PENDING'
                WHEN kind < 7 OR ended > now THEN 'RUNNING'
                WHEN kind < 17 AND NOT (in_spike AND kind >= 12) THEN 'COMPLETED'
                ELSE 'FAILED' END AS final,
           CASE WHEN kind < 3 OR started > now THEN created
                WHEN kind < 7 OR ended > now THEN started
                ELSE ended
           END AS last_at
      FROM planned
),
jobs AS (
    INSERT INTO jobs_job (name, created_at, updated_at, current_status_type,
                          current_status_timestamp)
    SELECT name, created, last_at, final, last_at FROM shaped ORDER BY created
    RETURNING id, created_at, current_status_type, current_status_timestamp
)
INSERT INTO jobs_jobstatus (job_id, status_type, timestamp)
SELECT id, 'PENDING', created_at FROM jobs
UNION ALL
SELECT id, 'RUNNING', created_at + interval '30 seconds'
  FROM jobs WHERE current_status_type <> 'PENDING'
UNION ALL
SELECT id, current_status_type, current_status_timestamp
  FROM jobs WHERE current_status_type IN ('COMPLETED', 'FAILED')
"""


def seed(database_url: str, *, jobs: int, force: bool, span_seconds: float = 31_536_000) -> int:
    """Insert `jobs` jobs with their events, created over the `span_seconds` (a year) up to
    now; refuses a non-empty database unless `force`."""
    if jobs < 1:
        raise StackError("JOBS must be at least 1")
    with psycopg.connect(database_url, autocommit=True) as conn:
        existing = conn.execute("SELECT count(*) FROM jobs_job").fetchone()[0]  # type: ignore[index]
        if existing and not force:
            raise StackError(
                f"the database already holds {existing} jobs; seed only an empty one, "
                "or pass FORCE=1 (make seed JOBS=... FORCE=1) to add to them"
            )
        now = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
        with tqdm(total=jobs, unit="job", unit_scale=True, desc="seeding") as progress:
            for start in range(1, jobs + 1, BATCH):
                stop = min(start + BATCH - 1, jobs)
                with conn.transaction():
                    conn.execute(
                        _BATCH_SQL,  # type: ignore[arg-type]
                        {
                            "start": start,
                            "stop": stop,
                            "total": jobs,
                            "now": now,
                            "span": span_seconds,
                        },
                    )
                progress.update(stop - start + 1)
        # VACUUM as well as ANALYZE: it sets the rows' hint bits and the visibility map
        # now, instead of the first reads of every page writing them, or autovacuum
        # waking up over the new million rows in the middle of whatever runs next.
        print("vacuuming and analyzing ...", flush=True)
        conn.execute("VACUUM (ANALYZE) jobs_job")
        conn.execute("VACUUM (ANALYZE) jobs_jobstatus")
        conn.execute("VACUUM (ANALYZE) jobs_status_rollup")
        conn.execute("VACUUM (ANALYZE) jobs_runtime_rollup")
    return jobs
