"""rx-detect's core: find the faces of each image, once per (image, detector, alignment).

For every image it handles, it passes the image record on, then writes one face record per face
and a detection record that lists them (count 0 says the image has no face). With a dataset the
results are stored and a re-run reuses them; without one it is a pure filter.

An image's faces are those of its latest detection (faces.py): a detection under other settings
replaces the faces of the one before, and says which face of the same box took each one's place
(`replaces`); reusing an older detection stores it again, as the latest.

A video's frames are sampled (`fps` a second, and the first of every shot), faces are followed
from sample to sample into tracks, and each track keeps its best few sightings as face records,
each with the `time` of its frame, its `track` and the track's `span`. The detection record says
how the video was sampled, and keeps the stretches that did not decode (`gaps`): a damaged video
gives the faces of what decodes, and an error record that says what was lost.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Iterable, Iterator

import xxhash

from .. import models, small_faces, video
from ..errors import InputError
from ..faces import Detections, FaceCatalog, replacements
from ..logs import DETECTIONS, FACES
from ..pixels import DEFAULT_MAX_SIDE, FIRST, Picture, fit, load_pictures, load_rgb
from ..quality import measure
from ..records import timestamp
from ..sources import image_source, read_source
from ..state import state_of
from ..store.dataset import Dataset
from ..stream import Emitter
from .base import Passing, Stage
from .importing import Importer

logger = logging.getLogger("recops")
STAGE = "detect"


@dataclass(frozen=True)
class DetectOptions:
    detector: str
    align: bool = True
    min_size: int = 0
    """Faces whose box is narrower or shorter than this many pixels (of the full image) are dropped."""
    max_side: int = DEFAULT_MAX_SIDE
    """Images are searched at most this large (long side); boxes are mapped back to full size."""
    fps: float = 2.0
    """A video's frames searched a second (and the first frame of every shot)."""
    keep: int = 3
    """Sightings of a face followed through a video that are kept as its face records."""


def face_id(image: str, detector: str, aligned: bool, box, picture: Picture = FIRST) -> str:
    """Stable across runs and machines, so copies of a dataset merge without duplicate faces. A
    face on another picture than an image's first (a TIFF's later page) names it too."""
    key = f"{image}|{detector}|{int(aligned)}|{','.join(str(int(v)) for v in box)}{picture.key}"
    return xxhash.xxh3_128_hexdigest(key.encode())


@dataclass
class Search:
    """The faces found in every picture of one image (full-size pixels), each with its picture, and
    the narrowest face (box width, full-size pixels) looked for in all of them; None for a
    detector that does not say what it can find."""

    faces: list[tuple[Picture, models.FoundFace]]
    smallest: int | None = None


def find_faces(data: bytes, options: DetectOptions) -> list[tuple[Picture, models.FoundFace]]:
    """The faces in every picture of one image's bytes, each with its picture, in full-size pixels."""
    return search_faces(data, options).faces


def search_faces(data: bytes, options: DetectOptions) -> Search:
    """The faces in every picture of one image's bytes: each searched fitted to max_side, then,
    where faces too small for that may hide, enlarged in tiles (small_faces.py)."""
    detector = models.get_detector(options.detector)
    found, looked = [], []
    for picture, pixels, decoded_scale in load_pictures(data, options.max_side):
        faces, smallest = _search_picture(detector, data, picture, pixels, decoded_scale, options)
        found += [(picture, f) for f in faces if min(f.box[2] - f.box[0], f.box[3] - f.box[1]) >= options.min_size]
        looked.append(smallest)
    return Search(found, None if None in looked or not looked else max(looked))


def _search_picture(detector, data: bytes, picture: Picture, pixels, decoded_scale: float, options: DetectOptions):
    searched, fit_scale = fit(pixels, options.max_side)
    faces = detector.detect(searched)
    back = 1.0 / (decoded_scale * fit_scale)
    for face in faces:
        face.quality = measure(searched, face.box, face.landmarks, back)
    found = [face.scaled(back) for face in faces]
    reach = getattr(detector, "smallest", None)
    if reach is None:
        return found, None
    reach, narrowest = reach * back, small_faces.floor(options.min_size)
    if not small_faces.unsure(found, reach, narrowest):
        return found, math.ceil(reach)
    enlarge = detector.smallest / narrowest
    if decoded_scale >= min(1, enlarge):
        full, scale = pixels, decoded_scale
    else:
        full, scale = load_rgb(data, scale=enlarge, picture=picture)
    return small_faces.merged(found, small_faces.second_pass(detector, full, scale, reach, narrowest, found)), narrowest


@dataclass
class VideoFound:
    """A video's faces: each kept sighting with its picture (the frame's time) and its track's
    fields, and what the detection record says of the video (sampling, cuts, gaps)."""

    faces: list[tuple[Picture, models.FoundFace, dict]]
    about: dict


