"""Faces followed from sampled frame to sampled frame: one track per person per shot.

A face found on a sample continues the track whose predicted box (its last box, moved on at the
speed it moved between its last two sightings) it overlaps most, when that overlap (IoU) is
MIN_IOU or more, and, given a distance and vectors on both, when they are within it (cosine):
two people who pass the same spot stay apart. Pairs are taken best overlap first, each track and each
face once. A track that is not seen for more than MAX_GAP seconds (someone turned away, walked
behind a post) ends, and every track ends at a cut.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MIN_IOU = 0.25
MAX_GAP = 2.5


@dataclass
class Sighting:
    """One face on one sampled frame: box and landmarks in the displayed frame's pixels."""

    time: float
    box: tuple[int, int, int, int]
    confidence: float = 0.0
    landmarks: dict = field(default_factory=dict)
    method: str = ""
    quality: dict | None = None
    vector: np.ndarray | None = None

    @property
    def score(self) -> float:
        """How good a picture of the face this is: its quality score, else its detector confidence."""
        if self.quality and self.quality.get("score") is not None:
            return float(self.quality["score"])
        return float(self.confidence) / 10


@dataclass
class Track:
    sightings: list[Sighting] = field(default_factory=list)
    best: list[Sighting] = field(default_factory=list)
    """The sightings kept as its faces (best.py)."""

    @property
    def start(self) -> float:
        return self.sightings[0].time

    @property
    def end(self) -> float:
        return self.sightings[-1].time

    def predicted(self, time: float) -> tuple[float, ...]:
        last = self.sightings[-1]
        if len(self.sightings) < 2 or time <= last.time:
            return last.box
        before = self.sightings[-2]
        elapsed = last.time - before.time
        if elapsed <= 0:
            return last.box
        # Move on at the last speed, for no longer than the last step took: a guess, not a model.
        factor = min(1.0, (time - last.time) / elapsed)
        return tuple(b + (b - a) * factor for a, b in zip(before.box, last.box))


def iou(a, b) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    return 1.0 - float(np.dot(a, b)) / norms if norms else 1.0


class Tracker:
    """Fed the faces of each sample in order of time (and each cut), holds the tracks."""

    def __init__(self, min_iou: float = MIN_IOU, max_gap: float = MAX_GAP, max_distance: float | None = None):
        """`max_distance`: the cosine distance between two sightings' vectors beyond which they are
        not one person (a model's match threshold); None: vectors are not compared."""
        self.min_iou = min_iou
        self.max_gap = max_gap
        self.max_distance = max_distance
        self.active: list[Track] = []
        self.ended: list[Track] = []

    def cut(self) -> None:
        """A new shot: nobody seen before it continues after it."""
        self.ended.extend(self.active)
        self.active = []

    def add(self, time: float, faces: list[Sighting]) -> None:
        """The faces found on the sample at `time`."""
        still = [t for t in self.active if time - t.end <= self.max_gap]
        self.ended.extend(t for t in self.active if time - t.end > self.max_gap)
        self.active = still
        pairs = []
        for i, track in enumerate(self.active):
            predicted = track.predicted(time)
            for j, face in enumerate(faces):
                overlap = iou(predicted, face.box)
                if overlap >= self.min_iou and self._alike(track, face):
                    pairs.append((overlap, i, j))
        taken_tracks, taken_faces = set(), set()
        for _, i, j in sorted(pairs, reverse=True):
            if i not in taken_tracks and j not in taken_faces:
                self.active[i].sightings.append(faces[j])
                taken_tracks.add(i)
                taken_faces.add(j)
        for j, face in enumerate(faces):
            if j not in taken_faces:
                self.active.append(Track([face]))

    def _alike(self, track: Track, face: Sighting) -> bool:
        if self.max_distance is None:
            return True
        last = next((s.vector for s in reversed(track.sightings) if s.vector is not None), None)
        return last is None or face.vector is None or _cosine(last, face.vector) <= self.max_distance

    def tracks(self) -> list[Track]:
        """Every track, ended or not, in order of its first sighting."""
        return sorted(self.ended + self.active, key=lambda t: (t.start, t.sightings[0].box))
