"""Videos: containers told by content, what a video holds, its frames, samples, gaps and tracks.

Most tests use the five-second film (videos.short_film); the one-minute film, with its truth, is
made once and only for the tracks.
"""

import os

import numpy as np
import pytest
import videos
from conftest import jsonl, run

from recops.errors import InputError
from recops.store.objects import ObjectStore
from recops.video import containers, frame_at, frames_at, probe, sniff
from recops.video.best import best_sightings
from recops.video.reader import VideoReader
from recops.video.sampling import samples
from recops.video.times import clock
from recops.video.tracks import Sighting

EXPECTED = {
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "mkv": "video/x-matroska",
    "webm": "video/webm",
    "avi": "video/x-msvideo",
}


@pytest.fixture(scope="module")
def short(tmp_path_factory):
    """The short film in every container, and the film itself (for its frames and truth)."""
    folder = tmp_path_factory.mktemp("short")
    film = videos.short_film()
    paths = {ext: videos.write(str(folder / f"short.{ext}"), videos.film_frames(film), gop=12) for ext in EXPECTED}
    return film, paths


@pytest.fixture(scope="module")
def minute(tmp_path_factory):
    film = videos.one_minute_film()
    return film, videos.write(str(tmp_path_factory.mktemp("minute") / "minute.mp4"), videos.film_frames(film))


def damaged(path: str, start: float = 0.4, end: float = 0.6) -> bytes:
    """The file with the bytes from `start` to `end` (fractions of its length) zeroed."""
    data = bytearray(open(path, "rb").read())
    a, b = int(len(data) * start), int(len(data) * end)
    data[a:b] = bytes(b - a)
    return bytes(data)


# -- containers, by content


def test_each_container_is_told_by_its_first_bytes(short):
    _, paths = short
    for ext, path in paths.items():
        with open(path, "rb") as handle:
            assert sniff(handle.read(containers.HEAD)) == EXPECTED[ext], ext


def test_a_photo_is_no_video():
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"
    assert sniff(heic) is None and sniff(b"\xff\xd8\xff\xe0" + bytes(60)) is None and sniff(b"hello") is None


def test_a_renamed_video_is_a_video_and_a_text_named_mp4_is_refused(short, tmp_path):
    _, paths = short
    (tmp_path / "holiday.jpg").write_bytes(open(paths["mkv"], "rb").read())
    (tmp_path / "clip.mp4").write_text("not a video at all\n")
    result = run(["rx-import", str(tmp_path)])
    records = jsonl(result.stdout)
    (image,) = [r for r in records if r["type"] == "image"]
    assert image["media_type"] == "video/x-matroska" and image["path"].endswith("holiday.jpg")
    (error,) = [r for r in records if r["type"] == "error"]
    assert error["input"].endswith("clip.mp4") and error["kind"] == "not-an-image"
    assert "MP4" in error["reason"] and "looks like text" in error["reason"]
    assert b"clip.mp4" in result.stderr and result.returncode == 1


# -- what a video is


def test_probe_says_size_duration_rate_and_codec(short):
    _, paths = short
    info = probe(paths["mp4"])
    assert (info.media_type, info.width, info.height, info.codec) == ("video/mp4", 320, 240, "h264")
    assert info.fps == 24 and info.duration == pytest.approx(5.0, abs=0.05)
    assert probe(paths["webm"]).codec == "vp9" and probe(paths["avi"]).codec == "mpeg4"
    assert info.fields() == {"duration": info.duration, "fps": 24.0, "codec": "h264"}


def test_a_rotated_video_is_described_and_decoded_upright(short, tmp_path):
    film, _ = short
    path = videos.write(str(tmp_path / "turned.mp4"), videos.film_frames(film, until=1), rotation=90)
    info = probe(path)
    assert (info.width, info.height) == (240, 320)
    assert frame_at(path, 0.5).shape == (320, 240, 3)


def test_a_video_over_the_pixel_limit_is_refused(short):
    _, paths = short
    with pytest.raises(InputError) as caught:
        probe(paths["mp4"], max_pixels=320 * 240 - 1)
    assert caught.value.kind == "too-many-pixels"


# -- frames


def test_frame_at_is_the_frame_shown_at_that_time(short):
    film, paths = short
    for time in (0.0, 1.0, 3.5, 4.9):
        pixels = frame_at(paths["mp4"], time)
        assert pixels.shape == (240, 320, 3)
        assert np.abs(pixels.astype(int) - film.frame(time).astype(int)).mean() < 6, time
    # a frame is shown until the next starts (24 a second): 1.02 s shows the frame of 1.0 s
    assert np.array_equal(frame_at(paths["mp4"], 1.02), frame_at(paths["mp4"], 1.0))


