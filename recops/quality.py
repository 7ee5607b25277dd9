"""How far a face can be trusted: its size, sharpness and pose, as measures and one score.

Measured where the face is found (rx-detect has its pixels), into the face record's `quality`:

    eyes       pixels between the eyes, in the full image (a face's size that pose changes little)
    sharpness  the variance of the Laplacian of the face, grey, at SIDE pixels across: under about
               20 a face is blurred, above a few hundred it is sharp
    yaw        how far the nose sits from the middle of the eyes, in eye distances: 0 frontal,
               0.5 and more a face turned well aside (null when the detector gives no nose)
    roll       the tilt of the line through the eyes, in degrees
    score      one number from 0 to 1: the geometric mean of the size, sharpness and pose scores,
               so a face that fails one of them scores low

The bands (LOW, below which a face is `low`, and HIGH) are what reports and --min-quality speak of.
"""

from __future__ import annotations

import math

import numpy as np

SIDE = 64
LOW = 0.4
HIGH = 0.7
EYES = (8.0, 32.0)
"""Eye distances (pixels) from which the size score rises from 0, and at which it is 1."""
SHARPNESS = (20.0, 400.0)
"""Laplacian variances from which the sharpness score rises from 0 (on a log scale), and at which it is 1."""
TURNED = 0.6
"""A yaw at which the pose score reaches 0."""


def _point(landmarks: dict, name: str) -> tuple[float, float] | None:
    value = landmarks.get(name)
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
        return float(value[0]), float(value[1])
    return None


def _sharpness(pixels: np.ndarray, box) -> float:
    """The variance of the Laplacian of the face's box, grey, resampled to SIDE x SIDE."""
    height, width = pixels.shape[:2]
    left, top, right, bottom = (int(round(v)) for v in box)
    left, top, right, bottom = max(0, left), max(0, top), min(width, right), min(height, bottom)
    if right - left < 2 or bottom - top < 2:
        return 0.0
    crop = pixels[top:bottom, left:right].astype(np.float32)
    grey = crop @ np.array([0.299, 0.587, 0.114], np.float32) if crop.ndim == 3 else crop
    rows = np.linspace(0, grey.shape[0] - 1, SIDE).round().astype(int)
    cols = np.linspace(0, grey.shape[1] - 1, SIDE).round().astype(int)
    small = grey[np.ix_(rows, cols)]
    laplacian = small[1:-1, :-2] + small[1:-1, 2:] + small[:-2, 1:-1] + small[2:, 1:-1] - 4 * small[1:-1, 1:-1]
    return float(laplacian.var())


def _rising(value: float, low: float, high: float) -> float:
    return min(1.0, max(0.0, (value - low) / (high - low)))


def measure(pixels: np.ndarray, box, landmarks: dict | None, scale: float = 1.0) -> dict:
    """The quality of a face whose `box` and `landmarks` are in `pixels`; `scale` turns those
    pixels into the full image's (eye distances are told in the full image)."""
    landmarks = landmarks or {}
    left_eye, right_eye, nose = (_point(landmarks, n) for n in ("left_eye", "right_eye", "nose"))
    if left_eye and right_eye:
        eyes = math.dist(left_eye, right_eye)
        roll = math.degrees(math.atan2(left_eye[1] - right_eye[1], left_eye[0] - right_eye[0]))
    else:  # no eyes given: about 0.4 of the box's width, as for a frontal face
        eyes, roll = 0.4 * (box[2] - box[0]), None
    yaw = None
    if nose and left_eye and right_eye and eyes > 0:
        middle = ((left_eye[0] + right_eye[0]) / 2, (left_eye[1] + right_eye[1]) / 2)
        axis = ((left_eye[0] - right_eye[0]) / eyes, (left_eye[1] - right_eye[1]) / eyes)
        yaw = abs((nose[0] - middle[0]) * axis[0] + (nose[1] - middle[1]) * axis[1]) / eyes
    sharpness = _sharpness(pixels, box)
    scores = [
        _rising(eyes * scale, *EYES),
        _rising(math.log(max(sharpness, 1e-6)), *(math.log(v) for v in SHARPNESS)),
        1.0 if yaw is None else max(0.0, 1.0 - yaw / TURNED),
    ]
    return {
        "eyes": round(eyes * scale, 1),
        "sharpness": round(sharpness, 1),
        "yaw": None if yaw is None else round(yaw, 3),
        "roll": None if roll is None else round(roll, 1),
        "score": round(math.prod(scores) ** (1 / len(scores)), 3),
    }


def band(score: float | None) -> str | None:
    """low, medium or high; None for a face measured before quality was (no score)."""
    if score is None:
        return None
    return "low" if score < LOW else "medium" if score < HIGH else "high"


def score_of(face: dict) -> float | None:
    quality = face.get("quality")
    return quality.get("score") if isinstance(quality, dict) else None
