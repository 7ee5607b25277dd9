"""What the original recops's users bring: its boolean spellings, model names, environment, report
templates and habits (a backup of everything, -o NAME for two files, ids without -d), and what
answers the functions that are gone."""

import csv
import json
import os
import socket
import zipfile

import pytest
from conftest import jsonl, run
from gallery import add_face, hexid
from test_report import I1, I2, C, Q, render, two_photos  # noqa: F401 (two_photos: a fixture)
from typer.testing import CliRunner

from recops.backup import restore
from recops.cli import porcelain
from recops.cli.porcelain.spellings import todays
from recops.datasets import create_dataset
from recops.errors import DatasetError, UsageError
from recops.identities import IdentityEditor
from recops.store.dataset import Dataset, home
from recops.store.original_uris import folder_of


@pytest.mark.parametrize(
    "given, today",
    [
        (["--consent", "True"], ["--consent"]),
        (["--consent", "false"], ["--no-consent"]),
        (["--consent=YES"], ["--consent"]),
        (["--consent", " n "], ["--no-consent"]),
        (["--identified-faces", "1"], ["--identified-faces"]),
        (["--identified-faces", "f", "x.jpg"], ["x.jpg"]),
        (["--consent", "x.jpg"], ["--consent", "x.jpg"]),
        (["--consent"], ["--consent"]),
        (["--align", "True"], ["--align", "True"]),
        (["--", "--consent", "True"], ["--", "--consent", "True"]),
        (["--consent=maybe"], ["--consent=maybe"]),
    ],
)
def test_the_originals_boolean_spellings_become_todays_flags(given, today):
    assert todays(["recognize", *given]) == ["recognize", *today]


@pytest.fixture
def fake_case(tmp_path, fake_models):
    root = str(tmp_path / "case.rx")
    create_dataset(root, "fake", "Fake", threshold=0.5).close()
    photo = tmp_path / "one.jpg"
    from test_report import write_photo

    write_photo(photo)
    return root, str(photo)


def test_recognize_takes_consent_true_and_identified_faces_false(fake_case, tmp_path):
    root, photo = fake_case
    out = tmp_path / "seen.jsonl"
    args = ["recognize", photo, "-d", root, "--consent", "True", "--identified-faces", "False", "-o", str(out)]
    done = CliRunner().invoke(porcelain.app, args)
    assert done.exit_code == 0, done.output
    (image,) = [r for r in jsonl(out.read_bytes()) if r["type"] == "image"]
    assert image["consent"] is True


def test_a_report_is_not_written_over_a_file_without_force(fake_case, tmp_path):
    root, photo = fake_case
    out = tmp_path / "seen.jsonl"
    out.write_text("mine\n")
    refused = CliRunner().invoke(porcelain.app, ["recognize", photo, "-d", root, "-o", str(out)])
    assert refused.exit_code == 2 and "exists; give --force" in refused.stderr and out.read_text() == "mine\n"
    done = CliRunner().invoke(porcelain.app, ["recognize", photo, "-d", root, "-o", str(out), "--force"])
    assert done.exit_code == 0 and out.read_text() != "mine\n"


def test_the_originals_model_names_are_mapped_with_a_note_and_boosting_is_refused(tmp_path):
    env = {"RECOPS_HOME": str(tmp_path)}
    made = run(["recops", "dataset-create", "old", "--detector", "DlibWrapper", "--basemodel", "DlibResNet"], env=env)
    assert made.returncode == 0, made.stderr
    (record,) = jsonl(made.stdout)
    assert (record["detector"], record["model"]) == ("dlib", "Dlib")
    assert b"model 'DlibResNet' is the original recops's name for 'Dlib'" in made.stderr
    vgg = run(["rx-init", str(tmp_path / "vgg"), "--model", "VGGFace", "--threshold", "0.4"])
    assert vgg.returncode == 0 and jsonl(vgg.stdout)[0]["model"] == "VGG-Face"
    boosting = run(["recops", "dataset-create", "b", "--basemodel", "Boosting"], env=env)
    assert boosting.returncode == 2 and b"'Boosting' of the original recops has no equivalent" in boosting.stderr
    assert not os.path.exists(tmp_path / "b")


def test_debug_and_web_uri_say_what_replaces_them(tmp_path):
    debug = run(["recops", "debug"])
    assert debug.returncode == 2 and b"debug is gone" in debug.stderr and b"--log-level DEBUG" in debug.stderr
    web = run(["recops", "dataset-match-faces", "-d", str(tmp_path), "-o", "x", "--web-uri", "http://127.0.0.1:5000"])
    assert web.returncode == 2 and b"--web-uri is gone" in web.stderr and not os.path.exists("x.csv")


