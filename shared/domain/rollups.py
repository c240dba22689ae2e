"""What the status rollups count, and the run-time histogram's bins.

The rollups (models StatusRollup, RunTimeRollup) are kept by triggers on the events table
(migrations 0010, 0012) in the transaction of every write; the query service's stats read
only them. The bins are written here once for Python; `jobs_runtime_bin` (migration 0012)
is the same function in SQL (numeric logarithms), and a test holds the two to the same
bin inside every bin; exactly on a bound, float and numeric may round to neighbours.
"""

import math

from shared.domain.enums import JobStatusType

# Bucket sizes of the rollups, each with its length in seconds. Buckets are aligned to
# UTC (a day is a UTC day), so a bucket is the same for every reader.
BUCKET_SECONDS = {"minute": 60, "hour": 3_600, "day": 86_400}

# The statuses whose event ends a run: a run time is taken at each of them.
FINISHING = (JobStatusType.COMPLETED.value, JobStatusType.FAILED.value)

# Bin k > 0 holds run times in (SMALLEST * GROWTH**(k-1), SMALLEST * GROWTH**k]; bin 0
# holds [0, SMALLEST]. Eight bins per doubling, as Prometheus' native histograms' schema 3.
BINS_PER_DOUBLING = 8
SMALLEST_SECONDS = 0.001
# 2**40 ms is about 35 years: every later run time is counted in this last bin.
LAST_BIN = 40 * BINS_PER_DOUBLING
GROWTH = 2 ** (1 / BINS_PER_DOUBLING)
# An estimate interpolated inside a bin is off from the true value by at most the bin's
# width: relative to the value, GROWTH - 1 (9.05%); in bin 0, SMALLEST_SECONDS.
RELATIVE_ERROR = GROWTH - 1


def bin_of(seconds: float) -> int:
    """The bin a run time falls in (the SQL function jobs_runtime_bin, in Python)."""
    if seconds <= SMALLEST_SECONDS:
        return 0
    return min(LAST_BIN, math.ceil(BINS_PER_DOUBLING * math.log2(seconds / SMALLEST_SECONDS)))


def upper_bound(k: int) -> float:
    """The largest run time bin k holds."""
    return SMALLEST_SECONDS * GROWTH**k


def lower_bound(k: int) -> float:
    """Where bin k starts (exclusive; bin 0 holds 0 itself)."""
    return 0.0 if k == 0 else upper_bound(k - 1)


# Every bin's bounds, computed once: a stats read interpolates in thousands of bins.
_BOUNDS = [(lower_bound(k), upper_bound(k)) for k in range(LAST_BIN + 1)]


def quantiles(qs: tuple[float, ...], bins: list[tuple[int, int]]) -> list[float | None]:
    """The q-quantiles (0 < q <= 1, ascending) of the run times counted in `bins` ((bin,
    count) pairs, ascending bins), interpolated as Prometheus' histogram_quantile does:
    find the bin where the rank q * total falls, and go linearly from its lower to its
    upper bound. None without a run time. q = 1 is the upper bound of the highest bin
    counted: at or above the true maximum, by at most the bin's width. One pass for all."""
    total = sum(count for _, count in bins)
    if total <= 0:
        return [None] * len(qs)
    ranks = [q * total for q in qs]
    found: list[float | None] = []
    below = 0
    for k, count in bins:
        reached = below + count
        while count > 0 and reached >= ranks[len(found)]:
            low, high = _BOUNDS[k]
            found.append(low + (high - low) * (ranks[len(found)] - below) / count)
            if len(found) == len(ranks):
                return found
        below = reached
    last = _BOUNDS[bins[-1][0]][1]  # ranks past the counts (rounding): the top bound
    return found + [last] * (len(qs) - len(found))


_SIZES = ", ".join(f"('{size}')" for size in BUCKET_SECONDS)
# What the rollups should hold, recounted from the events, against what they hold: each
# query counts the (size, bucket, key) whose sums differ, so all must be 0. The
# concurrency tests check them after their bursts; at scale each reads every event.
RECOUNT_DIFFERENCES = {
    "status rollup differs from a recount of the events": f"""
        SELECT count(*) FROM (
            SELECT bucket_size AS size, bucket_start AS start, status_type AS key,
                   sum(entered) AS n
              FROM jobs_status_rollup GROUP BY 1, 2, 3 HAVING sum(entered) <> 0) AS kept
          FULL JOIN (
            SELECT z.size, date_trunc(z.size, e."timestamp", 'UTC') AS start,
                   e.status_type AS key, count(*) AS n
              FROM jobs_jobstatus e CROSS JOIN (VALUES {_SIZES}) AS z(size)
             GROUP BY 1, 2, 3) AS recounted USING (size, start, key)
         WHERE kept.n IS DISTINCT FROM recounted.n""",
    "run-time histogram differs from a recount of the events": f"""
        SELECT count(*) FROM (
            SELECT bucket_size AS size, bucket_start AS start, bin AS key,
                   sum(finished) AS n
              FROM jobs_runtime_rollup GROUP BY 1, 2, 3 HAVING sum(finished) <> 0) AS kept
          FULL JOIN (
            SELECT z.size, date_trunc(z.size, f."timestamp", 'UTC') AS start,
                   jobs_runtime_bin(extract(epoch FROM f."timestamp" - (
                       SELECT min(s."timestamp") FROM jobs_jobstatus s
                        WHERE s.job_id = f.job_id AND s.status_type = 'RUNNING'
                          AND s."timestamp" < f."timestamp"))::double precision) AS key,
                   count(*) AS n
              FROM jobs_jobstatus f CROSS JOIN (VALUES {_SIZES}) AS z(size)
             WHERE f.status_type IN ('COMPLETED', 'FAILED')
               AND EXISTS (SELECT 1 FROM jobs_jobstatus s
                            WHERE s.job_id = f.job_id AND s.status_type = 'RUNNING'
                              AND s."timestamp" < f."timestamp")
             GROUP BY 1, 2, 3) AS recounted USING (size, start, key)
         WHERE kept.n IS DISTINCT FROM recounted.n""",
}
