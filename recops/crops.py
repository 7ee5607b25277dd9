"""Face crops as JPEG: for exports, contact sheets and reports."""

from __future__ import annotations

import io

import numpy as np


def crop(pixels: np.ndarray, box, margin: float = 0.25, max_side: int | None = 300) -> np.ndarray:
    """The face with `margin` of its size around it (clipped at the image's edges), scaled down
    to at most `max_side` pixels on its long side."""
    left, top, right, bottom = (float(v) for v in box)
    pad_x, pad_y = (right - left) * margin, (bottom - top) * margin
    height, width = pixels.shape[:2]
    x0, y0 = max(0, int(left - pad_x)), max(0, int(top - pad_y))
    x1, y1 = min(width, int(right + pad_x)), min(height, int(bottom + pad_y))
    face = pixels[y0 : max(y0 + 1, y1), x0 : max(x0 + 1, x1)]
    if max_side and max(face.shape[:2]) > max_side:
        import cv2

        scale = max_side / max(face.shape[:2])
        face = cv2.resize(
            face,
            (max(1, round(face.shape[1] * scale)), max(1, round(face.shape[0] * scale))),
            interpolation=cv2.INTER_AREA,
        )
    return face


def jpeg(pixels: np.ndarray, quality: int = 88) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(out, "JPEG", quality=quality)
    return out.getvalue()
