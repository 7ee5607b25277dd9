"""recops restore against hostile zips and awkward targets: every refusal is clear and comes
before anything is written; a killed restore's leftovers go with the next restore."""

import json
import os
import re
import signal
import stat
import struct
import subprocess
import sys
import time
import zipfile

import pytest
from conftest import jsonl, run

from recops.backup import backup, parse_size, restore
from recops.datasets import create_dataset
from recops.errors import DatasetError, UsageError
from recops.store.dataset import Dataset
from recops.store.objects import content_id

CONFIG = json.dumps(
    {
        "format": 1,
        "detector": "fake",
        "model": "Fake",
        "metric": "cosine",
        "threshold": None,
        "flip": False,
        "description": "",
        "id": "0" * 32,
        "created": "2024-01-01T00:00:00Z",
    }
)
OBJECT = "objects/ab/" + "c" * 30
SEGMENT = "records/images/20240101T000000000000Z-" + "d" * 32 + ".msgpack"


def make_zip(path, *members, config=CONFIG, method=zipfile.ZIP_DEFLATED):
    """A zip of recops.json and `members`: (name, bytes) pairs or ZipInfo with bytes."""
    with zipfile.ZipFile(path, "w", method) as archive:
        if config is not None:
            archive.writestr("recops.json", config)
        for name, data in members:
            archive.writestr(name, data)
    return str(path)


def patch_headers(path, member, local_at, central_at, fmt, value):
    """Overwrite a field of `member` in its local header and its central directory entry."""
    data = bytearray(open(path, "rb").read())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    struct.pack_into(fmt, data, info.header_offset + local_at, value)
    central = data.index(b"PK\x01\x02", archive.start_dir)
    while data[central + 46 : central + 46 + struct.unpack_from("<H", data, central + 28)[0]] != member.encode():
        central = data.index(b"PK\x01\x02", central + 1)
    struct.pack_into(fmt, data, central + central_at, value)
    open(path, "wb").write(bytes(data))


def nothing_written(tmp_path, target="out.rx"):
    return not (tmp_path / target).exists() and not [n for n in os.listdir(tmp_path) if n.startswith(".restore-")]


@pytest.fixture
def dataset_zip(tmp_path):
    """A backup of a dataset of 40 objects (random bytes, as photos are to deflate) and its object ids."""
    root = str(tmp_path / "case.rx")
    ids = []
    with create_dataset(root, detector="fake", model="Fake") as ds:
        for seed in range(40):
            data = os.urandom(2000 + seed)
            ds.objects.put(content_id(data), data)
            ids.append(content_id(data))
        backup(ds, str(tmp_path / "case.zip"))
    return str(tmp_path / "case.zip"), sorted(ids)


def test_a_restored_dataset_keeps_read_only_objects_and_private_folders(dataset_zip, tmp_path):
    archive, ids = dataset_zip
    record = restore(archive, str(tmp_path / "out.rx"))
    assert record["files"] == 41 and record["bytes"] > 40 * 2000
    for directory, _subdirs, files in os.walk(tmp_path / "out.rx"):
        assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
        for name in files:
            mode = stat.S_IMODE(os.stat(os.path.join(directory, name)).st_mode)
            assert mode == (0o600 if name == "recops.json" else 0o400)
    with Dataset.open(str(tmp_path / "out.rx")) as ds:
        assert sorted(ds.objects.ids()) == ids
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".restore-")]


def test_a_zip_bomb_is_refused_by_its_ratio_before_anything_is_written(tmp_path):
    # 64 MiB of zeros deflate to 64 KiB: 1000 to 1, as the 1.8 MB zip that unpacked to 1 GiB.
    info = zipfile.ZipInfo(SEGMENT)
    info.compress_type = zipfile.ZIP_DEFLATED
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("recops.json", CONFIG)
        with archive.open(info, "w") as member:
            for _ in range(64):
                member.write(bytes(1 << 20))
    assert os.path.getsize(path) < 200_000
    with pytest.raises(DatasetError, match="zip bomb"):
        restore(str(path), str(tmp_path / "out.rx"))
    assert nothing_written(tmp_path)


def test_many_small_members_that_inflate_together_are_a_bomb_too(tmp_path):
    members = [(f"records/images/20240101T0000000000{i:02d}Z-{i:032x}.msgpack", bytes(500_000)) for i in range(8)]
    with pytest.raises(DatasetError, match="inflates [0-9,]+ bytes to 4,000,200 .*a zip bomb"):
        restore(make_zip(tmp_path / "b.zip", *members), str(tmp_path / "out.rx"))
    assert nothing_written(tmp_path)


