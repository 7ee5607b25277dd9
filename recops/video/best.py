"""The sightings a track keeps as its faces: the best few, spread over its time.

An hour of video sampled once a second sees a person on hundreds of frames; a face record each
would bury everything else. A track keeps `keep` sightings: it is cut into `keep` runs of
consecutive sightings of near-equal length, and each run gives its best by quality score. So the
best of all is always kept, and a long track keeps faces from its start, middle and end (a
person who turns, or walks nearer, looks different in each).
"""

from __future__ import annotations

from .tracks import Sighting

KEEP = 3


def best_sightings(sightings: list[Sighting], keep: int = KEEP) -> list[Sighting]:
    """At most `keep` sightings, in order of time."""
    if keep < 1 or not sightings:
        return []
    count = len(sightings)
    runs = min(keep, count)
    bounds = [round(i * count / runs) for i in range(runs + 1)]
    return [max(sightings[a:b], key=lambda s: s.score) for a, b in zip(bounds, bounds[1:])]
