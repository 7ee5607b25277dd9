"""Face regions of XMP: MWG areas of the stored image and boxes of the displayed one, parsed from
outside data with a hardened parser, read at import from sidecars and from the photo itself."""

import io

import numpy as np
import pytest
from conftest import make_jpeg
from PIL import Image, ImageOps

from recops import regions, xmp
from recops.images import ImageCatalog
from recops.sidecars import candidates, sidecar_name
from recops.stages.importing import Importer
from recops.store.dataset import Dataset
from recops.stream import Emitter


def packet(entries: str, applied: str = "", rdf_attributes: str = "") -> bytes:
    """An XMP packet as exiftool writes one (parseType Resource, every value an element)."""
    return f"""<?xpacket begin='\ufeff' id='W5M0MpCehiHzreSzNTczkc9d'?>
<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>
 <rdf:Description rdf:about='' {rdf_attributes}
  xmlns:mwg-rs='http://www.metadataworkinggroup.com/schemas/regions/'
  xmlns:stArea='http://ns.adobe.com/xmp/sType/Area#' xmlns:stDim='http://ns.adobe.com/xap/1.0/sType/Dimensions#'>
  <mwg-rs:Regions rdf:parseType='Resource'>{applied}<mwg-rs:RegionList><rdf:Bag>{entries}</rdf:Bag>
  </mwg-rs:RegionList></mwg-rs:Regions>
 </rdf:Description></rdf:RDF></x:xmpmeta>
<?xpacket end='w'?>""".encode()


def entry(name, x, y, w, h, kind="Face"):
    named = f"<mwg-rs:Name>{name}</mwg-rs:Name>" if name else ""
    return (
        f"<rdf:li rdf:parseType='Resource'><mwg-rs:Type>{kind}</mwg-rs:Type>{named}"
        f"<mwg-rs:Area rdf:parseType='Resource'><stArea:x>{x}</stArea:x><stArea:y>{y}</stArea:y>"
        f"<stArea:w>{w}</stArea:w><stArea:h>{h}</stArea:h><stArea:unit>normalized</stArea:unit></mwg-rs:Area>"
        "</rdf:li>"
    )


def applied(w, h):
    return f"<mwg-rs:AppliedToDimensions stDim:w='{w}' stDim:h='{h}' stDim:unit='pixel'/>"


