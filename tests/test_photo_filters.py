"""rx-ls chooses images by when, where and with what they were taken."""

import json

import pytest
from conftest import make_jpeg, run
from PIL import Image
from PIL.TiffImagePlugin import IFDRational
from typer.testing import CliRunner

from recops.cli import ls as ls_cli
from recops.errors import UsageError
from recops.photofilter import distance_km, period, photo_filter

runner = CliRunner()


def exif(taken=None, offset=None, place=None, make=None, model=None) -> bytes:
    data = Image.Exif()
    if make:
        data[0x010F] = make
    if model:
        data[0x0110] = model
    if taken:
        data.get_ifd(0x8769)[0x9003] = taken
    if offset:
        data.get_ifd(0x8769)[0x9011] = offset
    if place:
        (lat, lon) = place
        data.get_ifd(0x8825).update(
            {
                1: "N" if lat >= 0 else "S",
                2: (IFDRational(int(abs(lat) * 10**6), 10**6), IFDRational(0), IFDRational(0)),
                3: "E" if lon >= 0 else "W",
                4: (IFDRational(int(abs(lon) * 10**6), 10**6), IFDRational(0), IFDRational(0)),
            }
        )
    return data.tobytes()


PHOTOS = {
    # name: taken (local), offset, place, make, model
    "eiffel.jpg": ("2019:05:04 23:30:00", "+02:00", (48.8584, 2.2945), "Apple", "iPhone XS"),
    "louvre.jpg": ("2019:05:05 00:10:00", "+02:00", (48.8606, 2.3376), "Canon", "Canon EOS 5D"),
    "sydney.jpg": ("2019:05:05 08:00:00", "+10:00", (-33.8568, 151.2153), "Canon", "Canon EOS 5D"),
    "scan.jpg": ("2001:01:01 12:00:00", None, None, None, None),
    "bare.jpg": (None, None, None, None, None),
}


@pytest.fixture
def listed(dataset, tmp_path):
    for n, (name, (taken, offset, place, make, model)) in enumerate(PHOTOS.items()):
        (tmp_path / name).write_bytes(make_jpeg(n, exif=exif(taken, offset, place, make, model)))
    assert run(["rx-import", "-d", str(dataset), *(str(tmp_path / name) for name in PHOTOS)]).returncode == 0

    def names(*options):
        result = run(["rx-ls", "images", "-d", str(dataset), "-f", "json", *options])
        assert result.returncode == 0, result.stderr
        return sorted(json.loads(line)["paths"][0].rsplit("/", 1)[1] for line in result.stdout.splitlines())

    return names


def test_dates_are_local_and_periods_whole(listed):
    assert listed("--taken-after", "2019-05-05") == ["louvre.jpg", "sydney.jpg"]  # 00:10 in Paris is the 5th
    assert listed("--taken-before", "2019-05-04") == ["eiffel.jpg", "scan.jpg"]  # to the end of the 4th
    assert listed("--taken-after", "2019-05", "--taken-before", "2019-05") == ["eiffel.jpg", "louvre.jpg", "sydney.jpg"]
    assert listed("--taken-after", "2019-05-05T00:10") == ["louvre.jpg", "sydney.jpg"]
    assert listed("--taken-after", "2019-05-05T00:10:01") == ["sydney.jpg"]
    assert listed("--taken-before", "2000") == []
    assert len(listed()) == 5


def test_near_a_place_and_by_camera(listed):
    assert listed("--near", "48.8584,2.2945,1") == ["eiffel.jpg"]
    assert listed("--near", "48.8584,2.2945,5") == ["eiffel.jpg", "louvre.jpg"]
    assert listed("--near", "-33.86,151.21,20000") == ["eiffel.jpg", "louvre.jpg", "sydney.jpg"]
    assert listed("--camera", "eos") == ["louvre.jpg", "sydney.jpg"]
    assert listed("--camera", "iphone", "--near", "48.8584,2.2945,5") == ["eiffel.jpg"]
    assert listed("--camera", "canon", "--taken-after", "2019-05-05T01:00") == ["sydney.jpg"]


def test_the_table_shows_when_where_and_with_what(listed, dataset, monkeypatch):
    monkeypatch.setattr("recops.cli.common.stdout_is_terminal", lambda: True)
    result = runner.invoke(ls_cli.app, ["images", "-d", str(dataset), "--camera", "apple"])
    header, row = result.stdout.splitlines()[:2]
    assert header.split()[5:9] == ["taken", "camera", "place", "path"]
    assert "2019-05-04 23:30" in row and "iPhone XS" in row and "48.8584,2.2945" in row


@pytest.mark.parametrize(
    "options, message",
    [
        (["--taken-after", "May 2019"], "give a date"),
        (["--taken-before", "2019-02-30"], "day is out of range"),
        (["--near", "48.8,2.3"], "give LAT,LON,KM"),
        (["--near", "98,2.3,5"], "latitude -90 to 90"),
        (["--near", "48,2.3,-1"], "kilometres over 0"),
    ],
)
def test_wrong_filters_are_usage_errors(dataset, options, message):
    result = runner.invoke(ls_cli.app, ["images", "-d", str(dataset), *options])
    assert result.exit_code == 2 and message in result.stderr


def test_filters_choose_images_only(dataset):
    result = runner.invoke(ls_cli.app, ["faces", "-d", str(dataset), "--camera", "eos"])
    assert result.exit_code == 2 and "give KIND images" in result.stderr


def test_periods_and_distances():
    assert period("2019", "x") == ("2019-01-01T00:00:00", "2020-01-01T00:00:00")
    assert period("2019-12", "x") == ("2019-12-01T00:00:00", "2020-01-01T00:00:00")
    assert period("2020-02-29 23:59", "x") == ("2020-02-29T23:59:00", "2020-03-01T00:00:00")
    assert period("9999-12-31", "x")[1] == "9999-12-31T23:59:59"
    with pytest.raises(UsageError):
        period("0000-01-01", "x")
    assert distance_km(48.8584, 2.2945, 48.8606, 2.3376) == pytest.approx(3.17, abs=0.01)
    assert distance_km(0, 0, 0, 180) == pytest.approx(20015.1, abs=0.1)
    assert not photo_filter().active and photo_filter(camera_text="x").active