@pytest.fixture
def gallery_case(tmp_path):
    """Faces 0 and 1 near each other, 0 Ada's; face 4 far from both."""
    root = tmp_path / "home" / "case"
    root.parent.mkdir()
    create_dataset(str(root), threshold=0.3).close()
    with Dataset.open(str(root)) as dataset:
        for n, (image, vector) in enumerate([(0, [1, 0, 0, 0]), (1, [1, 0.1, 0, 0])]):
            add_face(dataset, n, image, vector)
        add_face(dataset, 4, 4, [0, 0, 1, 0])
        editor = IdentityEditor(dataset)
        editor.link(hexid(0), editor.create("Ada")["id"])
    return str(root)


def test_match_faces_to_a_name_without_extension_writes_its_csv_and_html(gallery_case, tmp_path):
    review = tmp_path / "review"
    done = run(["recops", "dataset-match-faces", "-d", gallery_case, "-o", str(review)])
    # faces written straight in have no pixels: the sheet shows them by id, and says so
    assert done.returncode == 1 and b"neither in a dataset nor inline" in done.stderr
    assert not review.exists() and "Proposed links for review" in (tmp_path / "review.html").read_text()
    rows = list(csv.reader(open(tmp_path / "review.csv")))
    assert [r[0] for r in rows[1:]] == [hexid(1)]
    again = run(["recops", "dataset-match-faces", "-d", gallery_case, "-o", str(review)])
    assert again.returncode == 2 and b"review.csv: exists; give --force" in again.stderr
    assert run(["recops", "dataset-match-faces", "-d", gallery_case, "-o", str(review), "--force"]).returncode == 1
    one = run(["recops", "dataset-match-faces", "-d", gallery_case, "-o", str(tmp_path / "one.csv")])
    assert one.returncode == 0 and sorted(os.listdir(tmp_path)) == ["home", "one.csv", "review.csv", "review.html"]


def test_ids_without_a_dataset_are_looked_for_in_every_dataset(gallery_case, tmp_path):
    env = {"RECOPS_HOME": str(tmp_path / "home")}
    rows = tmp_path / "reviewed.csv"
    with Dataset.open(gallery_case) as dataset:
        ada = IdentityEditor(dataset).require("Ada")["id"]
    rows.write_text(f"{hexid(1)},{ada}\n")
    linked = run(["recops", "dataset-link-matched-faces", str(rows)], env=env)
    assert linked.returncode == 0, linked.stderr
    assert run(["recops", "identity-link", ada[:8], hexid(4)], env=env).returncode == 0
    faces = jsonl(run(["recops", "dataset-list-faces", "-d", "case"], env=env).stdout)
    assert sorted(f["identity"] == ada for f in faces) == [True, True, True]
    assert run(["recops", "face-delete", hexid(4)], env=env).returncode == 0
    assert run(["recops", "image-delete", hexid(1, "a")], env=env).returncode == 0
    unknown = run(["recops", "face-delete", "abcdef12"], env=env)
    assert unknown.returncode == 2 and b"no dataset under" in unknown.stderr and b"give -d" in unknown.stderr
    create_dataset(str(tmp_path / "home" / "copy"), threshold=0.3).close()
    with Dataset.open(str(tmp_path / "home" / "copy")) as copy:
        add_face(copy, 0, 0, [1, 0, 0, 0])
    twice = run(["recops", "face-delete", hexid(0)], env=env)
    assert twice.returncode == 2 and b"is in 2 datasets" in twice.stderr
    assert run(["recops", "identity-delete", "Ada"], env=env).returncode == 0


