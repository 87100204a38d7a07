"""The one smoothing rule of every recording flag: stretches of per-sample findings, at least k of n consecutive
samples, lasting at least a minimum time."""

from __future__ import annotations

from collections.abc import Sequence


def stretches(
    hits: Sequence[bool], *, step_s: float, min_seconds: float, k: int = 1, n: int = 1, end_s: float | None = None
) -> list[tuple[float, float]]:
    """(start_s, end_s) of each stretch of ``hits``, sample i standing for [i·step_s, (i+1)·step_s).

    A window of n consecutive samples with at least k hits makes a stretch from its first hit to its last one (misses
    between them included: with 2 of 3, one missed detection does not split a stretch); overlapping or touching
    windows make one stretch. A stretch shorter than ``min_seconds`` is dropped. ``end_s`` (the recording's end)
    clips the last sample's span.
    """
    if k < 1 or n < k:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    on = [False] * len(hits)
    window = 0
    for i, hit in enumerate(hits):
        window += hit
        if i >= n:
            window -= hits[i - n]
        if window >= k:
            first = max(0, i - n + 1)
            inside = [j for j in range(first, i + 1) if hits[j]]
            for j in range(inside[0], inside[-1] + 1):
                on[j] = True
    found: list[tuple[float, float]] = []
    i = 0
    while i < len(on):
        if not on[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(on) and on[j + 1]:
            j += 1
        start, stop = i * step_s, (j + 1) * step_s
        if end_s is not None:
            stop = min(stop, end_s)
        if stop - start >= min_seconds - 1e-9:
            found.append((round(start, 3), round(stop, 3)))
        i = j + 1
    return found
