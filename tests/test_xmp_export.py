"""rx-export's XMP sidecars, read back by exiftool and exiv2 as the regions written; sidecars
that exist are refused or merged; and proposals and links from the regions a photo came with."""

import io
import json
import os
import shutil
import subprocess

import pytest
from conftest import make_jpeg, run
from PIL import Image

from recops import models
from recops.datasets import create_dataset
from recops.identities import IdentityEditor, IdentityView
from recops.region_proposals import region_proposals
from recops.review import ReviewOptions, link_matched_faces, proposal_rows, proposals
from recops.shapes import problem
from recops.sidecar_export import SidecarOptions, export_sidecars
from recops.stages.detection import DetectOptions, FaceDetection
from recops.stages.importing import Importer
from recops.store.dataset import Dataset
from recops.stream import Emitter

EXIFTOOL = shutil.which("exiftool")
EXIV2 = shutil.which("exiv2")
needs_exiftool = pytest.mark.skipif(
    EXIFTOOL is None, reason="exiftool is not installed (Debian libimage-exiftool-perl; make test installs it)"
)


class OffCentre:
    """One face at a tenth to three tenths across and a fifth to three fifths down, in the
    pixels people see: an asymmetric box, so a wrong turn shows."""

    name = "offcentre"

    def detect(self, image):
        from recops.models import FoundFace

        h, w = image.shape[:2]
        return [FoundFace((w // 10, h // 5, 3 * w // 10, 3 * h // 5), 0.9, {}, "offcentre")]


@pytest.fixture
def offcentre():
    models.register_detector("offcentre", OffCentre)
    yield
    models._detector_factories.pop("offcentre", None)


def portrait(seed: int) -> bytes:
    """Stored 200 x 100, seen 100 x 200 (orientation 6: turned a quarter clockwise)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return make_jpeg(seed, size=(200, 100), exif=exif.tobytes())


@pytest.fixture
def named(tmp_path, offcentre):
    """A dataset of two photos with one face each: p.jpg (a portrait) of Jane Doe, and
    l.jpg (landscape, 100 x 60) of nobody known."""
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "p.jpg").write_bytes(portrait(1))
    (photos / "l.jpg").write_bytes(make_jpeg(2, size=(100, 60)))
    root = str(tmp_path / "case.rx")
    create_dataset(root, detector="offcentre").close()
    with Dataset.open(root) as ds:
        images = []
        with Importer(ds, Emitter(images.append)) as importer:
            importer.add_arguments([str(photos / "p.jpg"), str(photos / "l.jpg")])
        found = []
        FaceDetection(Emitter(found.append), DetectOptions("offcentre"), ds, 1).run(images)
        faces = [r for r in found if r["type"] == "face"]
        editor = IdentityEditor(ds)
        editor.link(faces[0]["id"], editor.create("Jane Doe")["id"])
        ds.flush()
    return root, photos, faces


def exported(root, **options) -> list[dict]:
    out = []
    with Dataset.open(root) as ds:
        export_sidecars(ds, SidecarOptions(**options), Emitter(out.append))
    return out


def exiftool_regions(path) -> dict:
    result = subprocess.run(
        [EXIFTOOL, "-j", "-struct", "-XMP-mwg-rs:RegionInfo", "-XMP-dc:Title", str(path)],
        capture_output=True,
        check=True,
    )
    return json.loads(result.stdout)[0]


@needs_exiftool
def test_a_sidecar_reads_back_in_exiftool_as_the_regions_written(named, tmp_path):
    root, photos, faces = named
    assert faces[0]["box"] == [10, 40, 30, 120]  # in the 100 x 200 pixels people see
    (record,) = exported(root, folder=str(tmp_path / "xmp"))
    assert record["file"] == str(tmp_path / "xmp" / "p.jpg.xmp") and record["faces"] == 1
    assert oct(os.stat(record["file"]).st_mode & 0o777) == "0o600"
    info = exiftool_regions(record["file"])["RegionInfo"]
    # MWG: areas of the stored image, 200 x 100; seen turned a quarter clockwise, the box's
    # x from 0.1 to 0.3 and y from 0.2 to 0.6 are the stored image's y from 0.7 to 0.9 and x
    # from 0.2 to 0.6
    assert info["AppliedToDimensions"] == {"W": 200, "H": 100, "Unit": "pixel"}
    (region,) = info["RegionList"]
    assert (region["Name"], region["Type"], region["Area"]["Unit"]) == ("Jane Doe", "Face", "normalized")
    area = [region["Area"][k] for k in ("X", "Y", "W", "H")]
    assert area == pytest.approx([0.4, 0.8, 0.4, 0.2], abs=1e-6)


@pytest.mark.skipif(EXIV2 is None, reason="exiv2 is not installed (Debian exiv2; make test installs it)")
def test_exiv2_reads_the_same_regions(named, tmp_path):
    root, _, _ = named
    with Dataset.open(root) as ds:
        IdentityEditor(ds).update("Jane Doe", name="Jane\x07Doe")  # XML holds no control character
    assert len(exported(root, folder=str(tmp_path / "xmp"), unnamed=True)) == 2
    values = {}
    for path in (tmp_path / "xmp" / "p.jpg.xmp", tmp_path / "xmp" / "l.jpg.xmp"):
        listing = subprocess.run([EXIV2, "-px", str(path)], capture_output=True, text=True, check=True).stdout
        values[path.name] = {line.split()[0]: line.split(None, 3)[3] for line in listing.splitlines()}
    jane = values["p.jpg.xmp"]
    key = "Xmp.mwg-rs.Regions/mwg-rs:RegionList[1]/mwg-rs:"
    assert jane[key + "Name"] == "Jane Doe" and jane[key + "Type"] == "Face"
    area = [float(jane[f"{key}Area/stArea:{k}"]) for k in "xywh"]
    assert area == pytest.approx([0.4, 0.8, 0.4, 0.2], abs=1e-6)
    nobody = values["l.jpg.xmp"]
    assert key + "Name" not in nobody and nobody[key + "Type"] == "Face"
    assert [float(nobody[f"{key}Area/stArea:{k}"]) for k in "xywh"] == pytest.approx([0.2, 0.4, 0.2, 0.4])


def test_a_sidecar_written_is_read_back_at_import_as_the_face_it_came_from(named, tmp_path):
    root, photos, faces = named
    exported(root, folder=str(photos), convention="lightroom")
    assert (photos / "p.xmp").exists()
    create_dataset(str(tmp_path / "again.rx")).close()
    with Dataset.open(str(tmp_path / "again.rx")) as ds:
        images = []
        with Importer(ds, Emitter(images.append)) as importer:
            importer.add_arguments([str(photos / "p.jpg")])
    assert images[0]["regions"] == [{"name": "Jane Doe", "box": [10.0, 40.0, 30.0, 120.0]}]


@needs_exiftool
def test_a_sidecar_that_exists_is_refused_unless_merged_and_merging_keeps_the_rest(named, tmp_path):
    root, photos, _ = named
    sidecar = photos / "p.jpg.xmp"
    # as digiKam would have it: a title, Jane's face tagged under an old name, and someone else
    regions = (
        "{AppliedToDimensions={W=200,H=100,Unit=pixel},RegionList=["
        "{Area={X=0.41,Y=0.8,W=0.42,H=0.22,Unit=normalized},Name=Old name,Type=Face},"
        "{Area={X=0.8,Y=0.2,W=0.1,H=0.1,Unit=normalized},Name=Someone else,Type=Face}]}"
    )
    tags = ["-XMP-dc:Title=Garden", f"-XMP-mwg-rs:RegionInfo={regions}"]
    subprocess.run([EXIFTOOL, "-q", *tags, str(sidecar)], check=True)
    before = sidecar.read_bytes()
    os.chmod(sidecar, 0o644)

    refused = run(["rx-export", "-d", root, "--beside"], stdin=subprocess.DEVNULL)
    (error,) = [json.loads(line) for line in refused.stdout.splitlines()]
    assert refused.returncode == 1 and error["kind"] == "sidecar-exists" and error["input"] == str(sidecar)
    assert b"--merge" in refused.stderr and sidecar.read_bytes() == before

    merged = run(["rx-export", "-d", root, "--beside", "--merge"], stdin=subprocess.DEVNULL)
    (record,) = [json.loads(line) for line in merged.stdout.splitlines()]
    assert merged.returncode == 0 and record["merged"] is True and record["unchanged"] is False
    read = exiftool_regions(sidecar)
    assert read["Title"] == "Garden" and oct(os.stat(sidecar).st_mode & 0o777) == "0o644"
    assert [r["Name"] for r in read["RegionInfo"]["RegionList"]] == ["Jane Doe", "Someone else"]
    again = run(["rx-export", "-d", root, "--beside", "--merge"], stdin=subprocess.DEVNULL)
    assert json.loads(again.stdout)["unchanged"] is True


def test_folders_of_originals_are_kept_below_their_common_folder_and_links_are_not_followed(tmp_path, offcentre):
    for folder in ("trip/day1", "trip/day2"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "IMG_1.JPG").write_bytes(make_jpeg(len(folder) + folder.count("2")))
    root = str(tmp_path / "case.rx")
    create_dataset(root, detector="offcentre").close()
    with Dataset.open(root) as ds:
        images = []
        with Importer(ds, Emitter(images.append)) as importer:
            importer.add_arguments([str(tmp_path / "trip")])
        FaceDetection(Emitter([].append), DetectOptions("offcentre"), ds, 1).run(images)
        ds.flush()
    out = tmp_path / "out"
    out.mkdir()
    (out / "day2").symlink_to(tmp_path / "elsewhere")
    records = exported(root, folder=str(out), unnamed=True)
    assert (out / "day1" / "IMG_1.JPG.xmp").is_file() and not (tmp_path / "elsewhere").exists()
    assert [(r["type"], r.get("kind")) for r in records] == [("sidecar", None), ("error", "unwritable")]
    assert "symbolic link" in records[1]["reason"]
    assert exported(root, folder=str(tmp_path / "named")) == []  # nobody named: nothing to write


def test_images_chosen_on_stdin_and_originals_gone(named, tmp_path):
    root, photos, faces = named
    chosen = json.dumps({"type": "face", "id": faces[1]["id"], "image": faces[1]["image"], "box": [0, 0, 1, 1]})
    result = run(["rx-export", "-d", root, "--xmp", str(tmp_path / "x"), "--unnamed"], input=chosen.encode())
    (record,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 0 and record["file"].endswith("/x/l.jpg.xmp")
    os.remove(photos / "l.jpg")
    beside = exported(root, unnamed=True)
    assert [(r["type"], r.get("kind")) for r in beside] == [("sidecar", None), ("warning", "missing")]
    usage = run(["rx-export", "-d", root], stdin=subprocess.DEVNULL)
    assert usage.returncode == 2 and b"--xmp DIR or --beside" in usage.stderr


def sidecar(*regions: tuple) -> bytes:
    """Lightroom's way: every value an attribute."""
    listed = "".join(
        f'<rdf:li><rdf:Description mwg-rs:Name="{name}" mwg-rs:Type="Face"><mwg-rs:Area stArea:x="{x}" '
        f'stArea:y="{y}" stArea:w="{w}" stArea:h="{h}" stArea:unit="normalized"/></rdf:Description></rdf:li>'
        for name, x, y, w, h in regions
    )
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/" '
        'xmlns:stArea="http://ns.adobe.com/xmp/sType/Area#"><mwg-rs:Regions rdf:parseType="Resource">'
        f"<mwg-rs:RegionList><rdf:Bag>{listed}</rdf:Bag></mwg-rs:RegionList></mwg-rs:Regions>"
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    ).encode()


def test_regions_are_proposed_for_the_faces_they_cover_and_applied_as_links(named):
    root, photos, faces = named
    jane_face, other_face = faces[0]["id"], faces[1]["id"]
    # p.jpg's face (stored area 0.4, 0.8, 0.4, 0.2) is Jane's, but a person unlinked her; l.jpg's
    # face (0.2, 0.4, 0.2, 0.4 of a landscape) is under Ann's region; Nobody's covers no face
    (photos / "p.jpg.xmp").write_bytes(sidecar(("Jane Doe", 0.4, 0.8, 0.45, 0.25), ("Nobody", 0.1, 0.1, 0.1, 0.1)))
    (photos / "l.xmp").write_bytes(sidecar(("Ann Lee", 0.21, 0.4, 0.25, 0.45)))
    with Dataset.open(root) as ds:
        editor = IdentityEditor(ds)
        editor.link(jane_face, IdentityView.of(ds).find("Jane Doe")["id"], "unlink")
        with Importer(ds, Emitter([].append)) as importer:
            importer.add_arguments([str(photos)])
        (proposal,) = proposals(ds, ReviewOptions())
        assert (proposal["face"], proposal["identity_name"], proposal["source"]) == (other_face, "Ann Lee", "xmp")
        assert "identity" not in proposal and 0.5 < proposal["overlap"] < 1 and problem(proposal) is None
        assert problem({k: v for k, v in proposal.items() if k != "source"}).endswith("an identity_name)")
        assert proposals(ds, ReviewOptions(regions=False)) == []
        assert region_proposals(ds, min_overlap=0.9) == []
        assert region_proposals(ds, excluded=("Ann Lee",)) == []

        out = []
        link_matched_faces(ds, proposal_rows([proposal], Emitter(out.append)), Emitter(out.append))
        identity, link = out
        assert identity["type"] == "identity" and identity["name"] == "Ann Lee"
        assert (link["face"], link["identity"], link["source"]) == (other_face, identity["id"], "xmp")
        assert proposals(ds, ReviewOptions()) == []  # linked now

        editor.link(other_face, identity["id"], "unlink")
        assert region_proposals(ds) == []  # a person's decision stands
        editor.link(jane_face, IdentityView.of(ds).find("Jane Doe")["id"], "link")
        editor.link(jane_face, identity["id"], "link")  # by hand: Ann, against the region
        assert region_proposals(ds) == []


def test_regions_are_of_the_first_picture_of_a_multi_page_image(tmp_path, offcentre):
    out = io.BytesIO()
    first, second = (Image.new("RGB", (100, 60), colour) for colour in ((10, 20, 30), (200, 100, 50)))
    first.save(out, "TIFF", save_all=True, append_images=[second])
    (tmp_path / "scan.tif").write_bytes(out.getvalue())
    (tmp_path / "scan.tif.xmp").write_bytes(sidecar(("Ann Lee", 0.2, 0.4, 0.2, 0.4)))
    root = str(tmp_path / "case.rx")
    create_dataset(root, detector="offcentre").close()
    with Dataset.open(root) as ds:
        images, found = [], []
        with Importer(ds, Emitter(images.append)) as importer:
            importer.add_arguments([str(tmp_path / "scan.tif")])
        FaceDetection(Emitter(found.append), DetectOptions("offcentre"), ds, 1).run(images)
        faces = [r for r in found if r["type"] == "face"]
        assert [f.get("page", 0) for f in faces] == [0, 1]  # the same box on each page
        (proposal,) = proposals(ds, ReviewOptions())
        assert proposal["face"] == faces[0]["id"] and proposal["identity_name"] == "Ann Lee"
        ds.flush()
    (record,) = exported(root, folder=str(tmp_path / "xmp"), unnamed=True)
    assert record["faces"] == 1