def test_the_total_size_limit_is_checked_before_writing(dataset_zip, tmp_path):
    archive, _ = dataset_zip
    with pytest.raises(DatasetError, match="more than the limit of 50,000 bytes"):
        restore(archive, str(tmp_path / "out.rx"), max_size=50_000)
    assert nothing_written(tmp_path)
    with pytest.raises(DatasetError, match="41 members, more than the 10"):
        restore(archive, str(tmp_path / "out.rx"), max_members=10)
    assert nothing_written(tmp_path)


def test_a_member_that_inflates_beyond_its_declared_size_is_stopped(tmp_path):
    path = make_zip(tmp_path / "lie.zip", (SEGMENT, bytes(3 << 20)))
    patch_headers(path, SEGMENT, 22, 24, "<I", 1000)  # uncompressed size: 3 MiB declared as 1000 bytes
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo(SEGMENT).file_size == 1000
    with pytest.raises(DatasetError, match="nothing restored"):
        restore(path, str(tmp_path / "out.rx"))
    assert nothing_written(tmp_path)


def test_members_that_share_their_bytes_are_refused(tmp_path):
    # The non-recursive zip bomb: central directory entries that all point at one compressed kernel.
    path = make_zip(
        tmp_path / "overlap.zip",
        (OBJECT, b"x" * 100),
        ("objects/ab/" + "e" * 30, b"y" * 100),
        method=zipfile.ZIP_STORED,
    )
    with zipfile.ZipFile(path) as archive:
        first = archive.getinfo(OBJECT).header_offset
    data = bytearray(open(path, "rb").read())
    last_entry = data.rindex(b"PK\x01\x02")
    struct.pack_into("<I", data, last_entry + 42, first)
    open(path, "wb").write(bytes(data))
    with pytest.raises(DatasetError, match="share their bytes"):
        restore(path, str(tmp_path / "out.rx"))
    assert nothing_written(tmp_path)


@pytest.mark.parametrize(
    "member",
    [
        "evil.sh",
        "lock",
        "cache/paths.msgpack",
        "objects/ab/cd",
        "objects/AB/" + "c" * 30,
        "objects/ab/" + "g" * 30,
        "objects/abc/" + "c" * 29,
        "records/images/notes.txt",
        "records/Images/" + SEGMENT.rsplit("/", 1)[1],
        "records/" + SEGMENT.rsplit("/", 1)[1],
        "cache/index/Fake.angular.meta.tmp",
        "cache/index/..angular.meta",
        "recops.json.bak",
        ".recops.json",
        "objects/ab/" + "c" * 30 + "/x",
        "objects/ab/" + "c" * 30 + "\n",
        "objects/ab\n/" + "c" * 30,
        "records/images\n/" + SEGMENT.rsplit("/", 1)[1],
        SEGMENT + "\n",
    ],
)
def test_members_outside_the_dataset_layout_are_refused(tmp_path, member):
    with pytest.raises(DatasetError, match=re.escape(f"refusing member {member!r}: it is not part of a dataset")):
        restore(make_zip(tmp_path / "x.zip", (member, b"x")), str(tmp_path / "out.rx"))
    assert nothing_written(tmp_path)


@pytest.mark.parametrize(
    "member",
    [
        "objects/",
        "objects/ab/",
        "records/",
        "records/faces/",
        "cache/",
        "cache/index/",
        OBJECT,
        SEGMENT,
        "cache/index/Fake.angular.meta",
        "cache/index/VGG-Face.euclidean.0123456789ab.ann",
    ],
)
def test_every_name_a_backup_writes_is_restored(tmp_path, member):
    data = b"" if member.endswith("/") else b"x"
    restore(make_zip(tmp_path / "x.zip", (member, data)), str(tmp_path / "out.rx"))
    assert (tmp_path / "out.rx" / member).exists()


