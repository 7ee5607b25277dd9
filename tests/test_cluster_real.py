"""rx-cluster after the real models, on real photos: LFW people and a group photo."""

import os

import pytest
from conftest import SHARED_FACES, jsonl
from test_real_models import pipeline

pytestmark = pytest.mark.slow
LFW = os.path.join(SHARED_FACES, "lfw")
GROUP = os.path.join(SHARED_FACES, "group", "t1.jpg")
PEOPLE = ("Colin_Powell", "Dick_Cheney", "Hillary_Clinton")


def test_real_faces_cluster_by_person_and_a_group_photo_by_face(tmp_path):
    if not (os.path.isdir(LFW) and os.path.exists(GROUP)):
        pytest.skip("needs ../shared/faces/lfw and ../shared/faces/group")
    photos = [os.path.join(LFW, p, f"{p}_000{n}.jpg") for p in PEOPLE for n in range(1, 5)] + [GROUP]
    command = f"rx-import -d case.rx {' '.join(photos)} | rx-detect | rx-embed | rx-cluster"
    code, out, err = pipeline(command, tmp_path)
    assert code == 0, err.decode()
    records = jsonl(out)
    images = {r["id"]: r for r in records if r["type"] == "image"}
    faces = [r for r in records if r["type"] == "face"]
    cluster_of = {f: c["label"] for c in records if c["type"] == "cluster" for f in c["faces"]}

    def centre(face):
        image = images[face["image"]]
        left, top, right, bottom = face["box"]
        return (left + right - image["width"]) ** 2 + (top + bottom - image["height"]) ** 2

    person_of = {}
    for image in images.values():
        mine = [f for f in faces if f["image"] == image["id"]]
        if image["paths"][0] != GROUP and mine:
            person_of[min(mine, key=centre)["id"]] = os.path.basename(os.path.dirname(image["paths"][0]))
    assert len(person_of) == 12
    labels = {p: {cluster_of[f] for f, q in person_of.items() if q == p} for p in PEOPLE}
    assert all(len(found) == 1 for found in labels.values()) and len(set.union(*labels.values())) == 3
    group = [cluster_of[f["id"]] for f in faces if images[f["image"]]["paths"][0] == GROUP]
    assert len(group) >= 5 and len(set(group)) == len(group)  # faces of one photo: never one cluster
    assert records[-1]["type"] == "clustering" and records[-1]["method"] == "average"