def test_frames_at_goes_in_order_and_says_which_times_have_no_frame(short):
    _, paths = short
    found = list(frames_at(paths["mkv"], [4.0, 0.5, 9.0, 0.5], max_side=160))
    assert [time for time, _ in found] == [0.5, 4.0, 9.0]
    assert found[0][1].shape == (120, 160, 3) and found[1][1].shape == (120, 160, 3)
    assert isinstance(found[2][1], InputError) and found[2][1].kind == "no-frame"


def test_sampling_takes_n_a_second_and_the_first_frame_of_every_shot(short):
    _, paths = short
    with VideoReader(paths["mp4"]) as video:
        taken = [(round(s.time, 3), s.cut) for s in samples(video, 1.0)]
    assert [t for t, cut in taken if cut] == [0.0, 2.0, 3.0]
    assert [t for t, _ in taken] == [0.0, 1.0, 2.0, 3.0, 4.0]
    with VideoReader(paths["mp4"]) as video:
        assert len(list(samples(video, 4.0))) == 20


def test_a_damaged_stretch_is_a_gap_and_reading_goes_on(short):
    _, paths = short
    data = damaged(paths["mkv"])
    with VideoReader(data) as video:
        times = [frame.time for frame in video.frames()]
        gaps = list(video.gaps)
    assert len(gaps) == 1 and 0 < gaps[0].start < gaps[0].end < 5 and gaps[0].reason
    assert times[0] == 0 and times[-1] > 4.9  # frames after the gap are read
    assert not any(gaps[0].start < t < gaps[0].end for t in times)
    with pytest.raises(InputError) as caught:
        frame_at(data, (gaps[0].start + gaps[0].end) / 2)
    assert caught.value.kind == "damaged"


# -- rx-import


def test_rx_import_stores_a_video_and_knows_it_again(short, dataset):
    _, paths = short
    result = run(["rx-import", "-d", str(dataset), paths["mp4"]])
    assert result.returncode == 0, result.stderr
    (image,) = jsonl(result.stdout)
    assert image["media_type"] == "video/mp4" and (image["width"], image["height"]) == (320, 240)
    assert image["codec"] == "h264" and image["fps"] == 24 and image["duration"] == pytest.approx(5.0, abs=0.05)
    stored = dataset / ObjectStore.rel(image["id"])
    assert stored.read_bytes() == open(paths["mp4"], "rb").read()
    again = run(["rx-import", "-d", str(dataset), paths["mp4"]])
    assert jsonl(again.stdout)[0]["id"] == image["id"] and again.returncode == 0
    listed = jsonl(run(["rx-ls", "-d", str(dataset)]).stdout)
    assert [(r["id"], r["media_type"]) for r in listed if r["type"] == "image"] == [(image["id"], "video/mp4")]


def test_rx_import_refuses_a_cut_or_corrupt_video_and_goes_on(short, dataset, tmp_path):
    _, paths = short
    folder = tmp_path / "in"
    folder.mkdir()
    whole = open(paths["mov"], "rb").read()
    (folder / "cut.mov").write_bytes(whole[:3000])
    (folder / "garbage.mp4").write_bytes(whole[:64] + bytes(range(256)) * 40)
    (folder / "good.webm").write_bytes(open(paths["webm"], "rb").read())
    result = run(["rx-import", "-d", str(dataset), str(folder)])
    records = jsonl(result.stdout)
    errors = {os.path.basename(r["input"]): r for r in records if r["type"] == "error"}
    assert set(errors) == {"cut.mov", "garbage.mp4"} and all(e["reason"] for e in errors.values())
    assert [r["media_type"] for r in records if r["type"] == "image"] == ["video/webm"]
    assert result.returncode == 1 and b"cut.mov" in result.stderr and b"Traceback" not in result.stderr


# -- tracks and their best sightings


def test_best_sightings_are_the_best_of_each_stretch_of_a_track():
    scores = [0.1, 0.9, 0.2, 0.3, 0.4, 0.35, 0.8, 0.1, 0.2]
    track = [Sighting(float(i), (0, 0, 10, 10), quality={"score": s}) for i, s in enumerate(scores)]
    assert [s.time for s in best_sightings(track, 3)] == [1.0, 4.0, 6.0]
    assert [s.time for s in best_sightings(track[:2], 3)] == [0.0, 1.0] and best_sightings(track, 0) == []


