"""The shell examples in bin/, run for real."""

import json
import os
import shutil
import subprocess

import pytest
from conftest import REPO, jsonl, run, tool


def script(name: str, *args: str, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{os.path.dirname(tool('rx-import'))}:{os.environ['PATH']}"}
    return subprocess.run([os.path.join(REPO, "bin", name), *args], capture_output=True, env=env, cwd=cwd, timeout=600)


def test_sync_makes_two_copies_one(tmp_path, photos, fake_models):
    a, b = tmp_path / "a.rx", tmp_path / "b.rx"
    run(["rx-init", str(a)])
    run(["rx-import", "-d", str(a), str(photos / "img0.jpg")])
    shutil.copytree(a, b)
    run(["rx-import", "-d", str(a), str(photos / "img1.jpg")])
    run(["rx-import", "-d", str(b), str(photos / "pic0.png")])
    synced = script("recops-sync", str(a), str(b))
    assert synced.returncode == 0, synced.stderr.decode()
    listed = [sorted(i["id"] for i in jsonl(run(["rx-ls", "images", "-d", str(d)]).stdout)) for d in (a, b)]
    assert listed[0] == listed[1] and len(listed[0]) == 3


@pytest.mark.slow
def test_nightly_reports_only_what_is_new(tmp_path, real_photos):
    drop, reports, dataset = tmp_path / "drop", tmp_path / "reports", tmp_path / "case.rx"
    drop.mkdir()
    people = [os.path.join(d, f) for d, _, fs in os.walk(real_photos) for f in fs if f in ("obama.jpg", "obama2.jpg")]
    shutil.copy(people[0], drop / "first.jpg")
    first = script("recops-nightly", str(drop), str(dataset), str(reports))
    assert first.returncode == 0, first.stderr.decode()
    import time

    now = time.time()
    os.utime(drop / "first.jpg", (now - 1000, now - 1000))  # the first run is long past
    os.utime(reports / ".last-run", (now - 500, now - 500))
    shutil.copy(people[1], drop / "second.jpg")
    second = script("recops-nightly", str(drop), str(dataset), str(reports))
    assert second.returncode == 0, second.stderr.decode()
    (records,) = [p for p in reports.iterdir() if p.name.startswith("matches-") and p.suffix == ".jsonl"]
    found = [json.loads(line) for line in records.read_text().splitlines()]
    assert [r["paths"][0] for r in found if r["type"] == "image"] == [str(drop / "second.jpg")]
    assert any(r["type"] == "match" for r in found)
    assert any(p.name.startswith("fsck-") for p in reports.iterdir())


@pytest.mark.slow
def test_demo_recognises_an_unseen_photo_and_says_where_the_report_is(tmp_path, real_photos):
    demo = script("recops-demo", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr.decode()
    last = demo.stdout.decode().splitlines()[-1]
    assert last == f"report: {tmp_path / 'demo-report.html'}"
    report = (tmp_path / "demo-report.html").read_text()
    assert "(nearest match)" in report and "data:image/jpeg;base64," in report
    assert "rx-fsck: ./demo.rx is sound" in demo.stderr.decode()
    again = script("recops-demo", cwd=tmp_path)  # the README's command, run twice: its own report is replaced
    assert again.returncode == 0, again.stderr.decode()
