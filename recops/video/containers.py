"""Which video container a file is, told by its first bytes, never by its name.

ISO BMFF (MP4, MOV, 3GP) names its brand in an `ftyp` box at byte 4; older QuickTime files open
with another atom there. Matroska and WebM are EBML, whose header names the doctype. AVI is RIFF
with the form type `AVI `. HEIC and AVIF photos are ISO BMFF too: their brands are no video's.
"""

from __future__ import annotations

MP4 = "video/mp4"
QUICKTIME = "video/quicktime"
THREE_GP = "video/3gpp"
MATROSKA = "video/x-matroska"
WEBM = "video/webm"
AVI = "video/x-msvideo"

HEAD = 64
"""Bytes that tell every container apart (a Matroska doctype sits within the first 40 or so)."""

_IMAGE_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis", b"crx "}
_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}
_QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}
_EBML = b"\x1a\x45\xdf\xa3"
_DOCTYPE = b"\x42\x82"
# FFmpeg's demuxer for each: naming it keeps FFmpeg from guessing, so a playlist or a concat
# script dressed as a video never makes it open other files.
_DEMUXERS = {MP4: "mov", QUICKTIME: "mov", THREE_GP: "mov", MATROSKA: "matroska", WEBM: "matroska", AVI: "avi"}
MEDIA_TYPES = tuple(_DEMUXERS)


def sniff(head: bytes) -> str | None:
    """The media type of a video container starting with `head`, or None. Sixteen bytes tell a
    video from anything else; with fewer than HEAD a WebM file may read as Matroska."""
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _IMAGE_BRANDS or brand in _AUDIO_BRANDS:
            return None
        if brand == b"qt  ":
            return QUICKTIME
        if brand.startswith((b"3gp", b"3g2")):
            return THREE_GP
        return MP4
    if head[4:8] in _QUICKTIME_ATOMS and int.from_bytes(head[:4], "big") >= 8:
        return QUICKTIME
    if head.startswith(_EBML):
        return WEBM if _doctype(head) == b"webm" else MATROSKA
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return AVI
    return None


def _doctype(head: bytes) -> bytes | None:
    at = head.find(_DOCTYPE, 4)
    if at < 0 or at + 3 > len(head):
        return None
    size = head[at + 2]
    if size & 0x80:  # a one-byte EBML size, as every muxer writes it
        length = size & 0x7F
        return head[at + 3 : at + 3 + length]
    return None


def demuxer(media_type: str) -> str:
    return _DEMUXERS[media_type]
