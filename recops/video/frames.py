"""Frames at given times: what a player shows at each, found again exactly for a face's box.

The frame shown at a time is the last one that starts at or before it. Times in order are read
in one pass, seeking ahead only past SEEK_AHEAD seconds of frames that would otherwise be decoded
for nothing; a seek lands on the key frame before the time, and decoding goes on from there.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np

from ..errors import InputError
from .reader import TOLERANCE, Frame, Source, VideoReader

SEEK_AHEAD = 5.0


class _Cursor:
    """Walks a reader's frames to each time asked, in order, seeking where that is cheaper."""

    def __init__(self, video: VideoReader):
        self.video = video
        self.frames: Iterator[Frame] | None = None
        self.shown: Frame | None = None  # the last frame that starts at or before the time asked
        self.next: Frame | None = None  # the frame after it, read ahead

    def _restart(self, time: float) -> None:
        self.video.seek(time)
        self.frames = self.video.frames()
        self.shown = None
        self.next = next(self.frames, None)
        if self.next is not None and self.next.time > time + TOLERANCE and time > 0:
            self.video.seek(0)  # an index that places key frames badly: read from the start
            self.frames = self.video.frames()
            self.next = next(self.frames, None)

    def at(self, time: float) -> Frame:
        if self.frames is None or (self.shown is not None and time < self.shown.time - TOLERANCE):
            self._restart(time)
        elif self.next is not None and time - self.next.time > SEEK_AHEAD:
            self._restart(time)
        while self.next is not None and self.next.time <= time + TOLERANCE:
            self.shown, self.next = self.next, next(self.frames, None)
        if self.shown is None:
            raise InputError("no-frame", f"no frame at {time:.3f} s (the video starts later)")
        if self._within(time):
            raise InputError("damaged", f"the frame at {time:.3f} s does not decode (the video is damaged there)")
        period = 1.0 / self.video.rate if self.video.rate else 1.0
        if self.next is None and time > self.shown.time + period + TOLERANCE:
            raise InputError("no-frame", f"no frame at {time:.3f} s (the video ends at {self.shown.time:.3f} s)")
        return self.shown

    def _within(self, time: float) -> bool:
        return any(gap.start - TOLERANCE <= time < gap.end for gap in self.video.gaps)


def frames_at(
    source: Source, times: Iterable[float], max_side: int | None = None, max_pixels: int | None = None
) -> Iterator[tuple[float, np.ndarray | InputError]]:
    """(time, upright RGB array) for each time, in order of time; a time with no frame (past the
    end, in a damaged stretch) comes with an InputError in place of the array."""
    with VideoReader(source, max_pixels) as video:
        cursor = _Cursor(video)
        for time in sorted(set(times)):
            try:
                yield time, cursor.at(time).pixels(max_side)[0]
            except InputError as exc:
                yield time, exc


def frame_at(source: Source, time: float, max_pixels: int | None = None) -> np.ndarray:
    """The upright RGB frame a player shows at `time` seconds, at full size; raises InputError."""
    ((_, pixels),) = frames_at(source, [time], max_pixels=max_pixels)
    if isinstance(pixels, InputError):
        raise pixels
    return pixels
