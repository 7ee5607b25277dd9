"""What a video is: container, codec, displayed size, duration and frame rate, checked against limits.

The first frame is decoded, so a video whose codec FFmpeg lacks, or whose start is garbage, is
refused at import; the rest is read at detection, where a damaged stretch becomes a gap.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError
from . import limits
from .reader import Source, VideoReader


@dataclass(frozen=True)
class VideoInfo:
    media_type: str
    width: int
    height: int
    """As displayed: the stream's rotation and sample aspect ratio applied."""
    duration: float | None
    fps: float | None
    codec: str

    def fields(self) -> dict:
        """The image record's video fields."""
        found = {"duration": self.duration, "fps": self.fps, "codec": self.codec}
        return {k: v for k, v in found.items() if v is not None}


def probe(source: Source, max_pixels: int | None = None) -> VideoInfo:
    """Describe a video; raises InputError when it cannot be read or is over a limit."""
    with VideoReader(source, max_pixels) as video:
        duration = video.duration
        if duration is not None and duration > limits.MAX_DURATION:
            raise InputError(
                "too-long",
                f"{duration / 3600:.1f} hours of video, over the limit of {limits.MAX_DURATION // 3600} hours",
            )
        first = _first_frame(video)
        width, height = first.size
        fps = video.rate
        return VideoInfo(
            video.media_type,
            width,
            height,
            None if duration is None else round(duration, 3),
            None if fps is None else round(fps, 3),
            video.codec,
        )


def _first_frame(video: VideoReader):
    frames = video.frames()
    for frame in frames:
        frames.close()
        return frame
    reason = video.gaps[0].reason if video.gaps else "no frame in it"
    raise InputError("corrupt", f"no frame of the video decodes: {reason}")