def test_backup_without_d_holds_every_dataset_and_restores(tmp_path, photos):
    home_dir = tmp_path / "home"
    first = str(home_dir / "case")
    for root in (first, str(home_dir / "cases" / "second")):
        create_dataset(root, threshold=0.2).close()
    assert run(["rx-import", "-d", first, str(photos)]).returncode == 0
    env = {"RECOPS_HOME": str(home_dir)}
    archive = tmp_path / "all.zip"
    done = run(["recops", "backup", "-o", str(archive)], env=env)
    assert done.returncode == 0, done.stderr
    (record,) = jsonl(done.stdout)
    assert record["datasets"] == [first, str(home_dir / "cases" / "second")]
    names = zipfile.ZipFile(archive).namelist()
    assert "case/recops.json" in names and "cases/second/recops.json" in names
    back = run(["recops", "restore", str(archive), str(tmp_path / "back")])
    assert back.returncode == 0, back.stderr
    assert [r["type"] for r in jsonl(back.stdout)] == ["restore", "fsck", "fsck"]
    listed = jsonl(run(["recops", "dataset-list"], env={"RECOPS_HOME": str(tmp_path / "back")}).stdout)
    assert [(d["path"], d["images"]) for d in listed] == [
        (str(tmp_path / "back" / "case"), 5),
        (str(tmp_path / "back" / "cases" / "second"), 0),
    ]
    # the original's way back: unzip, and point STORAGE_URI (or DATABASE_URI) there
    zipfile.ZipFile(archive).extractall(tmp_path / "data")
    for variable, value in [("STORAGE_URI", "file://{}"), ("DATABASE_URI", "sqlite:///{}/recops.db")]:
        env = {"RECOPS_HOME": "", variable: value.format(tmp_path / "data")}
        assert len(jsonl(run(["recops", "dataset-list"], env=env).stdout)) == 2
    (tmp_path / "empty").mkdir()
    empty = run(["recops", "backup", "-o", str(tmp_path / "none.zip")], env={"RECOPS_HOME": str(tmp_path / "empty")})
    assert empty.returncode == 2 and b"no datasets to back up" in empty.stderr


@pytest.mark.parametrize(
    "names, reason",
    [
        (["a/recops.json", "a/objects/recops.json"], "a dataset inside the dataset"),
        ([".hidden/recops.json"], "no recops.json at the top, nor in folders"),
        (["a/recops.json", "b/objects/ab/" + "c" * 30], "is not part of a dataset"),
        (["a/recops.json", "a/lock"], "is not part of a dataset"),
    ],
)
def test_a_backup_of_several_is_held_to_the_layout_of_each(tmp_path, names, reason):
    config = json.dumps({"format": 1, "detector": "fake", "model": "Fake", "metric": "cosine", "threshold": None})
    archive = tmp_path / "x.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for name in names:
            handle.writestr(name, config if name.endswith("recops.json") else b"x")
    with pytest.raises(DatasetError, match=reason):
        restore(str(archive), str(tmp_path / "back"))
    assert not (tmp_path / "back").exists()


@pytest.mark.parametrize(
    "variable, uri, folder",
    [
        ("STORAGE_URI", "file:///data/recops", "/data/recops"),
        ("STORAGE_URI", "file://localhost/data/recops", "/data/recops"),
        ("DATABASE_URI", "sqlite:////data/recops/recops.db", "/data/recops"),
        ("DATABASE_URI", "sqlite:///recops.db", "."),
        ("DATABASE_URI", "sqlite:///data/recops.db", "data"),
    ],
)
def test_the_originals_uris_name_the_folder_of_the_datasets(variable, uri, folder):
    assert folder_of(variable, uri) == folder


@pytest.mark.parametrize(
    "variable, uri, reason",
    [
        ("DATABASE_URI", "postgresql://user@db/recops", "names a postgresql database"),
        ("DATABASE_URI", "sqlite://", "names no database file"),
        ("DATABASE_URI", "sqlite:///:memory:", "names no database file"),
        ("STORAGE_URI", "s3://bucket/recops", "names s3:// storage"),
        ("STORAGE_URI", "/data/recops", "names a bare path"),
        ("STORAGE_URI", "file://server/data", "a folder on server"),
        ("STORAGE_URI", "file:data", "absolute path"),
        ("STORAGE_URI", "file:///data?x=1", "query"),
        ("STORAGE_URI", "file:///da\nta", "control character"),
    ],
)
def test_what_recops_does_not_do_is_refused_with_the_reason(variable, uri, reason):
    with pytest.raises(UsageError, match=reason):
        folder_of(variable, uri)


def test_recops_home_wins_then_storage_uri_then_database_uri(monkeypatch):
    monkeypatch.setenv("RECOPS_HOME", "/home-wins")
    monkeypatch.setenv("STORAGE_URI", "s3://never-read")
    monkeypatch.setenv("DATABASE_URI", "sqlite:////db/recops.db")
    assert home() == "/home-wins"
    monkeypatch.setenv("RECOPS_HOME", "")
    monkeypatch.setenv("STORAGE_URI", "file:///storage")
    assert home() == "/storage"
    monkeypatch.delenv("STORAGE_URI")
    assert home() == "/db"


def test_a_bad_uri_stops_a_command_that_needs_the_home_with_its_reason(tmp_path):
    env = {"RECOPS_HOME": "", "DATABASE_URI": "postgresql://db/recops"}
    listed = run(["recops", "dataset-list"], env=env)
    assert listed.returncode == 2 and b"no database" in listed.stderr and b"RECOPS_HOME" in listed.stderr
    named = run(["recops", "dataset-list-faces", "-d", "case"], env=env)
    assert named.returncode == 2 and b"postgresql" in named.stderr
    by_path = run(["recops", "dataset-list-faces", "-d", str(tmp_path / "nowhere")], env=env)
    assert by_path.returncode == 3  # a path needs no home: the URI is not read


