"""One open video: its container, its first video stream, and its frames, upright, in order of time.

Every source is opened as a file object with FFmpeg's demuxer named (containers.py), so FFmpeg
never opens another file or URL that a video names. A damaged stretch (a packet that does not
decode, a read error, a frame flagged corrupt, a frame over the pixel limit, a file cut short) is
skipped and kept as a Gap with its time span; decoding goes on after it.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from fractions import Fraction
from typing import BinaryIO, Iterator, Union

import numpy as np

from ..errors import InputError
from ..imageinfo import default_max_pixels
from . import containers, limits

Source = Union[bytes, bytearray, memoryview, str, os.PathLike, BinaryIO]

BUFFER = 1 << 20
TOLERANCE = 0.0006
"""Seconds within which two times name the same frame: times in records are kept to the millisecond."""


@dataclass(frozen=True)
class Gap:
    """A stretch of a video that could not be decoded, from `start` to `end` seconds."""

    start: float
    end: float
    reason: str


@dataclass
class Frame:
    """A decoded frame and its time in seconds from the video's start."""

    time: float
    frame: object
    """The av.VideoFrame; pixels() makes it an upright RGB array."""
    rotation: int
    aspect: Fraction

    @property
    def size(self) -> tuple[int, int]:
        """Width and height as displayed: the sample aspect ratio and the rotation applied."""
        width, height = _stretched(self.frame.width, self.frame.height, self.aspect)
        return (height, width) if self.rotation % 180 else (width, height)

    def pixels(self, max_side: int | None = None) -> tuple[np.ndarray, float]:
        """An upright HxWx3 uint8 RGB array, at most `max_side` on its long side, and its scale
        against the displayed size (<= 1)."""
        width, height = _stretched(self.frame.width, self.frame.height, self.aspect)
        scale = min(1.0, max_side / max(width, height)) if max_side else 1.0
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        if size == (self.frame.width, self.frame.height):
            array = self.frame.to_ndarray(format="rgb24")
        else:
            array = self.frame.to_ndarray(format="rgb24", width=size[0], height=size[1], interpolation="AREA")
        if self.rotation:
            array = np.rot90(array, self.rotation // 90)
        return np.ascontiguousarray(array), size[0] / width

    def grey(self, width: int, height: int) -> np.ndarray:
        """A small grey picture of the frame, as stored (for telling shots apart, rotation is no matter)."""
        return self.frame.to_ndarray(format="gray", width=width, height=height, interpolation="AREA")


def _stretched(width: int, height: int, aspect: Fraction) -> tuple[int, int]:
    if aspect and aspect != 1:
        return max(1, round(width * aspect)), height
    return width, height


def _av():
    import av

    av.logging.set_level(av.logging.PANIC)  # damage is reported as gaps, not as FFmpeg's lines on stderr
    return av


def _open_file(source: Source) -> tuple[BinaryIO, bool]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(source), True
    if isinstance(source, (str, os.PathLike)):
        try:
            return open(source, "rb"), True
        except OSError as exc:
            raise InputError("unreadable", f"cannot read: {exc.strerror or exc}") from None
    return source, False


class VideoReader:
    """A video opened for reading; use it as a context manager."""

    def __init__(self, source: Source, max_pixels: int | None = None):
        self.max_pixels = max_pixels or default_max_pixels()
        self._file, self._owned = _open_file(source)
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        self.gaps: list[Gap] = []
        self.decoded = 0

    def _open(self) -> None:
        av = _av()
        self._file.seek(0)
        head = self._file.read(containers.HEAD)
        self._file.seek(0)
        self.media_type = containers.sniff(head)
        if self.media_type is None:
            raise InputError("not-a-video", "not a video container recops reads (MP4, MOV, MKV, WebM, AVI)")
        try:
            self.container = av.open(self._file, "r", format=containers.demuxer(self.media_type), buffer_size=BUFFER)
        except av.FFmpegError as exc:
            raise InputError("corrupt", f"unreadable video container: {exc.strerror or exc}") from None
        if not self.container.streams.video:
            raise InputError("no-video", "the container holds no video stream (only sound?)")
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "AUTO"
        context = self.stream.codec_context
        if context.width * context.height > self.max_pixels:
            raise InputError(
                "too-many-pixels",
                f"frames of {context.width}x{context.height} = {context.width * context.height:,} pixels, over "
                f"the limit of {self.max_pixels:,} (raise it with --max-pixels)",
            )
        base = self.stream.time_base
        start = self.stream.start_time
        self.start = float(start * base) if start is not None and base else 0.0
        self.aspect = self.stream.sample_aspect_ratio or Fraction(1)
        self.codec = context.name

    @property
    def duration(self) -> float | None:
        """Seconds, as the container says (None when it does not)."""
        if self.stream.duration and self.stream.time_base:
            return float(self.stream.duration * self.stream.time_base)
        if self.container.duration:
            return self.container.duration / 1_000_000 - max(0.0, self.start)
        return None

    @property
    def rate(self) -> float | None:
        """Frames per second, as the stream says."""
        rate = self.stream.average_rate or self.stream.guessed_rate
        return float(rate) if rate else None

    def seek(self, time: float) -> None:
        """Make frames() start at the key frame at or before `time` (seconds from the start)."""
        base = self.stream.time_base
        target = int((max(0.0, time) + self.start) / base) if base else 0
        try:
            self.container.seek(target, stream=self.stream, backward=True)
        except _av().FFmpegError:
            self.container.seek(0, stream=self.stream, backward=True)

    def frames(self) -> Iterator[Frame]:
        """The frames that decode, from where the reader stands, in order of time; damage is added
        to `gaps`. Stops at MAX_FRAMES frames or MAX_DURATION seconds, with a gap to the end."""
        av = _av()
        packets = self.container.demux(self.stream)
        period = 1.0 / self.rate if self.rate and self.rate > 0 else 0.04
        jump = max(limits.MISSING, 4 * period)
        last = None  # the time of the last good frame
        damage: str | None = None
        errors = 0
        while errors < limits.MAX_ERRORS:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.FFmpegError as exc:  # the demuxer lost its place; a fresh demux resynchronises
                damage, errors = damage or f"unreadable data ({exc.strerror or exc})", errors + 1
                packets = self.container.demux(self.stream)
                continue
            try:
                decoded = packet.decode()
            except av.FFmpegError as exc:
                damage, errors = damage or f"a packet that does not decode ({exc.strerror or exc})", errors + 1
                continue
            for raw in decoded:
                time = self._time(raw, last, period)
                if raw.is_corrupt:
                    damage, errors = damage or "frames damaged in the file", errors + 1
                    continue
                if raw.width * raw.height > self.max_pixels:
                    damage = f"a frame of {raw.width}x{raw.height}, over the limit of {self.max_pixels:,} pixels"
                    errors += 1
                    continue
                if last is not None and time <= last:
                    continue  # a repeated or backward time stamp: the frame shown is the one before
                if self.decoded >= limits.MAX_FRAMES or time > limits.MAX_DURATION:
                    self._gap(time, max(time, self.duration or time), "over the limit of frames read")
                    return
                expected = 0.0 if last is None else last + period
                if damage is not None and time - expected > period / 2:
                    self._gap(expected, time, damage)
                elif time - expected > jump:  # frames a demuxer skipped without a word
                    self._gap(expected, time, "frames missing: damaged in the file")
                damage, errors, last = None, 0, time
                self.decoded += 1
                yield Frame(time, raw, _rotation(raw), self.aspect)
        end = self.duration
        expected = 0.0 if last is None else last + period
        if damage is not None:
            self._gap(expected, max(end or 0.0, expected), damage)
        elif end is not None and end - expected > jump:
            self._gap(expected, end, "the file ends before the video does (cut short)")

    def _gap(self, start: float, end: float, reason: str) -> None:
        self.gaps.append(Gap(round(start, 3), round(end, 3), reason))

    def _time(self, raw, last: float | None, period: float) -> float:
        if raw.pts is None or raw.time is None:
            return 0.0 if last is None else last + period
        return float(raw.time) - self.start

    def close(self) -> None:
        container = getattr(self, "container", None)
        if container is not None:
            if getattr(self, "stream", None) is not None:
                self.stream.codec_context.flush_buffers()
            container.close()
        if self._owned:
            self._file.close()

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _rotation(raw) -> int:
    """The quarter turns (in degrees, counter-clockwise) that show the frame upright."""
    try:
        degrees = raw.rotation
    except Exception:  # a display matrix that is not a rotation: show the frame as stored
        return 0
    return (round(degrees / 90) * 90) % 360 if degrees else 0
