from __future__ import annotations

import httpx
import psycopg

# Each query counts the rows that break one invariant of DESIGN section 2; all must be 0.
INVARIANT_VIOLATIONS = {
    "job without events": """
        SELECT count(*) FROM jobs_job j
         WHERE NOT EXISTS (SELECT 1 FROM jobs_jobstatus s WHERE s.job_id = j.id)""",
    "first event not PENDING": """
        SELECT count(*) FROM jobs_job j
         WHERE (SELECT s.status_type FROM jobs_jobstatus s WHERE s.job_id = j.id
                 ORDER BY s.timestamp, s.id LIMIT 1) <> 'PENDING'""",
    "current status is not the latest event": """
        SELECT count(*) FROM jobs_job j
          JOIN LATERAL (SELECT s.status_type, s.timestamp FROM jobs_jobstatus s
                         WHERE s.job_id = j.id ORDER BY s.timestamp DESC, s.id DESC
                         LIMIT 1) latest ON true
         WHERE (latest.status_type, latest.timestamp)
               IS DISTINCT FROM (j.current_status_type, j.current_status_timestamp)""",
    "timestamps not strictly increasing in insertion order": """
        SELECT count(*) FROM (
            SELECT s.timestamp,
                   lag(s.timestamp) OVER (PARTITION BY s.job_id ORDER BY s.id) AS previous
              FROM jobs_jobstatus s) t
         WHERE t.previous >= t.timestamp""",
    "status counter differs from COUNT(*)": """
        SELECT count(*) FROM (
            SELECT statuses.status,
                   (SELECT coalesce(sum(CASE statuses.status
                                        WHEN 'PENDING' THEN c.pending
                                        WHEN 'RUNNING' THEN c.running
                                        WHEN 'COMPLETED' THEN c.completed
                                        WHEN 'FAILED' THEN c.failed END), 0)
                      FROM jobs_counter_shard c) AS counted,
                   (SELECT count(*) FROM jobs_job j
                     WHERE j.current_status_type = statuses.status) AS actual
              FROM (VALUES ('PENDING'), ('RUNNING'), ('COMPLETED'), ('FAILED'))
                   AS statuses(status)) t
         WHERE t.counted <> t.actual""",
    "event of a missing job": """
        SELECT count(*) FROM jobs_jobstatus s
         WHERE NOT EXISTS (SELECT 1 FROM jobs_job j WHERE j.id = s.job_id)""",
}


def invariant_violations(conn: psycopg.Connection) -> dict[str, int]:
    """Every invariant with the number of rows that break it (all zero when healthy)."""
    return {name: conn.execute(query).fetchone()[0] for name, query in INVARIANT_VIOLATIONS.items()}


def job_count(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT count(*) FROM jobs_job").fetchone()[0]


def create_job(api: httpx.Client, name: str = "contract-job") -> dict:
    response = api.post("/api/jobs/", json={"name": name})
    assert response.status_code == 201, response.text
    return response.json()