# The expressions of the original's templates/image-view.html.j2 (and image-blur-view's), as a
# template made from them reads them.
ORIGINAL_TEMPLATE = """<title>{{ img.id }}</title>
<svg width="{{ img.width }}" height="{{ img.height }}"><image href="{{ img.datauri }}"/>
{% for detected_face in img.detected_faces %}<rect x="{{ detected_face.box_left }}"
 y="{{ detected_face.box_top }}" width="{{ detected_face.box_right - detected_face.box_left }}"
 stroke="{{ detected_face.color(threshold=threshold) }}"/>
<text>{{ detected_face.short_id }}</text>{% endfor %}</svg>
<dd>{{ img.checksum }}</dd><dd>{{ img.dataset.id }}</dd><dd>{{ img.dataset.name }}</dd>
<dd>faces {{ img.detected_faces | length }}</dd><dd>identities {{ img.dataset.identities | length }}</dd>
{% for detected_face in img.detected_faces %}<img src="{{ detected_face.datauri }}" alt="{{ detected_face.id }}">
{{ detected_face.checksum }}
{% for matched_assoc in detected_face.filter_matched_faces(maximum=maximum, identified_faces=identified_faces,
   exclude_identities=exclude_identities, threshold=threshold) %}
<img class=face src="{{ matched_assoc.face.datauri }}"><dd>distance {{ matched_assoc.distance }}</dd>
{% for idn in matched_assoc.face.identities %}<dd><b>{{ idn.name }}</b> ID: {{ idn.id }}</dd>{% endfor %}
<dd>{{ matched_assoc.face.id }} {{ matched_assoc.face.checksum }}</dd>
<dd>{% if threshold %}{{ threshold }}{% else %}{{ matched_assoc.threshold }}{% endif %}</dd>
{% if include_extended_fields %}{% if matched_assoc.face.gender %}{{ matched_assoc.face.gender }}{% endif %}{% endif %}
{% endfor %}{% endfor %}"""


def test_the_originals_recognize_template_gets_what_it_reads(two_photos, tmp_path):  # noqa: F811
    template = tmp_path / "image-view.html.j2"
    template.write_text(ORIGINAL_TEMPLATE)
    html, emitted = render(two_photos, tmp_path, template=str(template), settings={"maximum": 10})
    assert f"<title>{I1}</title>" in html and 'width="800" height="600"' in html
    assert html.count("data:image/jpeg;base64,") == 3  # the photo, its face, the match
    assert 'stroke="#ff8800"' in html and f"<text>{Q[:8]}</text>" in html  # Ada's colour: her face matched
    assert f"<b>Ada</b> ID: {'a' * 32}" in html and "distance 0.03" in html and f"{C} {C}" in html
    # the original showed one photo a report: the second is not in it, and says so
    (error,) = [r for r in emitted if r["type"] == "error"]
    assert error["input"] == I2 and error["kind"] == "one-photo-template"
    assert emitted[-1]["type"] == "report"
    template.write_text("{{ threshold }}{% for e in images %}{{ e.photo.image }} {% endfor %}")
    html, emitted = render(two_photos, tmp_path, template=str(template), settings={"threshold": 0.01})
    assert html == f"{I1} {I2} " and [r["type"] for r in emitted] == ["report"]  # today's template: as it was
    template.write_text(ORIGINAL_TEMPLATE)
    only_identified = render(two_photos, tmp_path, template=str(template), settings={"threshold": 0.01})[0]
    assert "distance" not in only_identified and 'stroke="#fea805"' in only_identified


def test_the_originals_template_reaches_no_further_in_the_sandbox(two_photos, tmp_path):  # noqa: F811
    template = tmp_path / "evil.html.j2"
    template.write_text("[{{ img.detected_faces[0].color.__globals__ }}]")
    assert render(two_photos, tmp_path, template=str(template))[0] == "[]"
    template.write_text("{{ img.__init__.__globals__['os'].getcwd() }}")
    with pytest.raises(UsageError, match="SecurityError: access to attribute '__init__' of 'Image' object is unsafe"):
        render(two_photos, tmp_path, template=str(template))


def test_webui_on_a_port_that_is_taken_says_so(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        done = run(["recops", "webui", "-p", port], env={"RECOPS_HOME": str(tmp_path)})
    assert done.returncode == 2 and f"cannot listen on 127.0.0.1:{port}: Address already in use".encode() in done.stderr
