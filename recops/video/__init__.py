"""Video: which files are videos, what they hold, their frames, and the faces followed through them.

    containers.py  the container a file is, by its first bytes (MP4, MOV, MKV, WebM, AVI)
    reader.py      one open video: frames upright, in order, damaged stretches kept as gaps
    info.py        duration, frame rate, displayed size and codec, for the image record
    frames.py      the frame shown at a time (frame_at), and at many times in one pass
    sampling.py    which frames to search: N a second, and the first of every shot
    tracks.py      faces followed from sample to sample into tracks
    best.py        the few sightings a track keeps as its faces
    faces.py       all of it in one pass (faces_of)

FFmpeg (PyAV) is imported only when a video is opened, so tools that meet no video pay nothing.
"""

from __future__ import annotations

import importlib

from .containers import MEDIA_TYPES, sniff

_LAZY = {
    "probe": "info",
    "VideoInfo": "info",
    "frame_at": "frames",
    "frames_at": "frames",
    "faces_of": "faces",
    "VideoOptions": "faces",
    "VideoFaces": "faces",
    "Gap": "reader",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["MEDIA_TYPES", "sniff", *_LAZY]
