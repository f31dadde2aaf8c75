"""The fixed, log-scale duration bins every histogram uses, and percentiles read from them.

Bin 0 holds durations under 1 ms; bin i (1 … N-2) holds [1 ms · √2^(i-1), 1 ms · √2^i); the last
bin holds everything from about 17 minutes up. With a factor of √2 a percentile read as its bin's
geometric middle is within ±19 % (less than one bin width) of the exact value, whatever the count:
the histograms add up across minutes, hours, days, owners and processors without losing that.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

N_BINS = 42
BASE = 0.001  # seconds
FACTOR = math.sqrt(2.0)
FIELDS = tuple(f"h{i:02d}" for i in range(N_BINS))
# Lower edge of each bin in seconds (bin 0 starts at 0).
EDGES = (0.0, *(BASE * FACTOR ** (i - 1) for i in range(1, N_BINS)))
_LOG_FACTOR = math.log(FACTOR)


def bin_of(seconds: float | None) -> int:
    """The bin a duration falls into."""
    if seconds is None or seconds < BASE:
        return 0
    index = int(math.log(seconds / BASE) / _LOG_FACTOR) + 1
    # Floating point may put an exact edge one bin low; the edges table decides.
    if index < N_BINS - 1 and seconds >= EDGES[min(index + 1, N_BINS - 1)]:
        index += 1
    return min(index, N_BINS - 1)


def bounds(index: int) -> tuple[float, float]:
    """[low, high) of a bin in seconds (the last bin's high is its low times √2, by convention)."""
    low = EDGES[index]
    high = EDGES[index + 1] if index + 1 < N_BINS else low * FACTOR
    return low, high


def middle(index: int) -> float:
    low, high = bounds(index)
    return math.sqrt(low * high) if low > 0 else high / 2


def percentile(counts: Sequence[int], q: float) -> float | None:
    """The q-th percentile (0–100) of the durations counted in `counts`, as its bin's middle."""
    total = sum(counts)
    if total <= 0:
        return None
    rank = max(1, math.ceil(q / 100.0 * total))
    seen = 0
    for index, count in enumerate(counts):
        seen += count
        if seen >= rank:
            return middle(index)
    return middle(len(counts) - 1)


def percentiles(counts: Sequence[int], qs: Sequence[float] = (50, 95, 99)) -> list[float | None]:
    return [percentile(counts, q) for q in qs]