def displayed_box_of_black(stored: Image.Image, orientation: int) -> tuple:
    """Where the black pixels of a stored image are once a viewer turns it by its orientation."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    stored.save(out, "PNG", exif=exif.tobytes())
    shown = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(out.getvalue()))).convert("L"))
    rows, cols = np.nonzero(shown < 128)
    return (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1), shown.shape[1], shown.shape[0]


@pytest.mark.parametrize("orientation", range(1, 9))
def test_areas_of_the_stored_image_are_boxes_where_people_see_the_face(orientation):
    stored = Image.new("L", (90, 60), 255)
    stored.paste(0, (9, 30, 36, 42))  # left, top, right, bottom in stored pixels
    expected, width, height = displayed_box_of_black(stored, orientation)
    area = ((9 + 36) / 2 / 90, (30 + 42) / 2 / 60, 27 / 90, 12 / 60)
    assert regions.to_box(area, width, height, orientation) == pytest.approx(expected)
    assert regions.to_area(expected, width, height, orientation) == pytest.approx(area)
    assert regions.stored_size(width, height, orientation) == (90, 60)


def test_every_form_rdf_allows_reads_the_same():
    attributes = (
        b"<?xml version='1.0'?><x:xmpmeta xmlns:x='adobe:ns:meta/'>"
        b"<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>"
        b"<rdf:Description rdf:about='' xmlns:r='http://www.metadataworkinggroup.com/schemas/regions/'"
        b" xmlns:a='http://ns.adobe.com/xmp/sType/Area#' xmlns:d='http://ns.adobe.com/xap/1.0/sType/Dimensions#'>"
        b"<r:Regions><rdf:Description><r:AppliedToDimensions d:w='90' d:h='60' d:unit='pixel'/><r:RegionList>"
        b"<rdf:Seq><rdf:li><rdf:Description r:Name='Jane Doe' r:Type='Face'>"
        b"<r:Area a:x='0.25' a:y='0.6' a:w='0.3' a:h='0.2' a:unit='normalized'/></rdf:Description></rdf:li>"
        b"</rdf:Seq></r:RegionList></rdf:Description></r:Regions></rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    elements = packet(entry("Jane Doe", 0.25, 0.6, 0.3, 0.2), applied(90, 60))
    for data in (attributes, elements):
        found = regions.read(data)
        assert found.faces == [("Jane Doe", (0.25, 0.6, 0.3, 0.2))] and found.applied == (90, 60)
        assert found.boxes(90, 60) == [{"name": "Jane Doe", "box": [9.0, 30.0, 36.0, 42.0]}]


def test_unnamed_pets_and_broken_areas_are_left_out():
    data = packet(
        entry("Jane", 0.5, 0.5, 0.2, 0.2)
        + entry("", 0.2, 0.2, 0.1, 0.1)
        + entry("Rex", 0.7, 0.7, 0.1, 0.1, kind="Pet")
        + entry("Nan", "nan", 0.5, 0.1, 0.1)
        + entry("Flat", 0.5, 0.5, 0, 0.1)
        + entry("Out", 5, 5, 0.1, 0.1)
        + entry("Tiny", 0.5, 0.5, 0.00001, 0.1)  # no pixel wide: no face
        + entry("Edge\t case", 0.98, 0.5, 0.1, 0.1),
    )
    boxes = regions.read(data).boxes(100, 100)
    assert boxes == [
        {"name": "Jane", "box": [40.0, 40.0, 60.0, 60.0]},
        {"name": "Edge case", "box": [93.0, 45.0, 100.0, 55.0]},  # clipped to the image
    ]
    assert regions.read(packet("")).faces == []
    no_regions = packet("").replace(b"mwg-rs:Regions", b"mwg-rs:Other")
    assert regions.read(no_regions) is None


def test_regions_written_in_the_displayed_frame_are_read_as_such():
    # a portrait photo stored landscape (orientation 6), tagged by a writer that used the
    # displayed frame: its AppliedToDimensions is the displayed shape, 60 x 90
    found = regions.read(packet(entry("Jane", 0.5, 0.25, 0.2, 0.1), applied(60, 90)))
    assert found.boxes(60, 90, 6) == [{"name": "Jane", "box": [24.0, 18.0, 36.0, 27.0]}]
    by_the_rule = regions.read(packet(entry("Jane", 0.5, 0.25, 0.2, 0.1), applied(90, 60)))
    assert by_the_rule.boxes(60, 90, 6) != found.boxes(60, 90, 6)


BOMB = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">
]><x:xmpmeta xmlns:x="adobe:ns:meta/">&b;</x:xmpmeta>"""
EXTERNAL = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>"""


@pytest.mark.parametrize(
    "data, why",
    [
        (BOMB, "refused XML"),
        (EXTERNAL, "refused XML"),
        (b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://example.org/x.dtd"><x/>', "refused XML"),
        (b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><unclosed>", "not XML"),
        (b"\x89PNG not xml at all", "not XML"),
        (b"", "not XML"),
        (b"<a>" + b" " * xmp.MAX_XMP + b"</a>", "more than"),
        (packet("<rdf:li rdf:parseType='Resource'>" + "<mwg-rs:X>" * 40 + "</mwg-rs:X>" * 40 + "</rdf:li>"), "nested"),
    ],
)
def test_outside_xml_is_refused_not_followed(data, why):
    with pytest.raises(xmp.XMPError, match=why):
        regions.read(data)


def test_sidecar_names_of_both_conventions():
    assert sidecar_name("IMG_1.JPG", "digikam") == "IMG_1.JPG.xmp"
    assert sidecar_name("IMG_1.JPG", "lightroom") == "IMG_1.xmp"
    assert sidecar_name("README", "lightroom") == "README.xmp"
    assert candidates("a.jpg") == ["a.jpg.xmp", "a.jpg.XMP", "a.xmp", "a.XMP"]


def imported(root, paths):
    records = []
    with Dataset.open(str(root)) as ds, Importer(ds, Emitter(records.append)) as importer:
        importer.add_arguments([str(p) for p in paths])
    return records


def portrait(seed: int) -> bytes:
    """A JPEG stored 90 x 60 that people see 60 x 90 (orientation 6)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return make_jpeg(seed, size=(90, 60), exif=exif.tobytes())


