"""When, where and with what a photo was taken: EXIF read through Pillow, every value checked."""

import io
import json

import pytest
from conftest import make_jpeg, run
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from recops.photometa import describe, exif_time
from recops.shapes import problem

EXIF_IFD, GPS_IFD = 0x8769, 0x8825


def exif_of(make="Canon", model="Canon EOS 5D", original=None, digitized=None, plain=None, offsets=(), gps=None):
    exif = Image.Exif()
    for tag, value in ((0x010F, make), (0x0110, model), (0x0132, plain)):
        if value is not None:
            exif[tag] = value
    sub = exif.get_ifd(EXIF_IFD)
    for tag, value in ((0x9003, original), (0x9004, digitized), *offsets):
        if value is not None:
            sub[tag] = value
    if gps is not None:
        exif.get_ifd(GPS_IFD).update(gps)
    return exif.tobytes()


def dms(degrees, minutes, seconds):
    return (IFDRational(degrees), IFDRational(minutes), IFDRational(int(seconds * 100), 100))


SYDNEY = {1: "S", 2: dms(33, 51, 35.64), 3: "E", 4: dms(151, 12, 36.0), 5: b"\x00", 6: IFDRational(58)}


def test_date_place_and_camera_of_a_photo():
    data = make_jpeg(1, exif=exif_of(original="2019:05:04 13:22:10", offsets=[(0x9011, "+02:00")], gps=SYDNEY))
    assert describe(data) == {
        "taken": "2019-05-04T13:22:10+02:00",
        "latitude": -33.8599,
        "longitude": 151.21,
        "altitude": 58.0,
        "camera_make": "Canon",
        "camera_model": "Canon EOS 5D",
    }


def test_the_date_falls_back_to_digitized_then_to_datetime_each_with_its_own_offset():
    both = exif_of(digitized="2018:01:02 03:04:05", plain="2020:01:01 00:00:00", offsets=[(0x9012, "-05:30")])
    assert describe(make_jpeg(2, exif=both))["taken"] == "2018-01-02T03:04:05-05:30"
    plain = exif_of(plain="2020:07:08 09:10:11", offsets=[(0x9011, "+01:00"), (0x9010, "+09:00")])
    assert describe(make_jpeg(3, exif=plain))["taken"] == "2020-07-08T09:10:11+09:00"
    broken_original = exif_of(original="0000:00:00 00:00:00", digitized="2017:06:07 08:09:10")
    assert describe(make_jpeg(4, exif=broken_original))["taken"] == "2017-06-07T08:09:10"


@pytest.mark.parametrize(
    "value, offset, expected",
    [
        ("2019:05:04 13:22:10", None, "2019-05-04T13:22:10"),
        ("2019:05:04 13:22:10\x00", "+02:00\x00", "2019-05-04T13:22:10+02:00"),
        (b"2019:05:04 13:22:10", b"-03:00", "2019-05-04T13:22:10-03:00"),
        ("2019:05:04 13:22:10", "+25:00", "2019-05-04T13:22:10"),  # no such offset: the time stays
        ("2019:02:30 13:22:10", None, None),
        ("0000:00:00 00:00:00", None, None),
        ("1800:01:01 00:00:00", None, None),  # before photography: a placeholder
        ("    :  :     :  :  ", None, None),
        ("yesterday", None, None),
        (20190504, None, None),
    ],
)
def test_exif_times_must_be_real_times(value, offset, expected):
    assert exif_time(value, offset) == expected


@pytest.mark.parametrize(
    "gps",
    [
        {**SYDNEY, 2: dms(95, 0, 0)},  # beyond a pole
        {**SYDNEY, 4: dms(181, 0, 0)},
        {**SYDNEY, 1: "Q"},  # no hemisphere: it could be either
        {k: v for k, v in SYDNEY.items() if k != 1},
        {**SYDNEY, 2: (IFDRational(33, 0), IFDRational(0), IFDRational(0))},  # a zero denominator
        {**SYDNEY, 2: dms(33, 75, 0)},  # 75 minutes
        {1: "N", 2: dms(0, 0, 0), 3: "E", 4: dms(0, 0, 0)},  # 0, 0: a receiver without a fix
        {**SYDNEY, 9: "V"},  # GPSStatus void
    ],
)
def test_an_unsound_position_is_left_out_and_the_rest_kept(gps):
    found = describe(make_jpeg(5, exif=exif_of(original="2019:05:04 13:22:10", gps=gps)))
    assert "latitude" not in found and "longitude" not in found and "altitude" not in found
    assert found["taken"] == "2019-05-04T13:22:10" and found["camera_make"] == "Canon"


def test_altitude_below_the_sea_and_out_of_range():
    below = describe(make_jpeg(6, exif=exif_of(gps={**SYDNEY, 5: b"\x01", 6: IFDRational(431, 2)})))
    assert below["altitude"] == -215.5
    space = describe(make_jpeg(6, exif=exif_of(gps={**SYDNEY, 6: IFDRational(10**9)})))
    assert "altitude" not in space and space["latitude"] == -33.8599


def test_text_from_a_camera_is_cleaned_and_bounded():
    found = describe(make_jpeg(7, exif=exif_of(make="  NIKON\x00", model="D810\x1b[31m" + "x" * 500)))
    assert found["camera_make"] == "NIKON"
    assert found["camera_model"].startswith("D810 [31mx") and len(found["camera_model"]) == 128
    assert "camera_make" not in describe(make_jpeg(8, exif=exif_of(make="\x00\x00 ")))


def test_a_broken_exif_block_gives_no_metadata_and_the_photo_imports(tmp_path):
    broken = b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff" + bytes(range(256)) * 4
    data = make_jpeg(9, exif=broken)
    assert describe(data) == {}
    assert describe(b"not an image") == {}
    (tmp_path / "broken.jpg").write_bytes(data)
    result = run(["rx-import", str(tmp_path / "broken.jpg")])
    (image,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 0 and image["type"] == "image" and "taken" not in image


@pytest.mark.parametrize("form", ["PNG", "WEBP", "TIFF"])
def test_any_format_pillow_opens_carries_its_exif(form):
    if form == "WEBP" and not Image.registered_extensions().get(".webp"):
        pytest.skip("this Pillow was built without WebP")
    out = io.BytesIO()
    Image.new("RGB", (20, 10), (1, 2, 3)).save(out, form, exif=exif_of(original="2021:12:31 23:59:59", gps=SYDNEY))
    found = describe(out.getvalue())
    assert found["taken"] == "2021-12-31T23:59:59" and found["latitude"] == -33.8599


def test_imported_images_carry_their_metadata_and_the_door_checks_it(tmp_path):
    path = tmp_path / "sydney.jpg"
    path.write_bytes(make_jpeg(10, exif=exif_of(original="2019:05:04 13:22:10", gps=SYDNEY)))
    (image,) = [json.loads(line) for line in run(["rx-import", str(path)]).stdout.splitlines()]
    assert (image["taken"], image["latitude"]) == ("2019-05-04T13:22:10", -33.8599)
    assert image["camera_model"] == "Canon EOS 5D"
    assert problem(image) is None
    for field, wrong in (
        ("latitude", 91.0),
        ("longitude", float("inf")),
        ("taken", "2019-02-30T00:00:00"),
        ("taken", "last may"),
        ("altitude", "high"),
        ("camera_make", ""),
        ("regions", [{"name": "Jane", "box": [3, 1, 2, 4]}]),
        ("regions", [{"box": [1, 1, 2, 2]}]),
        ("regions_source", "guess"),
    ):
        assert f"{field} must be" in problem(image | {field: wrong}), field
