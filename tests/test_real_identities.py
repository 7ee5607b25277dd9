"""Enrolment, proposals and links with the real models on real photos, through the real tools."""

import csv
import os

import pytest
from conftest import SHARED_FACES, jsonl
from test_real_models import pipeline

pytestmark = pytest.mark.slow
PEOPLE = os.path.join(SHARED_FACES, "face_recognition")
LFW = os.path.join(SHARED_FACES, "lfw")


@pytest.fixture(scope="module")
def enrolled(tmp_path_factory):
    """obama (with the group photo slipped in) and biden enrolled from folders of links."""
    if not (os.path.isdir(os.path.join(PEOPLE, "obama")) and os.path.isdir(LFW)):
        pytest.skip("needs ../shared/faces/face_recognition and ../shared/faces/lfw")
    work = tmp_path_factory.mktemp("enrol")
    for name, files in {
        "obama": ["obama/obama.jpg", "obama/obama2.jpg", "../group/t1.jpg"],
        "biden": ["biden/biden.jpg", "biden/biden2.jpg"],
    }.items():
        (work / "people" / name).mkdir(parents=True)
        for file in files:
            (work / "people" / name / os.path.basename(file)).symlink_to(os.path.normpath(os.path.join(PEOPLE, file)))
    command = (
        "rx-init case.rx >/dev/null && recops dataset-import-identities people -d ./case.rx "
        "--output-errors errors --output-objects objects.csv"
    )
    code, out, err = pipeline(command, work)
    return work, code, jsonl(out), err.decode()


def test_import_identities_enrols_one_face_per_photo_and_sets_the_group_photo_aside(enrolled):
    work, code, records, err = enrolled
    assert code == 1 and "t1.jpg" in err and "faces found; enrolment needs exactly one" in err
    (error,) = [r for r in records if r["type"] == "error"]
    assert error["kind"] == "not-one-face" and error["faces"] >= 5
    assert os.path.isfile(work / "errors" / "obama" / "t1.jpg")
    identities = {r["name"]: r["faces"] for r in jsonl(pipeline("rx-ls identities -d case.rx", work)[1])}
    assert identities == {"obama": 2, "biden": 2}
    with open(work / "objects.csv") as handle:
        kinds = [row[0] for row in csv.reader(handle)]
    assert kinds.count("Identity") == 2 and kinds.count("Face") == 4 and kinds.count("Image") == 5
    code, out, _ = pipeline("recops dataset-import-identities people -d ./case.rx --output-objects objects.csv", work)
    with open(work / "objects.csv") as handle:
        assert len(list(csv.reader(handle))) == len(kinds)  # a re-run stores no object
    assert code == 1 and [r for r in jsonl(out) if r["type"] == "identity"] == []


def test_lfw_photos_of_biden_are_proposed_as_biden_and_others_as_nobody(enrolled):
    work = enrolled[0]
    others = " ".join(f"'{os.path.join(LFW, name)}'" for name in ("Colin_Powell", "George_W_Bush", "Tony_Blair"))
    command = (
        f"rx-import -d case.rx '{os.path.join(LFW, 'Joseph_Biden')}' | rx-detect | rx-embed >/dev/null && "
        f"find {others} -name '*_000[1-3].jpg' | rx-import -d case.rx | rx-detect | rx-embed >/dev/null && "
        "recops dataset-match-faces -d ./case.rx -o proposals.csv"
    )
    code, out, err = pipeline(command, work)
    assert code == 0, err.decode()
    names = {r["id"]: os.path.basename(r["paths"][0]) for r in jsonl(pipeline("rx-ls -d case.rx", work)[1])}
    proposed = [(names[p["image"]], p["identity_name"]) for p in jsonl(out)]
    assert len([1 for photo, name in proposed if photo.startswith("Joseph_Biden")]) >= 4
    assert all(name == "biden" and photo.startswith("Joseph_Biden") for photo, name in proposed)
    code, out, err = pipeline("recops dataset-link-matched-faces proposals.csv -d ./case.rx", work)
    assert code == 0, err.decode()
    identities = {r["name"]: r["faces"] for r in jsonl(pipeline("rx-ls identities -d case.rx", work)[1])}
    assert identities["biden"] == 2 + len(proposed)


def test_rx_enrol_in_a_pipeline(enrolled, tmp_path):
    work = enrolled[0]
    (tmp_path / "kit_harington").mkdir()
    (tmp_path / "kit_harington" / "john1.jpeg").symlink_to(os.path.join(PEOPLE, "kit_harington", "john1.jpeg"))
    command = f"rx-import -d case.rx '{tmp_path}' | rx-detect | rx-enrol --identity-from-folder | rx-embed"
    code, out, err = pipeline(command, work)
    assert code == 0, err.decode()
    records = jsonl(out)
    assert [r["type"] for r in records] == ["image", "face", "embedding", "identity", "link", "detection"]
    assert records[3]["name"] == "kit_harington" and records[4]["source"] == "enrol"
