import io
import os
import struct
import zlib

import msgpack
from conftest import jsonl, make_jpeg, run, shared_photo
from PIL import Image

from recops.stages.importing import Importer
from recops.store.dataset import Dataset
from recops.stream import Emitter


def png_bomb(width: int, height: int) -> bytes:
    """A tiny, valid PNG whose header claims width x height pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def import_core(dataset, paths, **options):
    records = []
    with Dataset.open(str(dataset)) as ds:
        with Importer(ds, Emitter(records.append), **options) as importer:
            importer.add_arguments([str(p) for p in paths])
    return records


def stored_files(root) -> set[str]:
    return {os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs if f != "lock"}


def test_real_photos_import_once_and_reimport_stores_nothing(dataset, real_photos):
    shared_photo(os.path.join(real_photos, "rose_leslie"), "its 16 photos")
    first = run(["rx-import", "-d", str(dataset), real_photos])
    images = [r for r in jsonl(first.stdout) if r["type"] == "image"]
    assert len(images) >= 16
    by_id = {r["id"]: r for r in images}
    jpeg = next(r for r in images if r["media_type"] == "image/jpeg")
    with Image.open(jpeg["paths"][0]) as im:
        assert (jpeg["width"], jpeg["height"]) in (im.size, im.size[::-1])
    before = stored_files(dataset)
    again = run(["rx-import", "-d", str(dataset), real_photos])
    assert stored_files(dataset) == before
    assert {r["id"]: r for r in jsonl(again.stdout) if r["type"] == "image"} == by_id
    assert first.returncode == again.returncode


def test_same_bytes_under_two_names_are_stored_once_with_both_paths(dataset, tmp_path):
    data = make_jpeg(1)
    (tmp_path / "a.jpg").write_bytes(data)
    (tmp_path / "copy of a.png").write_bytes(data)
    records = import_core(dataset, [tmp_path / "a.jpg", tmp_path / "copy of a.png"])
    assert records[1]["paths"] == [str(tmp_path / "a.jpg"), str(tmp_path / "copy of a.png")]
    assert records[1]["media_type"] == "image/jpeg"  # by content, not by name
    with Dataset.open(str(dataset)) as ds:
        assert len(list(ds.objects.ids())) == 1
        assert len(list(ds.log("images").records())) == 2


def test_consent_is_recorded_and_only_changed_when_stated(dataset, photos):
    first = import_core(dataset, [photos / "img0.jpg"])
    assert first[0]["consent"] is False
    assert import_core(dataset, [photos / "img0.jpg"], consent=True)[0]["consent"] is True
    assert import_core(dataset, [photos / "img0.jpg"])[0]["consent"] is True
    assert import_core(dataset, [photos / "img0.jpg"], consent=False)[0]["consent"] is False


def test_exif_orientation_gives_display_size(dataset, tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    path.write_bytes(make_jpeg(5, size=(80, 20), exif=exif.tobytes()))
    (record,) = import_core(dataset, [path])
    assert (record["width"], record["height"], record["orientation"]) == (20, 80, 6)


def test_greyscale_palette_alpha_and_16_bit_pngs_are_images(dataset, tmp_path):
    for mode in ("L", "P", "RGBA", "I;16"):
        image = Image.new(mode, (9, 7))
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        (tmp_path / f"{mode.replace(';', '')}.png").write_bytes(buffer.getvalue())
    # tmp_path holds the dataset too: a walk skips it rather than importing its objects again
    records = import_core(dataset, [tmp_path])
    assert [r["type"] for r in records] == ["image"] * 4


def bad_inputs(tmp_path) -> dict[str, str]:
    """name of a bad input -> its path; each must fail alone and let the rest go on."""
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.jpg").write_bytes(b"")
    (bad / "truncated.jpg").write_bytes(make_jpeg(7, size=(300, 200))[:900])
    (bad / "text.jpg").write_text("just some text\n")
    (bad / "bomb.png").write_bytes(png_bomb(100_000, 100_000))
    os.symlink(str(bad / "gone.jpg"), str(bad / "dangling.jpg"))
    unreadable = bad / "unreadable.jpg"
    unreadable.write_bytes(make_jpeg(8))
    unreadable.chmod(0)
    return {
        "empty": str(bad / "empty.jpg"),
        "truncated": str(bad / "truncated.jpg"),
        "not-an-image": str(bad / "text.jpg"),
        "too-many-pixels": str(bad / "bomb.png"),
        "dangling-symlink": str(bad / "dangling.jpg"),
        # root reads a mode-000 file anyway; /proc/self/mem fails to read for everyone
        "unreadable": "/proc/self/mem" if os.geteuid() == 0 else str(unreadable),
        "is-a-directory": str(bad),
        "missing": str(tmp_path / "no such file.jpg"),
    }


def test_every_bad_input_gets_an_error_record_a_stderr_line_and_the_run_goes_on(dataset, tmp_path, photos):
    bad = bad_inputs(tmp_path)
    good = [str(photos / "img0.jpg"), str(photos / "pic0.png")]
    spaced = tmp_path / "a name with spaces\nand a newline.jpg"
    spaced.write_bytes(make_jpeg(9))
    paths = [good[0], *bad.values(), str(spaced), good[1]]
    stdin = b"\0".join(os.fsencode(p) for p in paths) + b"\0"
    result = run(["rx-import", "-0", "-d", str(dataset)], input=stdin)
    records = jsonl(result.stdout)
    errors = {r["kind"]: r for r in records if r["type"] == "error"}
    assert set(errors) == set(bad)
    for kind, path in bad.items():
        assert errors[kind]["input"] == path and errors[kind]["stage"] == "import" and errors[kind]["reason"]
    stderr = result.stderr.decode()
    assert all(errors[kind]["reason"] in stderr for kind in bad)
    images = [r for r in records if r["type"] == "image"]
    assert [r["paths"][0] for r in images] == [good[0], str(spaced), good[1]]
    assert result.returncode == 1
    assert run(["rx-fsck", "-d", str(dataset)]).returncode == 0


def test_max_pixels_is_configurable(dataset, photos):
    result = run(["rx-import", "-d", str(dataset), "--max-pixels", "100", str(photos / "img0.jpg")])
    (error,) = jsonl(result.stdout)
    assert error["kind"] == "too-many-pixels" and "64x48" in error["reason"] and result.returncode == 1
    env_result = run(["rx-import", "-d", str(dataset), str(photos / "img0.jpg")], env={"RX_MAX_PIXELS": "100"})
    assert jsonl(env_result.stdout)[0]["kind"] == "too-many-pixels"


def test_malformed_stdin_line_and_unknown_records_on_stdin(dataset, photos):
    stdin = (f'{photos / "img1.jpg"}\n{{"type": "note", "text": "kept"}}\n{{"type": oops\n').encode()
    result = run(["rx-import", "-d", str(dataset)], input=stdin)
    records = jsonl(result.stdout)
    assert [r["type"] for r in records] == ["image", "note", "error"]
    assert records[1] == {"type": "note", "text": "kept"}
    assert records[2]["kind"] == "malformed-input" and result.returncode == 1
    assert "malformed JSON" in result.stderr.decode()


def test_directory_on_stdin_is_an_error_but_walked_as_an_argument(dataset, photos):
    result = run(["rx-import", "-d", str(dataset)], input=f"{photos}\n".encode())
    assert [r["kind"] for r in jsonl(result.stdout)] == ["is-a-directory"]
    walked = run(["rx-import", "-d", str(dataset), str(photos)])
    assert len(jsonl(walked.stdout)) == 5 and walked.returncode == 0


def test_without_a_dataset_it_is_a_pure_filter(photos, tmp_path):
    result = run(["rx-import", str(photos)], cwd=tmp_path)
    records = jsonl(result.stdout)
    assert len(records) == 5 and all("dataset" not in r for r in records)
    assert os.listdir(tmp_path) == ["photos"]


def test_inline_msgpack_images_import_on_a_host_without_the_files(dataset, photos, tmp_path):
    shipped = run(["rx-import", "--inline", "--format", "msgpack", str(photos)]).stdout
    for path in photos.iterdir():
        path.unlink()
    result = run(["rx-import", "-d", str(dataset)], input=shipped)
    images = jsonl(result.stdout)
    assert len(images) == 5 and result.returncode == 0
    with Dataset.open(str(dataset)) as ds:
        assert len(list(ds.objects.ids())) == 5
    assert "data" not in images[0]
    first = msgpack.Unpacker(io.BytesIO(shipped), raw=False).unpack()
    assert first["data"][:3] in (b"\xff\xd8\xff", b"\x89PN")


def test_missing_dataset_folder_is_created_but_a_foreign_folder_is_refused(tmp_path, photos):
    created = run(["rx-import", "-d", str(tmp_path / "new.rx"), str(photos)])
    assert created.returncode == 0 and (tmp_path / "new.rx" / "recops.json").exists()
    refused = run(["rx-import", "-d", str(photos), str(photos)])
    assert refused.returncode == 3 and b"not a recops dataset" in refused.stderr
    assert refused.stdout == b""


def test_dataset_from_environment(tmp_path, photos):
    result = run(["rx-import", str(photos / "img0.jpg")], env={"RX_DATASET": str(tmp_path / "env.rx")})
    assert jsonl(result.stdout)[0]["dataset"] == str(tmp_path / "env.rx")


def test_unchanged_files_are_not_read_again_but_changed_ones_are(dataset, photos, monkeypatch):
    import recops.stages.importing as importer_module
    import recops.store.pathcache as pathcache

    monkeypatch.setattr(pathcache, "_RACY_NS", 0)  # the photos were written a moment ago
    reads = []
    real_read = importer_module.read_image_file
    monkeypatch.setattr(importer_module, "read_image_file", lambda p: reads.append(p) or real_read(p))
    target = photos / "img0.jpg"
    target.write_bytes(make_jpeg(0, comment=b"before"))
    first = import_core(dataset, [target])
    assert len(reads) == 1
    assert import_core(dataset, [target]) == first and len(reads) == 1

    stamp = target.stat()
    target.write_bytes(make_jpeg(0, comment=b"after!"))
    os.utime(target, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # same size and mtime; ctime moves
    changed = import_core(dataset, [target])
    assert len(reads) == 2 and changed[0]["id"] != first[0]["id"]

    assert import_core(dataset, [target], rehash=True)[0]["id"] == changed[0]["id"] and len(reads) == 3


def test_a_fresh_file_is_not_trusted_by_its_stat(dataset, photos):
    from recops.store.pathcache import PathCache

    import_core(dataset, [photos / "img1.jpg"])
    with Dataset.open(str(dataset)) as ds:
        cache = PathCache(ds.tree)
        assert cache.lookup(str(photos / "img1.jpg"), os.stat(photos / "img1.jpg")) is None
