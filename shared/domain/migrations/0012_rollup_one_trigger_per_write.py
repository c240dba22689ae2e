# Written by hand on 2026-12-01: the rollups' work per append cut (docs/performance.md,
# "2026-12-01"). The figures they keep are the same, so nothing is recounted.

import importlib

from django.db import migrations

# Not STRICT, so the planner inlines it (a STRICT one whose CASE it cannot prove strict
# is planned again on each statement: 0.35 ms of every finishing append); NULL is
# handled in the body instead (least() would turn it into 320).
RUNTIME_BIN = """
CREATE OR REPLACE FUNCTION jobs_runtime_bin(seconds double precision) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN seconds IS NULL THEN NULL
                WHEN seconds <= 0.001 THEN 0
                ELSE least(320, ceil(8 * log(2, (seconds / 0.001)::numeric)))::smallint END
$$;
"""

# One trigger call per write: 0011's past-changes check is folded into 0010's trigger (one
# pass over the transition table for both flags, not a second trigger reading it again),
# and the histogram statement runs only when the statement holds a finish.
#
# A bucket is closed, for the query service's keeping of its figures, once it ended
# 5 minutes ago: a change to an event stamped earlier than that (a delete of an older
# job, a bulk insert into the past) moves the past-changes version; an append, stamped
# now, never does. The margin covers clocks a little apart (the command service stamps,
# PostgreSQL compares). Each branch may read only its own transition table, so the two
# are the same SQL with opposite signs (an insert's also finds a finish's RUNNING).
ONE_TRIGGER = """
CREATE OR REPLACE FUNCTION jobs_rollup_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_shard smallint := pg_backend_pid() % 16;
    v_finishes boolean;
    v_past boolean;
BEGIN
    -- The session's counter shard first, as every write takes it: a job's insert takes
    -- it before its event's rollups, but a delete's cascade and an append reach the
    -- rollups before the jobs_job trigger. Taking it here orders every writer
    -- counter-then-rollups-then-past-version, so two writers of one shard never wait on
    -- each other in a ring.
    PERFORM 1 FROM jobs_counter_shard WHERE shard = v_shard FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO jobs_counter_shard (shard, pending, running, completed, failed, version)
        VALUES (v_shard, 0, 0, 0, 0, 0) ON CONFLICT (shard) DO NOTHING;
        PERFORM 1 FROM jobs_counter_shard WHERE shard = v_shard FOR UPDATE;
    END IF;

    IF TG_OP = 'INSERT' THEN
        SELECT bool_or(e.status_type IN ('COMPLETED', 'FAILED')),
               bool_or(e."timestamp" < now() - interval '5 minutes')
          INTO v_finishes, v_past
          FROM new_rows e;

        -- Rows in key order: concurrent upserts of one shard lock them in the same order.
        INSERT INTO jobs_status_rollup AS r (bucket_size, bucket_start, status_type, shard, entered)
        SELECT z.size, date_trunc(z.size, e."timestamp", 'UTC'), e.status_type, v_shard, count(*)
          FROM new_rows e CROSS JOIN (VALUES ('minute'), ('hour'), ('day')) AS z(size)
         GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (bucket_size, bucket_start, status_type, shard)
        DO UPDATE SET entered = r.entered + EXCLUDED.entered;

        -- The first RUNNING before a finishing event. Among the statement's own events
        -- first: a bulk insert (the seed) holds whole histories, and one probe of the
        -- table per finish would be a million probes there. Else (an append) the history
        -- index, walked from the job's oldest event, finds it within a few entries. (A
        -- statement adding several events, a RUNNING among them, to a history already
        -- stored would take its own RUNNING for the first: no writer does that, and the
        -- recount checks of the tests would show it.)
        -- Two MATERIALIZED steps, each once per finish, not once per bucket size: the
        -- probe, then the bin of plain columns. (With the probe in its argument the bin
        -- stayed a call, planned again on every statement: PostgreSQL does not inline a
        -- function whose body uses an argument holding a subquery more than once.)
        IF v_finishes THEN
            WITH w AS MATERIALIZED (
                SELECT n.at, coalesce(n.started,
                           (SELECT s."timestamp" FROM jobs_jobstatus s
                             WHERE s.job_id = n.job_id AND s."timestamp" < n.at
                               AND s.status_type = 'RUNNING'
                             ORDER BY s."timestamp" LIMIT 1)) AS started
                  FROM (SELECT e.job_id, e."timestamp" AS at, e.status_type,
                               min(e."timestamp") FILTER (WHERE e.status_type = 'RUNNING')
                                   OVER (PARTITION BY e.job_id ORDER BY e."timestamp") AS started
                          FROM new_rows e) AS n
                 WHERE n.status_type IN ('COMPLETED', 'FAILED')),
            f AS MATERIALIZED (
                SELECT w.at, jobs_runtime_bin(extract(epoch FROM w.at - w.started)::double precision) AS bin
                  FROM w)
            INSERT INTO jobs_runtime_rollup AS r (bucket_size, bucket_start, bin, shard, finished)
            SELECT z.size, date_trunc(z.size, f.at, 'UTC'), f.bin, v_shard, count(*)
              FROM f CROSS JOIN (VALUES ('minute'), ('hour'), ('day')) AS z(size)
             WHERE f.bin IS NOT NULL  -- no RUNNING before it: no run time
             GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
            ON CONFLICT (bucket_size, bucket_start, bin, shard)
            DO UPDATE SET finished = r.finished + EXCLUDED.finished;
        END IF;
    ELSE
        -- Events go only with their job (the model's rule, which the subtraction below
        -- relies on): a cascade runs after its job is gone, any other delete is refused.
        IF EXISTS (SELECT 1 FROM old_rows e JOIN jobs_job j ON j.id = e.job_id) THEN
            RAISE EXCEPTION 'status events are deleted only with their job'
                USING ERRCODE = 'restrict_violation';
        END IF;
        SELECT bool_or(e.status_type IN ('COMPLETED', 'FAILED')),
               bool_or(e."timestamp" < now() - interval '5 minutes')
          INTO v_finishes, v_past
          FROM old_rows e;

        INSERT INTO jobs_status_rollup AS r (bucket_size, bucket_start, status_type, shard, entered)
        SELECT z.size, date_trunc(z.size, e."timestamp", 'UTC'), e.status_type, v_shard, -count(*)
          FROM old_rows e CROSS JOIN (VALUES ('minute'), ('hour'), ('day')) AS z(size)
         GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (bucket_size, bucket_start, status_type, shard)
        DO UPDATE SET entered = r.entered + EXCLUDED.entered;

        IF v_finishes THEN
            WITH f AS MATERIALIZED (
                SELECT w.at, jobs_runtime_bin(extract(epoch FROM w.at - w.started)::double precision) AS bin
                  FROM (SELECT e."timestamp" AS at, e.status_type,
                               min(e."timestamp") FILTER (WHERE e.status_type = 'RUNNING')
                                   OVER (PARTITION BY e.job_id ORDER BY e."timestamp") AS started
                          FROM old_rows e) AS w
                 WHERE w.status_type IN ('COMPLETED', 'FAILED'))
            INSERT INTO jobs_runtime_rollup AS r (bucket_size, bucket_start, bin, shard, finished)
            SELECT z.size, date_trunc(z.size, f.at, 'UTC'), f.bin, v_shard, -count(*)
              FROM f CROSS JOIN (VALUES ('minute'), ('hour'), ('day')) AS z(size)
             WHERE f.bin IS NOT NULL
             GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
            ON CONFLICT (bucket_size, bucket_start, bin, shard)
            DO UPDATE SET finished = r.finished + EXCLUDED.finished;
        END IF;
    END IF;

    IF v_past THEN
        INSERT INTO jobs_rollup_past_shard AS p (shard, version) VALUES (v_shard, 1)
        ON CONFLICT (shard) DO UPDATE SET version = p.version + 1;
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER jobs_rollup_zpast_truncate ON jobs_jobstatus;
DROP TRIGGER jobs_rollup_zpast_delete ON jobs_jobstatus;
DROP TRIGGER jobs_rollup_zpast_insert ON jobs_jobstatus;
DROP FUNCTION jobs_rollup_past_apply();

-- TRUNCATE (test suites flush tables with it) empties the rollups too: a change to the past.
CREATE OR REPLACE FUNCTION jobs_rollup_reset() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM jobs_status_rollup;
    DELETE FROM jobs_runtime_rollup;
    INSERT INTO jobs_rollup_past_shard AS p (shard, version) VALUES (pg_backend_pid() % 16, 1)
    ON CONFLICT (shard) DO UPDATE SET version = p.version + 1;
    RETURN NULL;
END $$;
"""


def _previous(module: str, constant: str) -> str:
    """A SQL constant of an earlier migration (their names start with a digit)."""
    return getattr(importlib.import_module(f"{__package__}.{module}"), constant)


def _function(sql: str, name: str) -> str:
    """One CREATE FUNCTION of a migration's SQL, as CREATE OR REPLACE."""
    start = sql.index(f"CREATE FUNCTION {name}")
    end = sql.index("$$;", sql.index("AS $$", start) + 5) + 3
    return sql[start:end].replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def _undo() -> str:
    """0010's functions and 0011's past-changes trigger as they were."""
    rollups = _previous("0010_status_rollups", "ROLLUP_TRIGGERS")
    return "\n".join(
        [
            _function(_previous("0010_status_rollups", "RUNTIME_BIN"), "jobs_runtime_bin"),
            _function(rollups, "jobs_rollup_apply"),
            _function(rollups, "jobs_rollup_reset"),
            _previous("0011_rollup_past_changes", "PAST_CHANGE_TRIGGERS"),
        ]
    )


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0011_rollup_past_changes"),
    ]

    operations = [
        migrations.RunSQL(sql=RUNTIME_BIN + ONE_TRIGGER, reverse_sql=_undo()),
    ]
