"""Detection and embedding on other hosts over ssh (bin/recops-parallel), with real sshd servers.

Each host is an sshd of its own on a loopback address, with its own host key and its own HOME; a
forced command logs what the host was asked to run (and can make it fail) before running it
(tests/ssh_hosts.py, which bench/hosts.py shares).
"""

import os
import shutil
import subprocess
from collections import Counter

import numpy as np
import pytest
from conftest import REPO, jsonl, run, shared_photo, tool
from ssh_hosts import missing, ssh_hosts

from recops.store.dataset import Dataset

MISSING = missing()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(MISSING), reason=f"needs {', '.join(MISSING)} (make test installs openssh-server and parallel)"
    ),
]
ADDRESSES = {"host1": "127.0.0.2", "host2": "127.0.0.3"}
PHOTOS = ["rose_leslie/img1.jpg", "rose_leslie/img2.jpg", "kit_harington/john1.jpeg", "kit_harington/john2.jpeg"]
PHOTOS += ["obama/obama1.jpg", "obama/obama2.jpg"]


@pytest.fixture
def hosts(tmp_path):
    """Two sshd servers on 127.0.0.2 and .3 that cannot see the photos or the dataset (tests/ssh_hosts.py);
    yields (ssh config file, {name: host folder})."""
    (tmp_path / "photos").mkdir(exist_ok=True)
    with ssh_hosts(tmp_path, ADDRESSES, hide=[tmp_path / "photos", tmp_path / "case.rx"]) as found:
        yield found


@pytest.fixture
def few_photos(tmp_path, real_photos):
    folder = tmp_path / "photos"
    folder.mkdir(exist_ok=True)
    for photo in PHOTOS:
        shutil.copy(shared_photo(os.path.join(real_photos, photo), photo), folder / photo.replace("/", "-"))
    return folder


def recops_parallel(ssh_config, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PATH": f"{os.path.dirname(tool('rx-import'))}:{os.environ['PATH']}",
        "PARALLEL_SSH": f"ssh -F {ssh_config}",
        "PARALLEL": "--env PATH --env PYTHONPATH",  # the hosts run this checkout's tools
        "RECOPS_BLOCK": "300k",  # a few jobs for a few photos
    }
    command = [os.path.join(REPO, "bin", "recops-parallel"), *args]
    return subprocess.run(command, capture_output=True, env=env, timeout=600)


def stored(dataset) -> tuple[Counter, dict]:
    """How often each face is stored, and the embedding of each face."""
    with Dataset.open(str(dataset)) as ds:
        faces = Counter(r["id"] for r in ds.log("faces").records())
        embeddings = [r for r in ds.log("embeddings").records()]
    assert Counter(r["face"] for r in embeddings) == faces
    return faces, {r["face"]: np.frombuffer(r["vector"], dtype="<f4") for r in embeddings}


def local_run(tmp_path, photos) -> dict:
    local = tmp_path / "local.rx"
    imported = run(["rx-import", "-d", str(local), str(photos)])
    detected = run(["rx-detect"], input=imported.stdout)
    embedded = run(["rx-embed", "-d", str(local)], input=run(["rx-embed"], input=detected.stdout).stdout)
    assert embedded.returncode == 0, embedded.stderr.decode()
    faces, vectors = stored(local)
    assert set(faces.values()) == {1} and len(faces) >= len(PHOTOS)
    return vectors


def jobs(folder) -> list[dict]:
    log = folder / "commands.jsonl"
    return [r for r in jsonl(log.read_bytes()) if r["job"]] if log.exists() else []


def assert_same_as_local(dataset, local: dict) -> None:
    faces, vectors = stored(dataset)
    assert set(faces.values()) == {1}, "a face stored twice"
    assert vectors.keys() == local.keys()
    for face, vector in local.items():
        np.testing.assert_allclose(vectors[face], vector, atol=1e-5)


def test_two_hosts_compute_what_one_machine_does_and_see_only_stdin(tmp_path, hosts, few_photos):
    ssh_config, folders = hosts
    (tmp_path / "hosts").write_text("1/host1\n1/host2\n")
    dataset = tmp_path / "case.rx"
    done = recops_parallel(ssh_config, str(dataset), str(tmp_path / "hosts"), str(few_photos))
    assert done.returncode == 0, done.stderr.decode()
    out = jsonl(done.stdout)
    assert Counter(r["type"] for r in out)["image"] == len(PHOTOS)
    assert_same_as_local(dataset, local_run(tmp_path, few_photos))
    for name, folder in folders.items():
        ran = jobs(folder)
        assert ran, f"{name} ran no job"
        for job in ran:
            assert "rx-detect | rx-embed" in job["command"]
            assert str(few_photos) not in job["command"] and str(dataset) not in job["command"]
    assert (folders["host1"] / "home" / ".deepface").is_dir()  # each host used its own HOME
    assert (folders["host2"] / "home" / ".deepface").is_dir()


def test_a_failing_host_is_retried_elsewhere_and_nothing_is_doubled(tmp_path, hosts, few_photos):
    ssh_config, folders = hosts
    (folders["host2"] / "fail").write_text("1")
    (tmp_path / "hosts").write_text("1/host1\n1/host2\n")
    dataset = tmp_path / "case.rx"
    done = recops_parallel(ssh_config, str(dataset), str(tmp_path / "hosts"), str(few_photos))
    assert done.returncode == 0, done.stderr.decode()
    assert (folders["host2"] / "fail").read_text() == "0"  # it did fail once
    images = [r["id"] for r in jsonl(done.stdout) if r["type"] == "image"]
    assert len(images) == len(set(images)) == len(PHOTOS)
    assert_same_as_local(dataset, local_run(tmp_path, few_photos))


def test_a_run_that_still_failed_resumes_only_the_failed_jobs(tmp_path, hosts, few_photos):
    ssh_config, folders = hosts
    (folders["host2"] / "fail").write_text("2")  # the first job there fails both its tries
    (tmp_path / "hosts").write_text("1/host2\n")
    dataset = tmp_path / "case.rx"
    first = recops_parallel(ssh_config, str(dataset), str(tmp_path / "hosts"), str(few_photos))
    assert first.returncode != 0
    joblog = (tmp_path / "case.rx.joblog").read_text().splitlines()[1:]
    failed = [line for line in joblog if line.split("\t")[6] != "0"]
    assert len(failed) == 1 and len(joblog) > 1
    ran_before = len(jobs(folders["host2"]))
    (tmp_path / "hosts").write_text("1/host1\n1/host2\n")
    again = recops_parallel(ssh_config, "--resume", str(dataset), str(tmp_path / "hosts"), str(few_photos))
    assert again.returncode == 0, again.stderr.decode()
    assert len(jobs(folders["host1"])) + len(jobs(folders["host2"])) - ran_before == 1
    assert_same_as_local(dataset, local_run(tmp_path, few_photos))
