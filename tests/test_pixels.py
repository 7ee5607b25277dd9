import io

import numpy as np
import pytest
from PIL import Image

from recops.pixels import fit, load_rgb


def encoded(image: Image.Image, fmt: str = "PNG", **save) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "LA", "CMYK", "I;16", "1"])
def test_every_mode_becomes_8_bit_rgb(mode):
    image = Image.new(mode, (7, 5))
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    pixels, scale = load_rgb(encoded(image, fmt))
    assert pixels.shape == (5, 7, 3) and pixels.dtype == np.uint8 and scale == 1.0


def test_16_bit_is_scaled_not_clipped():
    values = np.array([[0, 32768, 65535]], dtype=np.uint16)
    pixels, _ = load_rgb(encoded(Image.fromarray(values)))
    assert pixels[0, :, 0].tolist() == [0, 128, 255]


def test_transparent_pixels_show_white():
    image = Image.new("RGBA", (2, 1), (255, 0, 0, 0))
    pixels, _ = load_rgb(encoded(image))
    assert pixels[0, 0].tolist() == [255, 255, 255]


def test_exif_orientation_turns_the_pixels_upright():
    exif = Image.Exif()
    exif[0x0112] = 6
    pixels, _ = load_rgb(encoded(Image.new("RGB", (30, 10)), "JPEG", exif=exif.tobytes()))
    assert pixels.shape == (30, 10, 3)


def test_large_jpeg_decodes_at_reduced_scale_and_says_so():
    pixels, scale = load_rgb(encoded(Image.new("RGB", (1600, 1200)), "JPEG"), max_side=400)
    assert pixels.shape == (300, 400, 3) and scale == 0.25


def test_fit_scales_down_only():
    image = np.zeros((100, 400, 3), np.uint8)
    small, scale = fit(image, 200)
    assert small.shape == (50, 200, 3) and scale == 0.5
    same, one = fit(image, 1000)
    assert same is image and one == 1.0


def test_the_faces_of_an_image_are_decoded_once_per_picture_they_are_on(monkeypatch):
    import recops.pixels as pixels

    pages = [Image.new("RGB", (60, 40), colour) for colour in ("red", "green", "blue")]
    data = encoded(pages[0], "TIFF", save_all=True, append_images=pages[1:])
    calls = []
    real = pixels.load_rgb
    monkeypatch.setattr(pixels, "load_rgb", lambda *a, **k: calls.append(k.get("picture", a[-1])) or real(*a, **k))
    faces = [{"box": [0, 0, 20, 20], "page": 2}, {"box": [10, 10, 50, 30]}, {"box": [30, 0, 50, 20], "page": 2}]
    found = [(indices, px[0, 0].tolist(), on) for indices, px, on in pixels.face_pictures(data, faces, sharp=10)]
    assert [indices for indices, _, _ in found] == [[1], [0, 2]] and len(calls) == 2
    assert [colour for _, colour, _ in found] == [[255, 0, 0], [0, 0, 255]]
    assert [face for _, _, on in found for face in on] == [faces[1], faces[0], faces[2]]  # a TIFF decodes whole


def test_decoding_checks_recops_limit_from_the_header_not_pillows(monkeypatch):
    from recops.errors import InputError
    from recops.imageinfo import MAX_PIXELS_ENV

    data = encoded(Image.new("RGB", (20, 20)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow's would refuse it, and it is not Pillow's to say
    assert load_rgb(data)[0].shape == (20, 20, 3) and Image.MAX_IMAGE_PIXELS == 100
    monkeypatch.setenv(MAX_PIXELS_ENV, "399")
    with pytest.raises(InputError) as refused:
        load_rgb(data)
    assert refused.value.kind == "too-many-pixels" and MAX_PIXELS_ENV in refused.value.reason
