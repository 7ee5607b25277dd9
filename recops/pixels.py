"""Image bytes to the pixels models see: RGB, 8 bits, upright, and small enough to search quickly.

Every mode a JPEG or PNG can carry is brought to 8-bit RGB: greyscale, palette, alpha (laid on
white, as a viewer shows it), CMYK, and 16-bit (scaled, not clipped). EXIF orientation is applied,
so boxes are in the coordinates of the image as people see it.
"""

from __future__ import annotations

import io

import numpy as np

DEFAULT_MAX_SIDE = 1600


def load_rgb(data: bytes, max_side: int | None = None, scale: float | None = None) -> tuple[np.ndarray, float]:
    """Decode to an upright HxWx3 uint8 array, and its scale against the full image (<= 1).

    With `max_side` (or `scale`), a large JPEG is decoded at a reduced scale (libjpeg's DCT
    scaling, several times faster) that keeps its long side at or above `max_side` (or at or
    above `scale` times the full size)."""
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as image:
        full = max(image.size)
        ratio = min(max_side / full if max_side else 1.0, scale or 1.0)
        if image.format == "JPEG" and ratio <= 0.5:
            image.draft("RGB", (max(1, int(image.size[0] * ratio)), max(1, int(image.size[1] * ratio))))
        image = ImageOps.exif_transpose(image)
        pixels = _to_rgb(image)
    return pixels, max(pixels.shape[:2]) / full


def _to_rgb(image) -> np.ndarray:
    from PIL import Image

    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or values.max(initial=0) > 255 else 255.0
        grey = np.clip(np.rint(values * (255.0 / top)), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    if mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image)


def fit(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """The image scaled so its long side is at most `max_side`, and the scale used (<= 1)."""
    height, width = image.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    if scale >= 1.0:
        return image, 1.0
    import cv2

    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale
