"""Every `recops ...` command line of the original recops's documentation, run as written against
this recops, with the real models on real photos: each works unchanged, or says what replaced it.

The lines are copied verbatim from forensic-toolkit/recops @ 6327c4e (its docs/ are the site
forensic-toolkit.github.io/recops). Placeholders ($DATASET_ID, $PATH_TO_IMAGES, ...) become real
ids, photos and files; every option stays as written. docs/original.md tables the same lines.
"""

import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import zipfile

import pytest
from conftest import SHARED_FACES, command, jsonl, run

FUNCTIONALITY = "docs/documentation/functionality/index.html"
INSTALLATION = "docs/documentation/installation/index.html"
ENCRYPT = "docs/documentation/encrypt-your-data/index.html"
BIN = "bin/recops"
# The functions the original's `recops --help` lists (INSTALLATION, "USAGE").
FUNCTIONS = (
    "backup dataset-cluster-faces dataset-compute-extended-fields dataset-create dataset-delete dataset-export "
    "dataset-import-faces dataset-import-identities dataset-import-images dataset-link-matched-faces dataset-list "
    "dataset-list-faces dataset-list-identities dataset-list-images dataset-match-faces debug face-delete "
    "identity-create identity-delete identity-link image-delete recognize verify webui"
).split()
WORKS = None
"""The line works as it did: exit 0."""

# (where, the line as written, the environment its block exports, what it does now: WORKS, or
# the exit code and the message that names what replaced it)
LINES = [
    (FUNCTIONALITY, "recops --help", {}, WORKS),
    (FUNCTIONALITY, "recops <function> --help", {}, WORKS),
    (
        FUNCTIONALITY,
        "recops dataset-create --detector $DETECTOR_OPTION --basemodel $BASEMODEL_OPTION $DATASET_NAME",
        {},
        WORKS,
    ),
    (FUNCTIONALITY, "recops dataset-list", {}, WORKS),
    (FUNCTIONALITY, "recops dataset-list-faces -d $DATASET_ID", {}, WORKS),
    (FUNCTIONALITY, "recops dataset-list-images -d $DATASET_ID", {}, WORKS),
    (FUNCTIONALITY, "recops dataset-list-identities -d $DATASET_ID", {}, WORKS),
    (FUNCTIONALITY, "recops dataset-export -d $DATASET_ID -o $PATH_TO_SAVE_ARCHIVE", {}, WORKS),
    (FUNCTIONALITY, "recops dataset-delete $DATASET_ID", {}, (2, "deleting a dataset cannot be undone; give --yes")),
    (FUNCTIONALITY, "recops face-delete $FACE_ID", {}, WORKS),
    (FUNCTIONALITY, "recops image-delete $IMAGE_ID", {}, WORKS),
    (FUNCTIONALITY, "recops identity-create -d $DATASET_ID $IDENTITY_NAME", {}, WORKS),
    (FUNCTIONALITY, "recops identity-link $IDENTITY_ID $FACE_ID", {}, WORKS),
    (FUNCTIONALITY, "recops identity-delete $IDENTITY_ID", {}, WORKS),
    (FUNCTIONALITY, "recops dataset-import-faces --help", {}, WORKS),
    (FUNCTIONALITY, "recops dataset-import-identities --help", {}, WORKS),
    (FUNCTIONALITY, "recops dataset-import-images --help", {}, WORKS),
    (FUNCTIONALITY, "recops dataset-import-images -d $DATASET_ID $PATH_TO_IMAGES", {}, WORKS),
    (FUNCTIONALITY, "recops dataset-import-faces -d $DATASET_ID $PATH_TO_FACES", {}, WORKS),
    (FUNCTIONALITY, "recops dataset-import-identities -d $DATASET_ID $PATH_TO_IDENTITIES_AND_FACES", {}, WORKS),
    (FUNCTIONALITY, "recops backup -o $PATH_TO_SAVE_ARCHIVE", {}, WORKS),
    # its block first runs `unzip backup.zip -d /tmp/data` (of the backup above)
    (
        FUNCTIONALITY,
        "recops dataset-list",
        {"STORAGE_URI": "file:///tmp/data", "DATABASE_URI": "sqlite:////tmp/data/recops.db"},
        WORKS,
    ),
    (FUNCTIONALITY, "recops dataset-match-faces -d $DATASET_ID -o $PATH_TO_SAVE_OUTPUT", {}, WORKS),
    (FUNCTIONALITY, "recops dataset-link-matched-faces $PATH_TO_CSV", {}, WORKS),
    (FUNCTIONALITY, "recops dataset-cluster-faces -d $DATASET_ID -o $PATH_TO_SAVE_OUTPUT", {}, WORKS),
    (FUNCTIONALITY, "recops --log-level DEBUG dataset-cluster-faces -d $DATASET_ID -o $PATH_TO_SAVE_OUTPUT", {}, WORKS),
    (FUNCTIONALITY, "recops dataset-compute-extended-fields -d $DATASET_ID", {}, WORKS),
    (FUNCTIONALITY, "recops recognize -d $DATASET_ID $PATH_TO_IMAGE -o $PATH_TO_SAVE_OUTPUT", {}, WORKS),
    (
        FUNCTIONALITY,
        "recops --log-level DEBUG recognize --force -d $DATASET_ID $PATH_TO_IMAGE -o $PATH_TO_SAVE_OUTPUT",
        {},
        WORKS,
    ),
    (FUNCTIONALITY, "recops verify $PATH_TO_IMAGE $PATH_TO_IMAGE -d $DATASET_ID", {}, WORKS),
    (FUNCTIONALITY, "recops webui", {}, WORKS),
    # `docker run -it recops --help` and `docker exec -it my-recops recops --help`: the image's entrypoint is recops
    (INSTALLATION, "recops --help", {}, WORKS),
    # `docker run ... --detach recops webui --host 0.0.0.0`
    (INSTALLATION, "recops webui --host 0.0.0.0", {}, WORKS),
    (
        ENCRYPT,
        "recops --help",
        {"STORAGE_URI": "file:///mnt/recops/data", "DATABASE_URI": "sqlite:////mnt/recops/data/recops.db"},
        WORKS,
    ),
    (BIN, "recops", {}, WORKS),
]
# The commands of the original's `recops --help`, beyond its docs: the functions that are gone.
GONE = [
    ("recops debug", (2, "debug is gone")),
    (
        "recops dataset-match-faces -d $DATASET_ID -o $PATH_TO_SAVE_OUTPUT --web-uri http://127.0.0.1:5000",
        (2, "--web-uri is gone"),
    ),
]

PHOTOS = os.path.join(SHARED_FACES, "face_recognition")
pytestmark = pytest.mark.skipif(not os.path.isdir(PHOTOS), reason=f"no real photos at {PHOTOS}")


def _copy(target, *names):
    os.makedirs(target, exist_ok=True)
    for name in names:
        shutil.copy(os.path.join(PHOTOS, name), target)
    return str(target)


def recops(line: str, env: dict, cwd) -> subprocess.CompletedProcess:
    args = shlex.split(line)
    assert args[0] == "recops"
    return run(args, env=env, cwd=cwd)


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """A home with one dataset as a user of the original would have it: images, faces, an
    identity of imported folders, a reviewed CSV; made once, copied for each line."""
    base = tmp_path_factory.mktemp("original")
    env = {"RECOPS_HOME": str(base / "home"), "STORAGE_URI": "", "DATABASE_URI": ""}
    made = jsonl(recops("recops dataset-create --detector dlib --basemodel Dlib case", env, base).stdout)[0]
    folders = base / "identities"
    _copy(folders / "obama", "obama/obama.jpg", "obama/obama1.jpg")
    _copy(folders / "kit", "kit_harington/john1.jpeg")
    imported = recops(f"recops dataset-import-identities -d {made['id']} {folders}", env, base)
    assert imported.returncode == 0, imported.stderr
    _copy(base / "images", "obama/obama2.jpg", "kit_harington/john2.jpeg")
    assert recops(f"recops dataset-import-images -d case {base / 'images'}", env, base).returncode == 0
    review = recops(f"recops dataset-match-faces -d case -o {base / 'review'}", env, base)
    assert review.returncode == 0 and len(open(base / "review.csv").readlines()) > 1, review.stderr
    faces = jsonl(recops("recops dataset-list-faces -d case", env, base).stdout)
    return {"base": base, "id": made["id"], "faces": faces}


@pytest.fixture
def home(case, tmp_path):
    """The case's home, copied: each line runs on the state the fixture left."""
    shutil.copytree(case["base"] / "home", tmp_path / "home", symlinks=True)
    shutil.copy(case["base"] / "review.csv", tmp_path / "reviewed.csv")
    return tmp_path


def substituted(line: str, case: dict, where) -> str:
    unlinked = next(f for f in case["faces"] if not f.get("identity"))
    linked = next(f for f in case["faces"] if f.get("identity"))
    values = {
        "$DETECTOR_OPTION": "dlib",
        "$BASEMODEL_OPTION": "Dlib",
        "$DATASET_NAME": "new-case",
        "$DATASET_ID": case["id"],
        "$FACE_ID": unlinked["id"],
        "$IMAGE_ID": unlinked["image"],
        "$IDENTITY_NAME": "jane",
        "$IDENTITY_ID": linked["identity"],
        "$PATH_TO_SAVE_ARCHIVE": str(where / "backup.zip"),
        "$PATH_TO_IMAGES": _copy(
            where / "more", "alex_lacamoire/img1.jpg", "lin_manuel_miranda/lin-manuel-miranda.png"
        ),
        "$PATH_TO_FACES": _copy(where / "faces", "rose_leslie/img1.jpg", "rose_leslie/img2.jpg"),
        "$PATH_TO_IDENTITIES_AND_FACES": os.path.dirname(_copy(where / "people" / "biden", "biden/biden.jpg")),
        "$PATH_TO_SAVE_OUTPUT": str(where / ("output.html" if " recognize " in line else "output")),
        "$PATH_TO_CSV": str(where / "reviewed.csv"),
        "$PATH_TO_IMAGE": os.path.join(PHOTOS, "obama", "obama3.jpg"),
        "/tmp/data": str(where / "data"),
        "/mnt/recops/data": str(where / "mnt"),
    }
    return re.sub("|".join(re.escape(k) for k in sorted(values, key=len, reverse=True)), lambda m: values[m[0]], line)


def serving(args: list[str], env: dict, cwd) -> tuple[int, str]:
    """Start a server as written, wait for it to say where it serves, then Ctrl-C it."""
    process = subprocess.Popen(command(args[0]) + args[1:], env={**os.environ, **env}, cwd=cwd, stderr=subprocess.PIPE)
    said = b""
    try:
        while b"serving on" not in said and process.poll() is None:
            if select.select([process.stderr], [], [], 60)[0]:
                said += process.stderr.readline()
            else:
                break
        process.send_signal(signal.SIGINT)
        process.wait(30)
    finally:
        process.kill()
    text = said.decode()
    if "Address already in use" in text or "address already in use" in text:
        pytest.skip("port 5000 is taken on this machine")
    return (0 if "serving on" in text else process.returncode), text


def outcome(line: str, env: dict, case: dict, where) -> tuple[int, str, str]:
    env = {"RECOPS_HOME": str(where / "home"), "STORAGE_URI": "", "DATABASE_URI": "", **env}
    if env["STORAGE_URI"]:
        env["RECOPS_HOME"] = ""  # the block's exports name the home
        if os.path.exists(where / "backup.zip"):
            zipfile.ZipFile(where / "backup.zip").extractall(where / "data")
    if " webui" in line and "--help" not in line:
        code, said = serving(shlex.split(line), env, where)
        return code, "", said
    done = recops(line, env, where)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


@pytest.mark.parametrize(
    "where, line, env, expected",
    LINES,
    ids=[f"{w.split('/')[-2] if '/' in w else w}: {line}" for w, line, _, _ in LINES],
)
def test_each_line_of_the_originals_docs(home, case, where, line, env, expected):
    lines = [substituted(line, case, home)]
    if "<function>" in line:
        lines = [line.replace("<function>", name) for name in FUNCTIONS]
    if env.get("STORAGE_URI") == "file:///tmp/data":  # the backup that block unzips
        assert outcome(substituted("recops backup -o backup.zip", case, home), {}, case, home)[0] == 0
    for text in lines:
        code, stdout, stderr = outcome(text, {k: substituted(v, case, home) for k, v in env.items()}, case, home)
        if expected is WORKS:
            assert code == 0, f"{text}: exit {code}: {stderr}"
        else:
            assert (code, expected[1] in stderr) == (expected[0], True), f"{text}: exit {code}: {stderr}"
        check_effect(text, stdout, case, home)


def check_effect(text: str, stdout: str, case: dict, where) -> None:
    """What a line that works left behind, where it leaves something to see."""
    if text.endswith("--help"):
        assert stdout.startswith("Usage: recops")
    elif " dataset-match-faces " in text and "--web-uri" not in text:
        assert os.path.isfile(where / "output.csv") and os.path.isfile(where / "output.html")
    elif " recognize " in text:
        assert "<html" in open(where / "output.html").read()
    elif " dataset-cluster-faces " in text:
        assert os.listdir(where / "output")
    elif " verify " in text:
        assert jsonl(stdout.encode())[0]["verified"] is True
    elif text.endswith("recops dataset-list"):
        assert [d["id"] for d in jsonl(stdout.encode())] == [case["id"]]
    elif " backup " in text or " dataset-export " in text:
        assert zipfile.is_zipfile(where / "backup.zip")


@pytest.mark.parametrize("line, expected", GONE, ids=[line for line, _ in GONE])
def test_what_the_original_had_and_recops_has_not_says_what_replaced_it(home, case, line, expected):
    code, _, stderr = outcome(substituted(line, case, home), {}, case, home)
    assert (code, expected[1] in stderr) == (expected[0], True), stderr


def test_the_table_in_docs_original_md_holds_every_line():
    text = open(os.path.join(os.path.dirname(os.path.dirname(__file__)), "docs", "original.md")).read()
    missing = [line for _, line, _, _ in LINES if f"`{line}`" not in text]
    missing += [name for name in FUNCTIONS if f"`{name}`" not in text]
    assert not missing, f"docs/original.md lacks {missing}"
