"""The run-time histogram's bins and the percentiles interpolated from them."""

import math
import random
from collections import Counter

import pytest

from shared.domain import rollups


def histogram(runs: list[float]) -> list[tuple[int, int]]:
    return sorted(Counter(rollups.bin_of(run) for run in runs).items())


def nearest_rank(runs: list[float], q: float) -> float:
    ordered = sorted(runs)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@pytest.mark.parametrize("seed", range(20))
def test_each_percentile_is_within_the_stated_error_of_the_true_one(seed):
    spread = random.Random(seed)
    runs = [spread.lognormvariate(math.log(600), 1.5) for _ in range(spread.randint(1, 400))]
    p50, p95, top = rollups.quantiles((0.5, 0.95, 1.0), histogram(runs))
    assert p50 is not None and p95 is not None and top is not None
    for q, estimate in ((0.5, p50), (0.95, p95), (1.0, top)):
        true = nearest_rank(runs, q)
        assert abs(estimate - true) <= rollups.RELATIVE_ERROR * true + 1e-9, (q, estimate, true)
    assert max(runs) <= top <= max(runs) * (1 + rollups.RELATIVE_ERROR)


def test_interpolation_is_linear_inside_the_bin_as_histogram_quantile():
    k = rollups.bin_of(100.0)
    low, high = rollups.lower_bound(k), rollups.upper_bound(k)
    # Four runs in one bin: the median's rank 2 is halfway through it.
    assert rollups.quantiles((0.5,), [(k, 4)]) == [pytest.approx(low + (high - low) / 2)]
    # Ranks in two bins: the first bin's 1 run, then 3 in the next.
    assert rollups.quantiles((0.25, 0.5), [(k, 1), (k + 1, 3)]) == [
        pytest.approx(high),
        pytest.approx(high + (rollups.upper_bound(k + 1) - high) / 3),
    ]


def test_no_run_has_no_percentile():
    assert rollups.quantiles((0.5, 1.0), []) == [None, None]


@pytest.mark.parametrize(
    ("seconds", "k"),
    [(0.0, 0), (0.0005, 0), (0.001, 0), (0.00101, 1), (0.002, 8), (1e12, rollups.LAST_BIN)],
)
def test_bins_grow_eight_per_doubling_from_a_millisecond(seconds, k):
    assert rollups.bin_of(seconds) == k