def test_tracks_follow_each_true_face_of_the_minute(minute):
    from recops.video import VideoOptions, faces_of

    film, path = minute
    found = faces_of(path, "dlib", VideoOptions(fps=2))
    assert found.cuts == [0.0] + film.cuts and found.gaps == [] and found.frames == 60 * videos.RATE
    owners = []
    for track in found.tracks:
        labels = [videos.who(film, s.time, s.box) for s in track.sightings]
        assert len(set(labels)) == 1 and None not in labels, labels  # no sighting of another person
        owners.append(labels[0])
    still = [t.label for t in film.truth if film.shots[t.shot].kind != "pan"]
    for label in still:  # a face that stays in view is one track, however long it is hidden
        assert owners.count(label) == 1, (label, owners)
    for truth in film.truth:
        if film.shots[truth.shot].kind == "pan" and (truth.span() or (0, 0))[1] - (truth.span() or (0, 0))[0] > 2:
            assert 1 <= owners.count(truth.label) <= 2, (truth.label, owners)
    for track in found.tracks:
        assert 1 <= len(track.best) <= 3 and track.best == sorted(track.best, key=lambda s: s.time)


# -- videos through the pipeline


def test_a_face_on_a_video_names_its_frame():
    from recops.pixels import FIRST, Picture
    from recops.stages.detection import face_id

    at = Picture.of({"time": 65.4004})
    assert at == Picture(time=65.4) and at.fields == {"time": 65.4} and at.key == "|time=65.400"
    assert at.label(1, [60.0, 70.2]) == "01:05, in view 01:00–01:10" and Picture(time=3725.0).label() == "1:02:05"
    assert Picture.of({"time": True}) == FIRST and Picture.of({"time": -1}) == FIRST and FIRST.fields == {}
    image = "0" * 32
    ids = {face_id(image, "dlib", True, (1, 2, 3, 4), picture) for picture in (FIRST, at, Picture(time=65.401))}
    assert len(ids) == 3 and face_id(image, "dlib", True, (1, 2, 3, 4)) == face_id(
        image, "dlib", True, (1, 2, 3, 4), FIRST
    )


def test_a_frame_is_decoded_through_pixels_as_frame_at_gives_it(short):
    from recops.pixels import FIRST, Picture, face_pictures, load_rgb, picture_size

    _, paths = short
    data = open(paths["mp4"], "rb").read()
    pixels, scale = load_rgb(data, picture=Picture(time=3.5))
    assert scale == 1.0 and np.array_equal(pixels, frame_at(data, 3.5))
    small, scale = load_rgb(data, max_side=160, picture=Picture(time=3.5))
    assert small.shape == (120, 160, 3) and scale == 0.5
    assert np.array_equal(load_rgb(data, picture=FIRST)[0], frame_at(data, 0.0)) and picture_size(data) == (320, 240)
    faces = [
        {"box": [10, 10, 50, 50], "time": 4.0},
        {"box": [0, 0, 20, 20], "time": 1.0},
        {"box": [8, 8, 40, 40], "time": 4.0},
    ]
    decoded = list(face_pictures(data, faces, max_side=160))
    assert [indices for indices, _, _ in decoded] == [[1], [0, 2]]
    assert decoded[1][2][0]["box"] == [5, 5, 25, 25] and np.array_equal(decoded[1][1], small_at(data, 4.0))


def small_at(data: bytes, time: float) -> np.ndarray:
    from recops.pixels import fit

    return fit(frame_at(data, time), 160)[0]


def test_rx_detect_follows_faces_through_a_video_and_the_pipeline_reads_their_frames(short, dataset):
    _, paths = short
    imported = run(["rx-import", "-d", str(dataset), paths["mp4"]])
    detected = run(["rx-detect", "--fps", "2", "--keep", "2"], input=imported.stdout)
    assert detected.returncode == 0, detected.stderr
    records = jsonl(detected.stdout)
    faces = [r for r in records if r["type"] == "face"]
    (detection,) = [r for r in records if r["type"] == "detection"]
    assert detection["fps"] == 2 and detection["cuts"] == [0.0, 2.0, 3.0] and detection["tracks"] == 3
    assert detection["samples"] == 10 and "gaps" not in detection and detection["faces"] == [f["id"] for f in faces]
    by_track = {}
    for face in faces:
        by_track.setdefault(face["track"], []).append(face)
        assert face["span"][0] <= face["time"] <= face["span"][1]
    assert sorted(by_track) == [0, 1, 2] and all(len(f) == 2 for f in by_track.values())
    assert by_track[0][0]["span"] == [0.0, 1.5] and by_track[1][0]["span"] == [3.0, 4.5]
    assert len({f["id"] for f in faces}) == 6
    embedded = run(["rx-embed"], input=detected.stdout)
    assert embedded.returncode == 0, embedded.stderr
    vectors = {r["face"]: np.asarray(r["vector"]) for r in jsonl(embedded.stdout) if r["type"] == "embedding"}
    assert set(vectors) == {f["id"] for f in faces}
    for track in by_track.values():  # the sightings of one track are one person
        assert np.linalg.norm(vectors[track[0]["id"]] - vectors[track[1]["id"]]) < 0.45
    clustered = run(["rx-cluster", "-d", str(dataset)])
    clusters = [set(r["faces"]) for r in jsonl(clustered.stdout) if r["type"] == "cluster"]
    for track in by_track.values():
        assert any({f["id"] for f in track} <= cluster for cluster in clusters), clusters
    again = run(["rx-detect", "-d", str(dataset)], input=imported.stdout)
    assert [r["id"] for r in jsonl(again.stdout) if r["type"] == "face"] == [f["id"] for f in faces]


