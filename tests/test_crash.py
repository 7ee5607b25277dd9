"""Real processes, real signals: what a crash, Ctrl-C or a closed pipe leaves behind."""

import signal
import subprocess

import pytest
from conftest import jsonl, make_jpeg, run, tool

from recops.images import ImageCatalog
from recops.store.dataset import Dataset

COUNT = 2500


@pytest.fixture(scope="module")
def many_photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("many")
    for i in range(COUNT):
        (folder / f"{i:05d}.jpg").write_bytes(make_jpeg(10_000 + i, size=(32, 24)))
    return folder


def import_until(dataset, folder, records_seen: int, sig: int) -> int:
    """Start an import and send `sig` once it has written `records_seen` records (or it ends)."""
    process = subprocess.Popen(
        [tool("rx-import"), "-d", str(dataset), str(folder)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    seen = 0
    for _ in process.stdout:
        seen += 1
        if seen >= records_seen:
            process.send_signal(sig)
            break
    process.stdout.close()
    return process.wait(timeout=60)


def stored_state(dataset):
    with Dataset.open(str(dataset)) as ds:
        records = list(ds.log("images").records())
        return len(list(ds.objects.ids())), records


@pytest.mark.slow
def test_sigkill_at_several_points_then_rerun_stores_each_image_once(tmp_path, many_photos):
    dataset = tmp_path / "case.rx"
    for point in (300, 1100, 1700, 2400):
        assert import_until(dataset, many_photos, point, signal.SIGKILL) == -signal.SIGKILL
        fsck = run(["rx-fsck", "-d", str(dataset)])
        assert fsck.returncode == 0, fsck.stdout  # leftovers are warnings, never damage
    final = run(["rx-import", "-d", str(dataset), str(many_photos)])
    assert final.returncode == 0
    assert len(jsonl(final.stdout)) == COUNT
    objects, records = stored_state(dataset)
    assert objects == COUNT
    assert len(records) == COUNT == len(ImageCatalog(records))
    report = jsonl(run(["rx-fsck", "-d", str(dataset)]).stdout)[-1]
    assert report["problems"] == 0 and report["objects_checked"] == COUNT


@pytest.mark.slow
def test_ctrl_c_stores_everything_already_written_out(tmp_path, many_photos):
    dataset = tmp_path / "case.rx"
    process = subprocess.Popen(
        [tool("rx-import"), "-d", str(dataset), str(many_photos)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out = []
    for line in process.stdout:
        out.append(line)
        if len(out) == 700:
            process.send_signal(signal.SIGINT)
            break
    out.extend(process.stdout.readlines())
    assert process.wait(timeout=60) == 130
    assert b"interrupted" in process.stderr.read()
    emitted = {r["id"] for r in jsonl(b"".join(out))}
    _, records = stored_state(dataset)
    assert emitted <= {r["id"] for r in records}


@pytest.mark.slow
def test_closed_pipe_ends_quietly_and_keeps_what_was_done(dataset, many_photos):
    result = subprocess.run(
        f"'{tool('rx-import')}' -d '{dataset}' '{many_photos}' | head -1; echo ${{PIPESTATUS[0]}}",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        timeout=120,
    )
    first, status = result.stdout.decode().splitlines()
    assert status == "141" and result.stderr == b""
    _, records = stored_state(dataset)
    assert any(r["id"] in first for r in records)
    assert run(["rx-fsck", "-d", str(dataset)]).returncode == 0


def test_stale_temp_files_are_warnings_not_damage(dataset, photos):
    run(["rx-import", "-d", str(dataset), str(photos)])
    (dataset / "objects" / ".tmp-0123").write_bytes(b"half")
    (dataset / "records" / "images" / ".tmp-4567").write_bytes(b"half")
    result = run(["rx-fsck", "-d", str(dataset)])
    warnings = [r for r in jsonl(result.stdout) if r["type"] == "warning"]
    assert {w["kind"] for w in warnings} == {"temp-file"} and len(warnings) == 2
    assert result.returncode == 0
