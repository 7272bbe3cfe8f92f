"""As-of sums: "how much of X had happened for this key strictly before time t?"

Point-in-time correctness rests on this one structure. Events (a key, a time, some values) are
sorted once by ``(key, time)`` and summed cumulatively; a query for ``(key, t)`` is two binary
searches, so millions of lines are featurised in seconds and no event at or after ``t`` can
reach a feature of a line whose cut-off is ``t``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["AsOfCounter", "TIME_BITS", "first_of_each"]

#: Times are stored relative to the earliest event in 32 bits of a composite int64 key, so
#: histories up to ~136 years in seconds are supported.
TIME_BITS = 32
_TIME_MAX = (1 << TIME_BITS) - 1


class AsOfCounter:
    """Cumulative sums of event values per integer key, queryable at any time.

    Parameters
    ----------
    keys:
        Non-negative integer key of each event (e.g. a product code), ``< 2**31``.
    times:
        Event times as int64 seconds.
    values:
        ``(n_events, n_values)`` array (or 1-D for one value) summed by :meth:`query`.
    names:
        Optional names of the value columns.
    """

    def __init__(self, keys: np.ndarray, times: np.ndarray, values: np.ndarray,
                 names: list[str] | None = None):
        keys = np.asarray(keys, dtype=np.int64)
        times = np.asarray(times, dtype=np.int64)
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 1:
            values = values[:, None]
        if not (keys.shape[0] == times.shape[0] == values.shape[0]):
            raise ValueError("keys, times and values must have the same length")
        if keys.size and keys.min() < 0:
            raise ValueError("keys must be non-negative (missing keys must be dropped first)")
        self.names = names or [f"v{i}" for i in range(values.shape[1])]
        self.origin = int(times.min()) if times.size else 0
        composite = self._composite(keys, times)
        order = np.argsort(composite)  # ties (same key and time) sum the same on either side
        self._composite_sorted = composite[order]
        del composite
        # rows gathered straight into the result, then summed in place: no temporary copy
        # (``mode="clip"`` keeps ``take`` from buffering its output; ``order`` is in range)
        self._cum = np.empty((values.shape[0] + 1, values.shape[1]))
        self._cum[0] = 0.0
        np.take(values, order, axis=0, out=self._cum[1:], mode="clip")
        np.cumsum(self._cum[1:], axis=0, out=self._cum[1:])

    def _composite(self, keys: np.ndarray, times: np.ndarray) -> np.ndarray:
        relative = np.clip(times - self.origin, 0, _TIME_MAX)
        return (keys << TIME_BITS) | relative

    def query(self, keys: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Sums of the values of events with the same key and a time strictly before ``times``.

        Keys that never occur (or are negative, meaning "unknown") give zeros.
        """
        keys = np.asarray(keys, dtype=np.int64)
        times = np.asarray(times, dtype=np.int64)
        unknown = keys < 0
        safe_keys = np.where(unknown, 0, keys)
        end = np.searchsorted(self._composite_sorted, self._composite(safe_keys, times), side="left")
        start = np.searchsorted(self._composite_sorted, safe_keys << TIME_BITS, side="left")
        out = self._cum[end] - self._cum[start]
        out[unknown] = 0.0
        return out

    def query_offsets(self, keys: np.ndarray, times: np.ndarray, offsets: list[int],
                      columns: list[slice | None], *, per_pair: bool = False):
        """Several :meth:`query` at ``times - offset`` for each offset, sharing the work.

        Distinct ``(key, time)`` pairs are searched once, the start of each key once for every
        offset, and only the requested ``columns`` are gathered (``None``: all).

        With ``per_pair`` the results are not spread back to the queries: returns
        ``(results, codes, first)`` where ``results`` has one row per distinct pair, query ``i``
        is pair ``codes[i]`` and pair ``j`` is query ``first[j]``.
        """
        keys = np.asarray(keys, dtype=np.int64)
        times = np.asarray(times, dtype=np.int64)
        composite = np.where(keys < 0, -1, self._composite(np.maximum(keys, 0), times))
        codes, first = first_of_each(composite)
        unique_keys, unique_times = keys[first], times[first]
        unknown = unique_keys < 0
        safe = np.where(unknown, 0, unique_keys)
        start = np.searchsorted(self._composite_sorted, safe << TIME_BITS, side="left")
        results = []
        for offset, cols in zip(offsets, columns):
            end = np.searchsorted(self._composite_sorted, self._composite(safe, unique_times - offset), side="left")
            cum = self._cum if cols is None else self._cum[:, cols]
            values = cum[end] - cum[start]
            values[unknown] = 0.0
            results.append(values if per_pair else values[codes])
        return (results, codes, first) if per_pair else results

    def query_unique(self, keys: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Same as :meth:`query`, computed once per distinct ``(key, time)`` pair."""
        keys = np.asarray(keys, dtype=np.int64)
        times = np.asarray(times, dtype=np.int64)
        composite = np.where(keys < 0, -1, self._composite(np.maximum(keys, 0), times))
        codes, first = first_of_each(composite)
        return self.query(keys[first], times[first])[codes]


def first_of_each(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, first)``: ``values == values[first][codes]``, one ``first`` per distinct value.

    The distinct values come in ascending order, so the binary searches that follow walk the
    sorted events in order (several times faster than in line order on millions of lines).
    """
    uniques, codes = np.unique(values, return_inverse=True)
    first = np.empty(len(uniques), dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)
    return codes, first
