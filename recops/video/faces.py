"""A video's faces as the library sees them: sampled frames, faces found, tracks, best sightings.

One pass over the video: every frame is decoded, a few are sampled (sampling.py), the detector
runs on each sample at most `max_side` pixels across, each face is measured (quality.py) and
followed into a track (tracks.py), and each track keeps its best sightings (best.py). Boxes and
landmarks are in the pixels of the frame as displayed, at full size; times in seconds from the
start, to the millisecond, so frames.frame_at(time) gives the picture a box was found on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import models
from ..models.base import Detector
from ..quality import measure
from . import best, sampling, tracks
from .reader import Gap, Source, VideoReader

FPS = 1.0
MAX_SIDE = 1280


@dataclass(frozen=True)
class VideoOptions:
    fps: float = FPS
    """Frames sampled a second (cuts add their first frames)."""
    keep: int = best.KEEP
    """Sightings kept per track."""
    max_side: int = MAX_SIDE
    """Frames are searched at most this large (long side); boxes are mapped back to full size."""
    min_size: int = 0
    """Faces narrower or shorter than this many pixels (of the full frame) are dropped."""
    cut: float = sampling.CUT
    min_iou: float = tracks.MIN_IOU
    max_gap: float = tracks.MAX_GAP
    max_pixels: int | None = None


@dataclass
class VideoFaces:
    tracks: list[tracks.Track]
    gaps: list[Gap]
    """Stretches that could not be decoded."""
    cuts: list[float] = field(default_factory=list)
    samples: int = 0
    frames: int = 0
    """Frames decoded."""
    size: tuple[int, int] | None = None
    """The displayed width and height of the frames searched."""


def faces_of(source: Source, detector: str | Detector, options: VideoOptions = VideoOptions()) -> VideoFaces:
    """The tracks of faces in a video (bytes, a path or a binary file), each with its best sightings."""
    found = detector if not isinstance(detector, str) else models.get_detector(detector)
    tracker = tracks.Tracker(options.min_iou, options.max_gap)
    result = VideoFaces([], [])
    with VideoReader(source, options.max_pixels) as video:
        for sample in sampling.samples(video, options.fps, options.cut):
            time = round(sample.time, 3)
            if sample.cut:
                tracker.cut()
                result.cuts.append(time)
            result.samples += 1
            result.size = sample.frame.size
            tracker.add(time, _sightings(sample.frame, time, found, options))
        result.gaps = list(video.gaps)
        result.frames = video.decoded
    result.tracks = tracker.tracks()
    for track in result.tracks:
        track.best = best.best_sightings(track.sightings, options.keep)
    return result


def _sightings(frame, time: float, detector: Detector, options: VideoOptions) -> list[tracks.Sighting]:
    pixels, scale = frame.pixels(options.max_side)
    back = 1.0 / scale
    sightings = []
    for face in detector.detect(pixels):
        quality = measure(pixels, face.box, face.landmarks, back)
        full = face.scaled(back)
        left, top, right, bottom = full.box
        if min(right - left, bottom - top) >= options.min_size:
            sightings.append(tracks.Sighting(time, full.box, full.confidence, full.landmarks, full.method, quality))
    return sightings