@pytest.mark.parametrize("member", ["../evil.txt", "/etc/evil", "objects/../../evil", "C:/evil", "objects\\..\\evil"])
def test_restore_refuses_members_outside_the_target(tmp_path, member):
    with pytest.raises(DatasetError, match="refusing member .*leaves the target"):
        restore(make_zip(tmp_path / "bad.zip", (member, "x")), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists() and not (tmp_path / "evil.txt").exists()


def test_duplicate_member_names_are_refused(tmp_path):
    with pytest.warns(UserWarning, match="Duplicate name"):
        path = make_zip(tmp_path / "dup.zip", (OBJECT, b"first"), (OBJECT, b"second"))
    with pytest.raises(DatasetError, match=f"refusing member '{OBJECT}': the archive holds two members of that name"):
        restore(path, str(tmp_path / "out.rx"))
    assert nothing_written(tmp_path)


def test_encrypted_members_are_refused(tmp_path):
    path = make_zip(tmp_path / "enc.zip", (OBJECT, b"x" * 40), method=zipfile.ZIP_STORED)
    patch_headers(path, OBJECT, 6, 8, "<H", 0x1)  # general purpose flag bit 0: encrypted
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo(OBJECT).flag_bits & 0x1
    with pytest.raises(DatasetError, match="it is encrypted"):
        restore(path, str(tmp_path / "out.rx"))
    assert nothing_written(tmp_path)


@pytest.mark.parametrize("kind", [stat.S_IFLNK, stat.S_IFIFO, stat.S_IFCHR, stat.S_IFSOCK])
def test_links_and_special_files_are_refused(tmp_path, kind):
    info = zipfile.ZipInfo(OBJECT)
    info.external_attr = (kind | 0o777) << 16
    with pytest.raises(DatasetError, match="it is a link or a special file"):
        restore(make_zip(tmp_path / "link.zip", (info, "/etc/passwd")), str(tmp_path / "out.rx"))
    assert nothing_written(tmp_path)


@pytest.mark.parametrize(
    "config, reason",
    [
        (None, "no recops.json"),
        ("[1, 2]", "not a JSON object"),
        ("{", "unreadable config"),
        ('{"format": 1, "detector": "fake", "model": "../../x", "metric": "cosine"}', "model must be"),
    ],
)
def test_a_backup_without_a_sound_config_is_refused(tmp_path, config, reason):
    with pytest.raises(DatasetError, match=reason):
        restore(make_zip(tmp_path / "c.zip", (OBJECT, b"x"), config=config), str(tmp_path / "out.rx"))
    assert nothing_written(tmp_path)


def test_a_symlinked_target_is_refused_and_its_folder_untouched(tmp_path):
    path = make_zip(tmp_path / "ok.zip", (OBJECT, b"x"))
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "out.rx")
    os.symlink(tmp_path / "missing", tmp_path / "dangling.rx")
    for target in ("out.rx", "dangling.rx"):
        with pytest.raises(UsageError, match="a symbolic link"):
            restore(path, str(tmp_path / target))
    assert os.listdir(tmp_path / "elsewhere") == [] and not (tmp_path / "missing").exists()
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".restore-")]


def test_targets_that_cannot_take_a_restore_are_usage_errors(tmp_path):
    path = make_zip(tmp_path / "ok.zip", (OBJECT, b"x"))
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    for target, reason in [
        ("a-file/out.rx", "not a folder, so out.rx cannot go there"),
        ("missing/out.rx", "no such folder"),
        ("a-file", "exists and is not a folder"),
        ("full", "exists and is not empty"),
    ]:
        with pytest.raises(UsageError, match=reason):
            restore(path, str(tmp_path / target))
    assert (tmp_path / "a-file").read_text() == "x" and os.listdir(tmp_path / "full") == ["x"]
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".restore-")]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder anyway")
def test_a_read_only_parent_is_a_usage_error(tmp_path):
    path = make_zip(tmp_path / "ok.zip", (OBJECT, b"x"))
    (tmp_path / "ro").mkdir(mode=0o500)
    with pytest.raises(UsageError, match="cannot write there"):
        restore(path, str(tmp_path / "ro" / "out.rx"))


def test_folder_entries_without_a_unix_mode_are_folders(tmp_path):
    info = zipfile.ZipInfo("objects/ab/")
    info.external_attr = 0x10  # MS-DOS directory bit only, as zip tools on other systems write
    restore(make_zip(tmp_path / "dos.zip", (info, b""), (OBJECT, b"x")), str(tmp_path / "out.rx"))
    assert (tmp_path / "out.rx" / OBJECT).read_bytes() == b"x"


def test_an_empty_folder_is_replaced_by_the_restore(tmp_path):
    (tmp_path / "out.rx").mkdir(mode=0o755)
    restore(make_zip(tmp_path / "ok.zip", (OBJECT, b"x")), str(tmp_path / "out.rx"))
    assert stat.S_IMODE(os.stat(tmp_path / "out.rx").st_mode) == 0o700
    assert (tmp_path / "out.rx" / OBJECT).read_bytes() == b"x"


SLOW_RESTORE = """
import os, sys, time
from recops import backup
fsync = os.fsync
os.fsync = lambda fd: (time.sleep(0.05), fsync(fd))
backup.restore(sys.argv[1], sys.argv[2])
"""


