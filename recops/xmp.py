"""XMP packets: read from outside, and written with the Metadata Working Group's face regions.

An XMP packet (embedded in a photo, or a sidecar file beside it) is outside data, written by
digiKam, Lightroom, darktable, exiftool, or anyone. It is parsed by defusedxml with no DTD, no
entity and no external reference allowed, within a size limit, and read no deeper than
MAX_DEPTH: what fails is an XMPError, never a crash or a fetch.

RDF says one thing many ways (a property as an attribute or an element, a structure as
rdf:parseType="Resource", a nested rdf:Description or attributes of the property element), so
`properties` reads each into one form: {"{namespace}name": text, structure (dict) or array
(list)}, namespaces by URI whatever prefix the writer chose.

`with_regions` writes the regions of MWG 2.0 (mwg-rs:Regions, section 5.9 of its guidelines)
into a new packet or into an existing one, whose other content it keeps.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

from .errors import InputError

MAX_XMP = 4 << 20
"""Bytes: sidecars of every editor fit (Lightroom's, with develop history, are some 100 KiB)."""
MAX_DEPTH = 32
MAX_ITEMS = 10_000
"""Entries of one array read: a photo has tens of regions, not millions."""

X = "adobe:ns:meta/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XML_NS = "http://www.w3.org/XML/1998/namespace"
MWG_RS = "http://www.metadataworkinggroup.com/schemas/regions/"
ST_AREA = "http://ns.adobe.com/xmp/sType/Area#"
ST_DIM = "http://ns.adobe.com/xap/1.0/sType/Dimensions#"
XMP_BASIC = "http://ns.adobe.com/xap/1.0/"
PREFIXES = {"x": X, "rdf": RDF, "mwg-rs": MWG_RS, "stArea": ST_AREA, "stDim": ST_DIM, "xmp": XMP_BASIC}
_ARRAYS = (f"{{{RDF}}}Bag", f"{{{RDF}}}Seq", f"{{{RDF}}}Alt")
_LI, _DESCRIPTION = f"{{{RDF}}}li", f"{{{RDF}}}Description"
_PARSE_TYPE, _RESOURCE = f"{{{RDF}}}parseType", f"{{{RDF}}}resource"
_PACKET_HEAD = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
_PACKET_TAIL = '\n<?xpacket end="w"?>\n'


class XMPError(InputError):
    def __init__(self, reason: str):
        super().__init__("bad-xmp", reason)


def parse(data: bytes) -> tuple[ET.Element, dict[str, str]]:
    """The root element of a packet and the prefixes it declares ({prefix: namespace})."""
    import defusedxml
    from defusedxml.ElementTree import iterparse

    if len(data) > MAX_XMP:
        raise XMPError(f"{len(data):,} bytes of XMP, more than the {MAX_XMP:,} recops reads")
    data = data.strip(b"\x00 \t\r\n")
    prefixes: dict[str, str] = {}
    root = None
    try:
        for event, item in iterparse(io.BytesIO(data), events=("start-ns", "start"), forbid_dtd=True):
            if event == "start-ns":
                prefixes.setdefault(*item)
            elif root is None:
                root = item
    except defusedxml.DefusedXmlException as exc:
        raise XMPError(f"refused XML: {type(exc).__name__}") from None
    except ET.ParseError as exc:
        raise XMPError(f"not XML: {exc}") from None
    if root is None:
        raise XMPError("not XML: no element")
    return root, prefixes


def properties(root: ET.Element) -> dict:
    """Every top-level property of the packet's rdf:Description elements, in one form."""
    found: dict = {}
    for rdf in root.iter(f"{{{RDF}}}RDF"):
        for description in rdf:
            if description.tag == _DESCRIPTION:
                found.update(_structure(description, 0))
    return found


def _structure(element: ET.Element, depth: int) -> dict:
    if depth > MAX_DEPTH:
        raise XMPError(f"XMP nested more than {MAX_DEPTH} deep")
    fields = {name: value for name, value in element.attrib.items() if not _syntax(name)}
    for child in list(element)[:MAX_ITEMS]:
        if not _syntax(child.tag):
            fields[child.tag] = _value(child, depth + 1)
    return fields


def _value(element: ET.Element, depth: int) -> object:
    if depth > MAX_DEPTH:
        raise XMPError(f"XMP nested more than {MAX_DEPTH} deep")
    children = list(element)
    for child in children:
        if child.tag in _ARRAYS:
            return [_value(item, depth + 1) for item in list(child)[:MAX_ITEMS] if item.tag == _LI]
    if element.get(_PARSE_TYPE) == "Resource":
        return _structure(element, depth)
    for child in children:
        if child.tag == _DESCRIPTION:
            return _structure(child, depth)
    if children or any(not _syntax(name) for name in element.attrib):
        return _structure(element, depth)
    if element.get(_RESOURCE) is not None:
        return element.get(_RESOURCE)
    return (element.text or "").strip()


def _syntax(name: str) -> bool:
    """RDF's and XML's own names, which are how a value is written rather than a property."""
    return name.startswith((f"{{{RDF}}}", f"{{{XML_NS}}}"))


def regions_of(props: dict) -> tuple[dict, list[dict]]:
    """(AppliedToDimensions, the RegionList's entries) of mwg-rs:Regions, as `properties` reads them."""
    regions = props.get(f"{{{MWG_RS}}}Regions")
    if not isinstance(regions, dict):
        return {}, []
    applied = regions.get(f"{{{MWG_RS}}}AppliedToDimensions")
    listed = regions.get(f"{{{MWG_RS}}}RegionList")
    return (
        applied if isinstance(applied, dict) else {},
        [entry for entry in listed if isinstance(entry, dict)] if isinstance(listed, list) else [],
    )


def field(entry: dict, namespace: str, name: str) -> object:
    return entry.get(f"{{{namespace}}}{name}")


def with_regions(
    regions: list[tuple[str | None, tuple[float, float, float, float]]],
    width: int,
    height: int,
    existing: bytes | None = None,
    keep=lambda entry: True,
) -> bytes:
    """A packet holding `regions` (name, area: x and y of the centre, w, h, normalised to the
    stored image of `width` x `height` pixels) as MWG face regions, with the prefixes `PREFIXES`.

    With `existing`, that packet with every other content kept; of its own regions, those
    `keep(entry)` (given as `properties` reads an entry) accepts stay, after the new ones."""
    if existing is None:
        root = ET.Element(f"{{{X}}}xmpmeta")
        root.set(f"{{{X}}}xmptk", "recops")
        description = ET.SubElement(ET.SubElement(root, f"{{{RDF}}}RDF"), _DESCRIPTION, {f"{{{RDF}}}about": ""})
        kept: list[ET.Element] = []
        prefixes: dict[str, str] = {}
    else:
        root, prefixes = parse(existing)
        description, kept = _take_regions(root, keep)
    new = ET.SubElement(description, f"{{{MWG_RS}}}Regions", {_PARSE_TYPE: "Resource"})
    ET.SubElement(
        new,
        f"{{{MWG_RS}}}AppliedToDimensions",
        {f"{{{ST_DIM}}}w": str(width), f"{{{ST_DIM}}}h": str(height), f"{{{ST_DIM}}}unit": "pixel"},
    )
    bag = ET.SubElement(ET.SubElement(new, f"{{{MWG_RS}}}RegionList"), f"{{{RDF}}}Bag")
    for name, (x, y, w, h) in regions:
        attributes = {f"{{{MWG_RS}}}Type": "Face"}
        if name:
            attributes[f"{{{MWG_RS}}}Name"] = name
        entry = ET.SubElement(ET.SubElement(bag, _LI), _DESCRIPTION, attributes)
        area = {f"{{{ST_AREA}}}{k}": _decimal(v) for k, v in (("x", x), ("y", y), ("w", w), ("h", h))}
        ET.SubElement(entry, f"{{{MWG_RS}}}Area", {**area, f"{{{ST_AREA}}}unit": "normalized"})
    bag.extend(kept)
    return _serialise(root, prefixes)


def _take_regions(root: ET.Element, keep) -> tuple[ET.Element, list[ET.Element]]:
    """Remove the packet's mwg-rs:Regions; return the rdf:Description that held it (else the
    first one, made when there is none) and its entries `keep` accepts."""
    rdf = next(root.iter(f"{{{RDF}}}RDF"), None)
    if rdf is None:
        raise XMPError("an XMP packet without rdf:RDF")
    descriptions = [d for d in rdf if d.tag == _DESCRIPTION]
    holder, kept = None, []
    for description in descriptions:
        for old in description.findall(f"{{{MWG_RS}}}Regions"):
            holder = holder if holder is not None else description
            for item in old.iter(_LI):
                entry = _value(item, 0)
                if isinstance(entry, dict) and keep(entry):
                    kept.append(item)
            description.remove(old)
    if holder is None:
        holder = descriptions[0] if descriptions else ET.SubElement(rdf, _DESCRIPTION, {f"{{{RDF}}}about": ""})
    return holder, kept


def _decimal(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".") if value else "0"


def _serialise(root: ET.Element, prefixes: dict[str, str]) -> bytes:
    # ElementTree names namespaces from one process-wide table: the packet's own prefixes go in
    # first, so a merged sidecar keeps the prefixes its writer chose; recops's own are registered last.
    theirs = [(p, n) for p, n in prefixes.items() if p and p not in PREFIXES and n not in PREFIXES.values()]
    for prefix, namespace in theirs + list(PREFIXES.items()):
        try:
            ET.register_namespace(prefix, namespace)
        except ValueError:  # ElementTree's reserved ns<N> names
            continue
    ET.indent(root, space=" ")
    return (_PACKET_HEAD + ET.tostring(root, encoding="unicode") + _PACKET_TAIL).encode("utf-8")
