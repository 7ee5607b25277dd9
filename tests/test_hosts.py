"""Detection and embedding on other hosts over ssh (bin/recops-parallel), with real sshd servers.

Each host is an sshd of its own on a loopback address, with its own host key and its own HOME; a
forced command logs what the host was asked to run (and can make it fail) before running it.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter

import numpy as np
import pytest
from conftest import REPO, jsonl, run, tool

from recops.store.dataset import Dataset

SSHD = "/usr/sbin/sshd" if os.access("/usr/sbin/sshd", os.X_OK) else shutil.which("sshd")
NEEDED = {"sshd": SSHD, "ssh": shutil.which("ssh"), "ssh-keygen": shutil.which("ssh-keygen")}
NEEDED.update(parallel=shutil.which("parallel"), unshare=shutil.which("unshare"))
MISSING = [name for name, path in NEEDED.items() if not path]


def _can_hide() -> bool:
    """Whether this machine lets a process mount in a namespace of its own (root, or user namespaces)."""
    flags = "-m" if os.getuid() == 0 else "-rm"
    try:
        return subprocess.run(["unshare", flags, "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


if not MISSING and not _can_hide():
    MISSING.append("a mount namespace (unshare -m: root or user namespaces)")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(MISSING), reason=f"needs {', '.join(MISSING)} (make test installs openssh-server and parallel)"
    ),
]
ADDRESSES = {"host1": "127.0.0.2", "host2": "127.0.0.3"}
PHOTOS = ["rose_leslie/img1.jpg", "rose_leslie/img2.jpg", "kit_harington/john1.jpeg", "kit_harington/john2.jpeg"]
PHOTOS += ["obama/obama1.jpg", "obama/obama2.jpg"]

# The forced command of every host: logs the command parallel sent (its perl wrapper carries the
# command as hex after @ARGV), fails while the host's fail file counts down, else runs it in a
# mount namespace where the folders named in its hide file are empty: the photos and the dataset
# are on another machine, as far as the host can tell.
FORCED = f"""#!{sys.executable}
import os, sys
here = os.path.dirname(os.path.abspath(__file__))
command = os.environ.get("SSH_ORIGINAL_COMMAND", "")
words = command.split("@ARGV", 1)[-1].split()
try:
    decoded = bytes.fromhex("".join(words)).decode("latin-1")
except ValueError:
    decoded = command
job = "rx-detect" in decoded
with open(os.path.join(here, "commands.jsonl"), "a") as log:
    log.write(__import__("json").dumps({{"job": job, "command": decoded}}) + "\\n")
fail = os.path.join(here, "fail")
if job and os.path.exists(fail):
    left = int(open(fail).read())
    if left > 0:
        open(fail, "w").write(str(left - 1))
        sys.exit(255)  # as a dropped connection: no output
hide = open(os.path.join(here, "hide")).read().split()
mounts = 'c=$1; shift; for p; do [ ! -e "$p" ] || mount -t tmpfs hidden "$p" || exit 99; done; exec sh -c "$c"'
os.execvp("unshare", ["unshare", "-m" if os.getuid() == 0 else "-rm", "sh", "-c", mounts, "sh", command, *hide])
"""


def free_port(address: str) -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def keygen(path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return open(f"{path}.pub").read().split()[:2]


@pytest.fixture
def hosts(tmp_path):
    """Two sshd servers on 127.0.0.2 and .3; yields (ssh config file, {name: host folder})."""
    if os.getuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation, as root
    (tmp_path / "photos").mkdir(exist_ok=True)
    client = tmp_path / "client"
    client.mkdir()
    keygen(client / "id")
    shutil.copy(client / "id.pub", client / "authorized_keys")
    servers, folders, config, known = [], {}, [], []
    try:
        for name, address in ADDRESSES.items():
            folder = tmp_path / name
            (folder / "home").mkdir(parents=True)
            key = keygen(folder / "host_key")
            (folder / "forced").write_text(FORCED)
            (folder / "forced").chmod(0o755)
            (folder / "hide").write_text(f"{tmp_path / 'photos'}\n{tmp_path / 'case.rx'}\n")
            port = free_port(address)
            (folder / "sshd_config").write_text(
                f"ListenAddress {address}:{port}\nHostKey {folder / 'host_key'}\n"
                f"AuthorizedKeysFile {client / 'authorized_keys'}\nStrictModes no\nUsePAM no\n"
                "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
                f"PidFile none\nLogLevel ERROR\nSetEnv HOME={folder / 'home'}\nForceCommand {folder / 'forced'}\n"
            )
            servers.append(subprocess.Popen([SSHD, "-D", "-e", "-f", str(folder / "sshd_config")]))
            config.append(
                f"Host {name}\n  HostName {address}\n  Port {port}\n  IdentityFile {client / 'id'}\n"
                f"  IdentitiesOnly yes\n  UserKnownHostsFile {client / 'known_hosts'}\n"
                "  StrictHostKeyChecking yes\n  BatchMode yes\n"
            )
            known.append(f"[{address}]:{port} {' '.join(key)}\n")
            folders[name] = folder
        (client / "known_hosts").write_text("".join(known))
        (client / "ssh_config").write_text("".join(config))
        for name in folders:
            for _ in range(50):
                probe = subprocess.run(["ssh", "-F", str(client / "ssh_config"), name, "true"], capture_output=True)
                if probe.returncode == 0:
                    break
                time.sleep(0.1)
            assert probe.returncode == 0, probe.stderr.decode()
            (folders[name] / "commands.jsonl").unlink()
        yield client / "ssh_config", folders
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)


@pytest.fixture
def few_photos(tmp_path, real_photos):
    folder = tmp_path / "photos"
    folder.mkdir(exist_ok=True)
    for photo in PHOTOS:
        shutil.copy(os.path.join(real_photos, photo), folder / photo.replace("/", "-"))
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
