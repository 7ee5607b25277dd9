"""Which frames to look at: `fps` a second, and the first frame of every shot.

Every frame is decoded (a video's frames depend on each other), but only a small grey picture of
each is made: a cut is a frame whose picture differs from the last one's by CUT grey levels or
more on average, and by RATIO times what the frames before it changed (a fast pan changes every
frame a lot, and is no cut). A cut between two samples adds a sample at it, so no shot is missed
however short, and tracks end there.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ..errors import UsageError
from .reader import TOLERANCE, Frame, VideoReader

GREY = (32, 18)
CUT = 20.0
RATIO = 3.0
HISTORY = 8
MAX_FPS = 60.0


@dataclass
class Sample:
    frame: Frame
    cut: bool
    """The first frame of a shot (the video's first frame is one)."""

    @property
    def time(self) -> float:
        return self.frame.time


def check_fps(fps: float) -> float:
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and 0 < fps <= MAX_FPS):
        raise UsageError(f"frames a second to sample: give a number above 0 and at most {MAX_FPS:g}, not {fps!r}")
    return float(fps)


class CutFinder:
    """Fed the small grey picture of every frame in turn, tells which starts a new shot."""

    def __init__(self, cut: float = CUT, ratio: float = RATIO):
        self.cut = cut
        self.ratio = ratio
        self.previous: np.ndarray | None = None
        self.changes: deque[float] = deque(maxlen=HISTORY)

    def is_cut(self, grey: np.ndarray) -> bool:
        grey = grey.astype(np.int16)
        previous, self.previous = self.previous, grey
        if previous is None or previous.shape != grey.shape:
            self.changes.clear()
            return True
        change = float(np.abs(grey - previous).mean())
        usual = sum(self.changes) / len(self.changes) if self.changes else 0.0
        self.changes.append(change)
        if change >= self.cut and change >= self.ratio * usual:
            self.changes.clear()
            return True
        return False


def samples(video: VideoReader, fps: float, cut: float = CUT) -> Iterator[Sample]:
    """The sampled frames of a video, in order: the first frame at or after each regular sample
    time, and the first frame of each shot."""
    step = 1.0 / check_fps(fps)
    due = 0.0
    finder = CutFinder(cut)
    for frame in video.frames():
        is_cut = finder.is_cut(frame.grey(*GREY))
        if is_cut or frame.time + TOLERANCE >= due:
            yield Sample(frame, is_cut)
            while due <= frame.time + TOLERANCE:
                due = round(due + step, 6)