def find_video_faces(data: bytes, options: DetectOptions) -> VideoFound:
    """The faces followed through a video, each track's best sightings, in full-size pixels."""
    found = video.faces_of(
        data,
        options.detector,
        video.VideoOptions(fps=options.fps, keep=options.keep, max_side=options.max_side, min_size=options.min_size),
    )
    faces = []
    for number, track in enumerate(found.tracks):
        span = [track.start, track.end]
        for sighting in track.best:
            face = models.FoundFace(
                tuple(sighting.box), sighting.confidence, sighting.landmarks, sighting.method, sighting.quality
            )
            faces.append((Picture(time=sighting.time), face, {"track": number, "span": span}))
    gaps = [{"start": gap.start, "end": gap.end, "reason": gap.reason} for gap in found.gaps]
    about = {"fps": options.fps, "samples": found.samples, "tracks": len(found.tracks), "cuts": found.cuts}
    return VideoFound(faces, {**about, **({"gaps": gaps} if gaps else {})})


def _work(task: tuple | InputError) -> Search | VideoFound | InputError:
    if isinstance(task, InputError):
        return task
    source, options = task
    try:
        data = read_source(source)
        if video.sniff(data[: video.containers.HEAD]):
            return find_video_faces(data, options)
        return search_faces(data, options)
    except InputError as exc:
        return exc
    except Exception as exc:  # a bad image must not end the run; the model error is this image's
        return InputError("detect-failed", f"{type(exc).__name__}: {exc}")


