"""Videos made from real faces, with their truth: who is in view, where, from when to when.

The one-minute film: portraits shown in turn for known spans (slow zooms and drifts, so frames
change within a shot), cuts between them, one face hidden for a second, two faces side by side, a
shot with no face, and a pan across a group photo in which faces enter and leave the picture.
Portraits are LFW photos (../shared/faces) or, without them, the face_recognition sdist's photos
cropped around their faces; the group is ../shared/faces/group/t1.jpg, else those crops in a row.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import cv2
import numpy as np
from conftest import SHARED_FACES, face_recognition_photos
from PIL import Image

SIZE = (320, 240)
RATE = 24
PORTRAIT = 250
FACE = (67, 80, 175, 187)
"""Where the face is in a portrait of PORTRAIT pixels (LFW's are centred so; crops are made so)."""
LFW = ["Colin_Powell_0001", "Tony_Blair_0002", "Serena_Williams_0001", "Hugo_Chavez_0001", "Hugo_Chavez_0002"]
PAIR = ["Jennifer_Lopez_0001", "Ariel_Sharon_0001"]
GROUP_FACES = [
    (67, 283, 175, 390),
    (275, 176, 364, 265),
    (450, 295, 557, 402),
    (724, 367, 832, 474),
    (870, 67, 999, 196),
    (1118, 283, 1226, 390),
]
"""The faces of t1.jpg (1280x886), as dlib finds them."""
BACKGROUND = (52, 60, 70)


@dataclass
class Shot:
    start: float
    end: float
    kind: str  # portrait, pair, empty, pan
    pictures: list[np.ndarray]
    faces: list[tuple[str, tuple]]  # (label, box in its picture)
    direction: int = 1
    rows: tuple[float, float] = (0.0, 0.0)
    """For a pan: the rows of the picture it shows."""


@dataclass
class Truth:
    """A face in view: `label`, the shot it is in, and where it is at a time (None: out of view)."""

    label: str
    shot: int
    film: "Film"
    index: int

    def box(self, time: float, whole: bool = True) -> tuple | None:
        """Its box at `time`, None when it is out of view (or, `whole`, partly out of it)."""
        shot = self.film.shots[self.shot]
        if not (shot.start <= time < shot.end) or self.film.hidden(self.label, time):
            return None
        matrix = self.film.matrix(self.shot, time, self.index)
        left, top, right, bottom = shot.faces[self.index][1]
        (x0, y0), (x1, y1) = (matrix @ np.array([[left, top, 1], [right, bottom, 1]]).T).T
        if x0 < 0 or y0 < 0 or x1 > SIZE[0] or y1 > SIZE[1]:
            if whole or x1 <= 0 or y1 <= 0 or x0 >= SIZE[0] or y0 >= SIZE[1]:
                return None
        return (max(0, x0), max(0, y0), min(SIZE[0], x1), min(SIZE[1], y1))

    def span(self, step: float = 1 / RATE) -> tuple[float, float] | None:
        """The first and last time the face is wholly in view."""
        shot = self.film.shots[self.shot]
        seen = [t for t in np.arange(shot.start, shot.end, step) if self.box(t) is not None]
        return (seen[0], seen[-1]) if seen else None


class Film:
    def __init__(self, shots: list[Shot], hide: tuple[str, float, float] | None = None):
        self.shots = shots
        self.hide = hide
        self.duration = shots[-1].end
        self.cuts = [shot.start for shot in shots[1:]]
        self.truth = [
            Truth(label, number, self, index)
            for number, shot in enumerate(shots)
            for index, (label, _) in enumerate(shot.faces)
        ]

    def hidden(self, label: str, time: float) -> bool:
        return self.hide is not None and label == self.hide[0] and self.hide[1] <= time < self.hide[2]

    def shot_at(self, time: float) -> int:
        return next(i for i, shot in enumerate(self.shots) if shot.start <= time < shot.end)

    def matrix(self, number: int, time: float, index: int = 0) -> np.ndarray:
        """The affine map from picture `index` of the shot to the frame at `time`."""
        shot = self.shots[number]
        u = (time - shot.start) / (shot.end - shot.start)
        width, height = SIZE
        if shot.kind == "pan":
            picture = shot.pictures[0]
            top, bottom = shot.rows
            scale = height / (bottom - top)
            x0 = u * (picture.shape[1] - width / scale)
            return np.array([[scale, 0, -x0 * scale], [0, scale, -top * scale]])
        if shot.kind == "pair":
            scale = 0.6
            centre = (width * (0.27 + 0.46 * index), height / 2)
        else:
            scale = 0.85 + 0.15 * u
            centre = (width / 2 + shot.direction * (u - 0.5) * 40, height / 2)
        return np.array([[scale, 0, centre[0] - scale * PORTRAIT / 2], [0, scale, centre[1] - scale * PORTRAIT / 2]])

    def frame(self, time: float) -> np.ndarray:
        number = self.shot_at(time)
        shot = self.shots[number]
        canvas = np.empty((SIZE[1], SIZE[0], 3), np.uint8)
        canvas[:] = BACKGROUND
        if shot.kind == "empty":
            u = (time - shot.start) / (shot.end - shot.start)
            ramp = np.linspace(40 + 60 * u, 200, SIZE[0], dtype=np.float32)
            canvas[:] = np.stack([ramp, ramp * 0.8, ramp * 0.5], axis=-1)[None].astype(np.uint8)
            return canvas
        for index, picture in enumerate(shot.pictures):
            matrix = self.matrix(number, time, index)
            cv2.warpAffine(picture, matrix, SIZE, canvas, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_TRANSPARENT)
        if self.hide and self.hide[1] <= time < self.hide[2]:
            for truth in self.truth:
                if truth.label == self.hide[0] and truth.shot == number:
                    matrix = self.matrix(number, time, truth.index)
                    left, top, right, bottom = (matrix @ np.array([[*FACE[:2], 1], [*FACE[2:], 1]]).T).T.ravel()
                    canvas[int(top) - 10 : int(bottom) + 10, int(left) - 10 : int(right) + 10] = (90, 90, 90)
        return canvas


def _rgb(path: str) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def _crop_around_face(path: str) -> np.ndarray:
    """A PORTRAIT-pixel square with the photo's face where FACE says (found by dlib)."""
    from recops import models

    picture = _rgb(path)
    scale = min(1.0, 800 / max(picture.shape[:2]))
    small = cv2.resize(picture, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    faces = models.get_detector("dlib").detect(small)
    left, top, right, bottom = max(faces, key=lambda f: f.box[2] - f.box[0]).box
    side = (right - left) / scale * PORTRAIT / (FACE[2] - FACE[0])
    cx, cy = (left + right) / 2 / scale, (top + bottom) / 2 / scale
    matrix = np.array([[PORTRAIT / side, 0, PORTRAIT / 2 - cx * PORTRAIT / side]])
    matrix = np.vstack([matrix, [0, PORTRAIT / side, PORTRAIT / 2 - cy * PORTRAIT / side]])
    return cv2.warpAffine(picture, matrix, (PORTRAIT, PORTRAIT), flags=cv2.INTER_AREA, borderValue=BACKGROUND)


def sources() -> tuple[list[tuple[str, np.ndarray]], tuple[np.ndarray, list[tuple[str, tuple]]]]:
    """Portraits (label, picture) and the group (picture, [(label, face box)])."""
    lfw = os.path.join(SHARED_FACES, "lfw")
    group = os.path.join(SHARED_FACES, "group", "t1.jpg")
    if os.path.isdir(lfw) and os.path.isfile(group):
        portraits = [(name, _rgb(os.path.join(lfw, name.rsplit("_", 1)[0], name + ".jpg"))) for name in LFW + PAIR]
        return portraits, (_rgb(group), [(f"group{i}", box) for i, box in enumerate(GROUP_FACES)])
    folder = face_recognition_photos()
    names = ["biden.jpg", "obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "obama3.jpg", "obama2.jpg"]
    crops = {name: _crop_around_face(os.path.join(folder, name)) for name in set(names)}
    portraits = [(f"{name}#{i}", crops[name]) for i, name in enumerate(names)]
    row = np.concatenate([crops[name] for name in names[:5]], axis=1)
    faces = [(f"group{i}", (FACE[0] + i * PORTRAIT, FACE[1], FACE[2] + i * PORTRAIT, FACE[3])) for i in range(5)]
    return portraits, (row, faces)


def one_minute_film() -> Film:
    portraits, (group, group_faces) = sources()
    shots = []
    for number, (start, end) in enumerate([(0, 6), (6, 12), (12, 18), (18, 24), (24, 30)]):
        label, picture = portraits[number]
        shots.append(Shot(start, end, "portrait", [picture], [(label, FACE)], 1 if number % 2 else -1))
    shots.append(Shot(30, 34, "empty", [], []))
    pair = portraits[5:7]
    shots.append(Shot(34, 40, "pair", [p for _, p in pair], [(label, FACE) for label, _ in pair]))
    top, bottom = min(box[1] for _, box in group_faces), max(box[3] for _, box in group_faces)
    margin = 0.1 * (bottom - top)
    rows = (max(0.0, top - margin), min(group.shape[0], bottom + margin))
    shots.append(Shot(40, 60, "pan", [group], group_faces, rows=rows))
    return Film(shots, hide=(portraits[2][0], 14.3, 15.3))


CODECS = {
    "mp4": ("mp4", "libx264", {"movflags": "faststart"}),
    "mov": ("mov", "libx264", {}),
    "mkv": ("matroska", "libx264", {}),
    "webm": ("webm", "libvpx-vp9", {}),
    "avi": ("avi", "mpeg4", {}),
}


def write(path: str, frames, rate: int = RATE, size=SIZE, rotation: int = 0, gop: int = 2 * RATE) -> str:
    """Encode RGB frames into the container the path's extension names; `rotation` (degrees,
    counter-clockwise) goes in the stream's display matrix."""
    import av

    container, codec, options = CODECS[path.rsplit(".", 1)[1]]
    with av.open(path, "w", format=container, options=options) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = gop
        if codec == "libx264":
            stream.options = {"preset": "veryfast", "crf": "20"}
        elif codec == "mpeg4":
            stream.bit_rate = 1_000_000
        else:
            stream.options = {"crf": "32", "b": "0", "deadline": "realtime", "cpu-used": "8"}
        if rotation:
            stream.set_display_rotation(rotation)
        for pixels in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def film_frames(film: Film, rate: int = RATE, until: float | None = None):
    count = int(round((until or film.duration) * rate))
    return (film.frame(i / rate) for i in range(count))


def short_film() -> Film:
    """Five seconds: a portrait, a shot with no face, two faces side by side (two cuts)."""
    portraits, _ = sources()
    pair = portraits[5:7]
    return Film(
        [
            Shot(0, 2, "portrait", [portraits[0][1]], [(portraits[0][0], FACE)]),
            Shot(2, 3, "empty", [], []),
            Shot(3, 5, "pair", [p for _, p in pair], [(label, FACE) for label, _ in pair]),
        ]
    )


def who(film: Film, time: float, box, min_overlap: float = 0.3) -> str | None:
    """The label of the true face a box found at `time` is on (boxes overlap most), or None."""
    from recops.video.tracks import iou

    best, label = min_overlap, None
    for truth in film.truth:
        true_box = truth.box(time, whole=False)
        if true_box is not None and iou(true_box, box) >= best:
            best, label = iou(true_box, box), truth.label
    return label