def test_a_killed_restore_leaves_a_folder_that_the_next_restore_removes(dataset_zip, tmp_path):
    archive, ids = dataset_zip
    target = tmp_path / "out.rx"
    # A real restore, slowed down (each fsync sleeps) so that SIGKILL finds it half-way.
    child = subprocess.Popen([sys.executable, "-c", SLOW_RESTORE, archive, str(target)])
    staged = tmp_path / f".restore-out.rx-{child.pid}"
    deadline = time.monotonic() + 60
    while not (staged / "objects").is_dir() or len(list((staged / "objects").rglob("*"))) < 10:
        assert child.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert staged.is_dir() and not target.exists()
    done = run(["recops", "restore", archive, str(target)])
    assert done.returncode == 0, done.stderr
    assert f"removed {staged}, left by a restore into {target} that was killed".encode() in done.stderr
    assert not staged.exists() and [r["type"] for r in jsonl(done.stdout)] == ["restore", "fsck"]
    with Dataset.open(str(target)) as ds:
        assert sorted(ds.objects.ids()) == ids


HOLDER = """
import fcntl, os, sys
staged = os.path.join(sys.argv[1], f".restore-out.rx-{os.getpid()}")
os.mkdir(staged)
fd = os.open(staged, os.O_RDONLY)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.read()
"""


def test_a_running_restore_into_the_same_target_is_left_alone(tmp_path):
    path = make_zip(tmp_path / "ok.zip", (OBJECT, b"x"))
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout.readline() == b"held\n"
        with pytest.raises(UsageError, match=f"another restore into it is running \\(process {holder.pid}\\)"):
            restore(path, str(tmp_path / "out.rx"))
        assert (tmp_path / f".restore-out.rx-{holder.pid}").is_dir() and not (tmp_path / "out.rx").exists()
    finally:
        holder.communicate(b"")


def test_a_leftover_of_a_dead_process_is_removed_and_a_link_so_named_is_left_alone(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    leftover = tmp_path / f".restore-out.rx-{int(dead.stdout)}"
    (leftover / "objects" / "ab").mkdir(parents=True)
    (leftover / OBJECT).write_bytes(b"photo")
    os.chmod(leftover / OBJECT, 0o400)
    (tmp_path / "victim").mkdir()
    (tmp_path / "victim" / "keep").write_text("x")
    os.symlink(tmp_path / "victim", tmp_path / ".restore-out.rx-1")
    restore(make_zip(tmp_path / "ok.zip", (OBJECT, b"x")), str(tmp_path / "out.rx"))
    assert not leftover.exists() and (tmp_path / "victim" / "keep").exists()
    assert os.path.islink(tmp_path / ".restore-out.rx-1")


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["--max-size", "1K"], 3, b"more than the limit of 1,024 bytes"),
        (["--max-size", "lots"], 2, b"'lots' is not a size"),
        (["--max-members", "1"], 3, b"more than the 1 a restore takes"),
    ],
)
def test_porcelain_restore_limits(tmp_path, args, code, message):
    path = make_zip(tmp_path / "ok.zip", (OBJECT, os.urandom(4000)))
    result = run(["recops", "restore", path, str(tmp_path / "out.rx")] + args)
    assert result.returncode == code and message in result.stderr and result.stdout == b""
    assert nothing_written(tmp_path)


def test_porcelain_restore_refusals_are_clear_errors_not_internal_ones(tmp_path):
    with pytest.warns(UserWarning):
        dup = make_zip(tmp_path / "dup.zip", (OBJECT, b"a"), (OBJECT, b"b"))
    outside = make_zip(tmp_path / "outside.zip", ("evil.sh", b"rm -rf ~"))
    os.symlink(tmp_path, tmp_path / "link.rx")
    (tmp_path / "a-file").write_text("x")
    os.mkfifo(tmp_path / "fifo")
    for archive, target, code in [
        (dup, "out.rx", 3),
        (outside, "out.rx", 3),
        (str(tmp_path / "missing.zip"), "out.rx", 2),
        (str(tmp_path / "a-file"), "out.rx", 3),
        (str(tmp_path / "fifo"), "out.rx", 2),
        (str(tmp_path), "out.rx", 2),
        (outside, "link.rx", 2),
        (outside, "a-file/out.rx", 2),
    ]:
        result = run(["recops", "restore", archive, str(tmp_path / target)])
        assert result.returncode == code, (archive, target, result.stderr)
        assert b"internal error" not in result.stderr and result.stdout == b""
    assert nothing_written(tmp_path)


def test_sizes_are_read_in_powers_of_1024():
    assert [parse_size(s) for s in ("123", "2K", "500M", "2G", "1T", "3GiB")] == [
        123,
        2048,
        500 << 20,
        2 << 30,
        1 << 40,
        3 << 30,
    ]
    for bad in ("", "0", "-1", "1.5G", "1P"):
        with pytest.raises(UsageError):
            parse_size(bad)