def test_a_damaged_video_gives_the_faces_of_what_decodes_and_says_what_was_lost(short, tmp_path):
    _, paths = short
    path = tmp_path / "damaged.mkv"
    path.write_bytes(damaged(paths["mkv"], 0.3, 0.55))
    result = run(["rx-detect", "--fps", "2", str(path)])
    records = jsonl(result.stdout)
    (detection,) = [r for r in records if r["type"] == "detection"]
    (error,) = [r for r in records if r["type"] == "error"]
    assert detection["gaps"] and all(g["start"] < g["end"] and g["reason"] for g in detection["gaps"])
    assert error["kind"] == "damaged" and "video damaged from" in error["reason"]
    faces = [r for r in records if r["type"] == "face"]
    assert faces and all(not (g["start"] <= f["time"] < g["end"]) for f in faces for g in detection["gaps"])
    assert result.returncode == 1 and b"damaged" in result.stderr


def test_a_report_and_the_web_interface_show_a_video_face_at_its_time(short, dataset, tmp_path):
    from recops.store.dataset import Dataset
    from recops.webui import pages
    from recops.webui.snapshot import Snapshot

    _, paths = short
    imported = run(["rx-import", "-d", str(dataset), paths["mp4"]])
    detected = run(["rx-detect", "--fps", "2", "--keep", "1"], input=imported.stdout)
    run(["rx-embed"], input=detected.stdout)
    clustered = run(["rx-cluster", "-d", str(dataset)])
    report = tmp_path / "report.html"
    done = run(["rx-report", "-d", str(dataset), "-o", str(report)], input=clustered.stdout)
    assert done.returncode == 0, done.stderr
    html = report.read_text()
    faces = [r for r in jsonl(detected.stdout) if r["type"] == "face"]
    assert len(faces) == 3
    for face in faces:
        (start, end), time = face["span"], face["time"]
        assert f"short.mp4, {clock(time)}, in view {clock(start)}–{clock(end)}" in html
    listed = run(["rx-ls", "faces", "-d", str(dataset), "-f", "json"])
    assert sorted(r["time"] for r in jsonl(listed.stdout)) == sorted(f["time"] for f in faces)
    matched = run(["rx-match", "-d", str(dataset)], input=listed.stdout)
    recognised = tmp_path / "matches.html"
    done = run(["rx-report", "-d", str(dataset), "-o", str(recognised)], input=matched.stdout)
    assert done.returncode == 0, done.stderr
    frames = recognised.read_text()  # a frame of one face says when that face is in view
    alone = [f for f in faces if sum(g["time"] == f["time"] for g in faces) == 1]
    assert alone and all(f"short.mp4, {clock(f['time'])}, in view {clock(f['span'][0])}–" in frames for f in alone)
    shared = [f for f in faces if f not in alone]  # a frame of two tracks says no one span
    assert shared and all(f"short.mp4, {clock(f['time'])}<" in frames.replace('"', "<") for f in shared)
    with Dataset.open(str(dataset)) as opened:
        snap = Snapshot.read(opened)
    image = jsonl(imported.stdout)[0]["id"]
    times = sorted({f["time"] for f in faces})
    assert [p.time for p in pages.pictures_of(snap, image)] == times and len(times) == 2
    shown = pages.image(snap, "key", image, 2)
    assert len(shown["faces"]) == 2 and [p["label"] for p in shown["pages"]] == [clock(t) for t in times]
    assert shown["photo"]["src"].endswith("?page=2") and all(c["page"] == 2 for c in shown["faces"])