class FaceDetection(Stage):
    """Feed it records (or paths); it emits images, faces and detections in input order."""

    stage = STAGE
    tool = "rx-detect"
    handles = ("image",)
    work = staticmethod(_work)

    def __init__(
        self,
        emitter: Emitter,
        options: DetectOptions,
        dataset: Dataset | None = None,
        workers: int = 1,
        force: bool = False,
    ):
        models.check_detector(options.detector)
        super().__init__(emitter)
        self.options = options
        self.dataset = dataset
        self.workers = workers
        self.force = force
        self._imported: list[dict] = []
        self._importer = Importer(dataset, Emitter(self._imported.append)) if dataset else None
        self._reader = self._importer or Importer(None, Emitter(self._imported.append))

    def path(self, path: str) -> Iterable[dict]:
        """A photo's path: imported (into the dataset, if any) and detected."""
        self._reader.add_path(path)
        return self._drain()

    def admitted(self, records: Iterable[dict]) -> Iterator[dict]:
        """An image record of another dataset (or none) is imported into this one first."""
        for record in records:
            if record.get("type") == "image" and self._importer and record.get("dataset") != self.dataset.root:
                self._importer.add_record(record)
                yield from self._drain()
            else:
                yield record

    def units(self, records: Iterable[dict]) -> Iterator:
        if not self.dataset or self.force:
            yield from super().units(records)
            return
        for item in self._adopting(records):
            yield item if isinstance(item, Passing) or item.get("type") in self.handles else Passing(item)

    def _adopting(self, records: Iterable[dict]) -> Iterator[dict]:
        """An image followed by its faces (each with its embedding, if any) and detection under
        these settings (another host's rx-detect | rx-embed, say) is stored as it came, not
        searched again, and passes on as it came (rx-embed -d then keeps the embeddings)."""
        held: list[dict] = []
        for record in records:
            if held and not self._continues(held, record):
                yield from held
                held = []
            if record.get("type") == "image" and record.get("id") and self._key(record) not in self.detections.done:
                held = [record]
            elif held and record.get("type") == "detection":
                yield from self._adopt(held, record)
                held = []
            elif held:
                held.append(record)
            else:
                yield record
        yield from held

    def _continues(self, held: list[dict], record: dict) -> bool:
        image = held[0]["id"]
        if record.get("type") == "face":
            return record.get("image") == image
        if record.get("type") == "embedding":
            return (
                record.get("image") == image
                and held[-1].get("type") == "face"
                and held[-1].get("id") == record.get("face")
            )
        settings = (record.get("detector"), record.get("aligned")) == (self.options.detector, self.options.align)
        return record.get("type") == "detection" and record.get("image") == image and settings

    def _adopt(self, held: list[dict], detection: dict) -> list:
        """Store an arriving detection and its faces, when they are whole and their ids are
        those this host would give them; else the image is detected here."""
        image, faces = held[0], [r for r in held[1:] if r.get("type") == "face"]
        detector, aligned = self.options.detector, self.options.align
        whole = [f["id"] for f in faces] == detection.get("faces") and detection.get("count") == len(faces)
        if not whole or any(
            f.get("detector") != detector or f["id"] != face_id(image["id"], detector, aligned, f["box"], Picture.of(f))
            for f in faces
        ):
            self.emitter.fail(image["id"], STAGE, "an arriving detection does not check out: detected here", "invalid")
            return [image]
        stored = [{k: v for k, v in f.items() if k not in ("dataset", "path", "data", "identity")} for f in faces]
        self._store({k: v for k, v in detection.items() if k != "dataset"}, stored)
        return [Passing(record) for record in (*held, detection)]

    def _drain(self) -> list[dict]:
        imported, self._imported[:] = list(self._imported), []
        return imported

    def finish(self, record: dict, result: Search | VideoFound | InputError | None) -> None:
        if result is None:
            self._pass_or_reuse(record)
        elif isinstance(result, InputError):
            self.emitter.emit(record)
            self.emitter.fail(record["id"], STAGE, result.reason, result.kind)
        elif isinstance(result, VideoFound):
            self._record(record, result.faces, result.about)
            for gap in result.about.get("gaps", []):
                where = f"{gap['start']:.3f} s to {gap['end']:.3f} s"
                self.emitter.fail(record["id"], STAGE, f"video damaged from {where}: {gap['reason']}", "damaged")
        else:
            about = {"smallest": result.smallest} if result.smallest is not None else {}
            self._record(record, [(picture, face, {}) for picture, face in result.faces], about)

    @property
    def detections(self) -> Detections:
        """What was detected before: the dataset's (state.py), or nothing for a pure filter."""
        return Detections.of(self.dataset) if self.dataset else Detections()

    def _key(self, record: dict) -> tuple:
        return (record["id"], self.options.detector, self.options.align)

    def task(self, record: dict) -> tuple | InputError | None:
        """What a worker needs to detect this record's faces; None when there is nothing to do."""
        if "id" not in record or (not self.force and self._key(record) in self.detections.done):
            return None
        try:
            return image_source(record, self.dataset), self.options
        except InputError as exc:
            return exc

    def _pass_or_reuse(self, record: dict) -> None:
        self.emitter.emit(record)
        detection = self.detections.done.get(self._key(record))
        if detection:
            stored = FaceCatalog.of(self.dataset)
            faces = [stored.get(id) for id in detection["faces"]]
            if self.detections.latest.get(record["id"], detection) is not detection:
                detection = self._store({**detection, "ts": timestamp()}, faces, stored=True)
            for face in faces:
                self.emitter.emit(self._with_source(face, record))
            self.emitter.emit(detection)

    def _record(
        self, image: dict, found: list[tuple[Picture, models.FoundFace, dict]], about: dict | None = None
    ) -> None:
        detector, aligned = self.options.detector, self.options.align
        faces = []
        for index, (picture, face, more) in enumerate(found):
            faces.append(
                {
                    "type": "face",
                    "id": face_id(image["id"], detector, aligned, face.box, picture),
                    "image": image["id"],
                    **picture.fields,
                    **more,
                    "box": list(face.box),
                    "landmarks": face.landmarks,
                    "confidence": face.confidence,
                    "detector": detector,
                    "method": face.method,
                    "aligned": aligned,
                    "index": index,
                    **({"quality": face.quality} if face.quality else {}),
                    "ts": timestamp(),
                }
            )
        detection = {
            "type": "detection",
            "image": image["id"],
            "detector": detector,
            "aligned": aligned,
            "faces": [f["id"] for f in faces],
            "count": len(faces),
            **(about or {}),
            "ts": timestamp(),
        }
        if self.dataset:
            detection = self._store(detection, faces)
        self.emitter.emit(image)
        for face in faces:
            self.emitter.emit(self._with_source(face, image))
        self.emitter.emit(detection)

    def _store(self, detection: dict, faces: list[dict], stored: bool = False) -> dict:
        """Store a detection (and its faces, unless `stored`) as the image's latest; it names the
        faces of the detection before that it replaces with a face of the same box."""
        detection.pop("replaces", None)  # a reused detection's were those of its first storing
        previous = self.detections.latest.get(detection["image"])
        known = FaceCatalog.of(self.dataset)
        replaced = replacements([known.get(id) for id in previous["faces"] if id in known], faces) if previous else {}
        if replaced:
            detection["replaces"] = replaced
        state = state_of(self.dataset)
        if not stored:
            for face in faces:
                state.append(FACES, face)
        state.append(DETECTIONS, detection)
        return detection

    def _with_source(self, face: dict, image: dict) -> dict:
        """A face record that says where its pixels are, so the next stage needs nothing else."""
        if image.get("dataset"):
            return {**face, "dataset": image["dataset"]}
        extra = {"path": image["paths"][0]} if image.get("paths") else {}
        if image.get("data") is not None:
            extra["data"] = image["data"]
        return {**face, **extra}