def test_import_keeps_the_regions_of_sidecars_by_either_name_and_of_the_photo_itself(dataset, tmp_path):
    folder = tmp_path / "tagged"
    folder.mkdir()
    stored = packet(entry("Jane Doe", 0.25, 0.6, 0.3, 0.2), applied(90, 60))
    (folder / "a.jpg").write_bytes(portrait(1))
    (folder / "a.jpg.xmp").write_bytes(stored)
    (folder / "b.jpg").write_bytes(portrait(2))
    (folder / "b.xmp").write_bytes(stored)
    inside = Image.open(io.BytesIO(portrait(3)))
    out = io.BytesIO()
    inside.save(out, "JPEG", exif=inside.info["exif"], xmp=stored)
    (folder / "c.jpg").write_bytes(out.getvalue())
    (folder / "d.jpg").write_bytes(portrait(4))
    records = {r["paths"][0].rsplit("/", 1)[1]: r for r in imported(dataset, sorted(folder.glob("*.jpg")))}
    # the area of stored pixels 9..36 x 30..42, turned a quarter clockwise for people
    box = [18.0, 9.0, 30.0, 36.0]
    assert records["a.jpg"]["regions"] == [{"name": "Jane Doe", "box": box}]
    assert records["a.jpg"]["regions_source"] == records["b.jpg"]["regions_source"] == "sidecar"
    assert records["c.jpg"]["regions"] == [{"name": "Jane Doe", "box": box}]
    assert records["c.jpg"]["regions_source"] == "embedded"
    assert "regions" not in records["d.jpg"]


@pytest.mark.parametrize("kind", ["png", "webp", "heic", "avif", "tiff"])
def test_every_format_carries_its_exif_and_the_regions_of_its_own_xmp(dataset, tmp_path, kind):
    import pillow_heif
    from PIL import PngImagePlugin

    pillow_heif.register_heif_opener()
    stored = packet(entry("Jane Doe", 0.25, 0.6, 0.3, 0.2), applied(90, 60))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif.get_ifd(0x8769)[0x9003] = "2021:12:31 23:59:59"
    options = {
        "png": ("PNG", {"pnginfo": PngImagePlugin.PngInfo()}),
        "webp": ("WEBP", {"xmp": stored}),
        "heic": ("HEIF", {"xmp": stored}),
        "avif": ("AVIF", {"xmp": stored}),
        # a TIFF's own tags are its EXIF: Pillow writes them (and no EXIF sub-IFD) from tiffinfo
        "tiff": ("TIFF", {"exif": b"", "tiffinfo": {700: stored, 0x0112: 6, 0x0132: "2021:12:31 23:59:59"}}),
    }[kind]
    if kind == "png":
        options[1]["pnginfo"].add_itxt("XML:com.adobe.xmp", stored.decode())
    out = io.BytesIO()
    options[1].setdefault("exif", exif.tobytes())
    Image.new("RGB", (90, 60), (200, 180, 160)).save(out, options[0], **options[1])
    photo = tmp_path / f"p.{kind}"
    photo.write_bytes(out.getvalue())
    (record,) = imported(dataset, [photo])
    assert (record["width"], record["height"], record["taken"]) == (60, 90, "2021-12-31T23:59:59")
    assert record["regions"] == [{"name": "Jane Doe", "box": [18.0, 9.0, 30.0, 36.0]}]
    assert record["regions_source"] == "embedded"


def test_a_sidecar_edited_after_import_is_read_again_and_its_regions_win(dataset, tmp_path):
    photo = tmp_path / "p.jpg"
    photo.write_bytes(make_jpeg(5, size=(100, 100)))
    (tmp_path / "p.jpg.xmp").write_bytes(packet(entry("Jane", 0.5, 0.5, 0.2, 0.2)))
    (first,) = imported(dataset, [photo])
    assert first["regions"] == [{"name": "Jane", "box": [40.0, 40.0, 60.0, 60.0]}]
    (again,) = imported(dataset, [photo])  # unchanged: nothing written
    (tmp_path / "p.jpg.xmp").write_bytes(packet(entry("Jane Roe", 0.5, 0.5, 0.2, 0.2)))
    (renamed,) = imported(dataset, [photo])
    assert renamed["regions"] == [{"name": "Jane Roe", "box": [40.0, 40.0, 60.0, 60.0]}]
    with Dataset.open(str(dataset)) as ds:
        assert len(list(ds.log("images").records())) == 2
        assert ImageCatalog.of(ds).get(first["id"])["regions"][0]["name"] == "Jane Roe"


def test_a_broken_or_linked_sidecar_is_a_warning_and_the_photo_imports(dataset, tmp_path):
    (tmp_path / "p.jpg").write_bytes(make_jpeg(6))
    (tmp_path / "p.jpg.xmp").write_bytes(BOMB)
    (tmp_path / "q.jpg").write_bytes(make_jpeg(7))
    (tmp_path / "q.xmp").symlink_to("/etc/passwd")
    records = imported(dataset, [tmp_path / "p.jpg", tmp_path / "q.jpg"])
    warnings = [r for r in records if r["type"] == "warning"]
    assert [w["kind"] for w in warnings] == ["bad-xmp", "symlink"]
    assert "p.jpg.xmp: refused XML" in warnings[0]["reason"] and "q.xmp" in warnings[1]["reason"]
    assert [r["type"] for r in records if r["type"] != "warning"] == ["image", "image"]
