"""Writes tests/data/format1.rx: a small dataset of every record type, as recops wrote format 1
before the code was reorganised (commit ec84a07), kept so that a later recops is tested against
what users have on disk. It was made once, with the fake models of conftest.py, by

    .venv/bin/python tests/data/make_format1.py

at that commit; running it again with a later recops would make a dataset of that recops, which
is not the point. Its photos are generated, not anyone's face.
"""

import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from conftest import FakeDetector, FakeEmbedder, make_jpeg  # noqa: E402
from recops import models  # noqa: E402
from recops.stages.chain import Chain  # noqa: E402
from recops.clustering.run import ClusterOptions, cluster_dataset  # noqa: E402
from recops.deletions import Deleter  # noqa: E402
from recops.stages.detection import DetectOptions, FaceDetection  # noqa: E402
from recops.stages.embedding import EmbedOptions, FaceEmbedding  # noqa: E402
from recops.identities import IdentityEditor  # noqa: E402
from recops.stages.importing import Importer  # noqa: E402
from recops.stages.matching import FaceMatching, Matcher  # noqa: E402
from recops.stages.analysis import FaceAnalysis  # noqa: E402
from recops.stages.recognition import recognize  # noqa: E402
from recops.store.dataset import Dataset  # noqa: E402
from recops.datasets import create_dataset  # noqa: E402
from recops.stream import Emitter  # noqa: E402


class FakeAge:
    name = "fake-age"
    attribute = "age"

    def analyse(self, image, faces):
        return [{"age": 30 + n} for n, _ in enumerate(faces)]


def main() -> None:
    target = os.path.join(HERE, "format1.rx")
    photos = os.path.join(HERE, "format1-photos")
    for path in (target, photos):
        shutil.rmtree(path, ignore_errors=True)
    os.makedirs(photos)
    models.register_detector("fake", FakeDetector)
    models.register_embedder("Fake", FakeEmbedder)
    models.register_analyser("fake-age", "age", FakeAge)
    for n in range(4):
        with open(os.path.join(photos, f"p{n}.jpg"), "wb") as handle:
            handle.write(make_jpeg(n, size=(96, 72)))
    create_dataset(target, detector="fake", model="Fake", threshold=50.0, description="format 1 as written").close()
    records: list[dict] = []
    with Dataset.open(target) as dataset:
        imported: list[dict] = []
        with Importer(dataset, Emitter(imported.append), consent=True) as importer:
            importer.add_arguments(sorted(os.path.join(photos, n) for n in os.listdir(photos))[:3])
        chain = Chain()
        chain.add(lambda e: FaceDetection(e, DetectOptions("fake"), dataset))
        chain.add(lambda e: FaceEmbedding(e, EmbedOptions("Fake"), dataset))
        chain.add(lambda e: FaceMatching(e, Matcher(dataset), save=True))
        records = chain.run(imported)
        faces = [r for r in records if r["type"] == "face"]
        editor = IdentityEditor(dataset)
        ada = editor.create("Ada", "a person", "#ff7a00")
        editor.link(faces[0]["id"], ada["id"])
        editor.link(faces[1]["id"], ada["id"], op="reject")
        Deleter(dataset).delete(faces[2]["id"])
        FaceAnalysis(Emitter(records.append), {"age": "fake-age"}, dataset).run(faces[:2])
        dataset.flush()
        cluster_dataset(dataset, ClusterOptions(threshold=50.0))
        recognize(dataset, [os.path.join(photos, "p3.jpg")], Emitter(records.append))
    shutil.rmtree(photos)
    for local in ("cache", "lock"):  # this machine's, not the format's
        path = os.path.join(target, local)
        shutil.rmtree(path) if os.path.isdir(path) else os.unlink(path)


if __name__ == "__main__":
    main()
