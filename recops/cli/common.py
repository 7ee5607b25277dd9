"""What every tool shares: option spellings, logging to stderr, and the mapping of failures to exits."""

from __future__ import annotations

import contextlib
import enum
import logging
import math
import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Callable, Iterator, Optional

import typer

from .. import __version__
from ..errors import ExitCode, RecopsError
from ..store.dataset import ENV_VAR
from ..stream import Emitter, RecordWriter
from . import progress

logger = logging.getLogger("recops")
SUMMARY_AFTER_S = 2.0

DatasetOpt = Annotated[
    Optional[str],
    typer.Option("-d", "--dataset", envvar=ENV_VAR, show_envvar=True, metavar="DIR", help="Dataset directory."),
]
# Several datasets searched as one (shards.py): -d again, or a file listing them. $RX_DATASET may
# name several, separated by ":" as PATH is, so a path with spaces stays one path.
DatasetsOpt = Annotated[
    Optional[list[Path]],
    typer.Option(
        "-d",
        "--dataset",
        envvar=ENV_VAR,
        show_envvar=True,
        metavar="DIR",
        help="Dataset directory; give -d again for several datasets used as one: the first is the home dataset "
        "(identities, links, threshold and calibration; what is stored goes there), the others its shards, whose "
        "faces are searched and linked with its own.",
    ),
]
DatasetListOpt = Annotated[
    Optional[str],
    typer.Option(
        "--datasets",
        metavar="FILE",
        help="More datasets used as one, after those of -d: one directory a line (relative to FILE's folder; "
        "blank lines and # comments skipped).",
    ),
]
NullOpt = Annotated[
    bool,
    typer.Option("-0", "--null", help="Paths on stdin are NUL-separated (find -print0), not one per line."),
]


class Format(str, enum.Enum):
    json = "json"
    msgpack = "msgpack"


FormatOpt = Annotated[
    Format,
    typer.Option("--format", "-f", help="Output records as JSON lines or msgpack (input is detected)."),
]
# The dataset settings: rx-init and recops dataset-create spell them the same (the original's
# --basemodel and --distance-metric are kept as aliases).
DetectorOpt = Annotated[
    Optional[str],
    typer.Option(
        "--detector",
        metavar="NAME",
        help="Face detector, fixed at creation: any of deepface's (dlib, opencv, ssd, mtcnn, retinaface, "
        "mediapipe, yunet, yolov8n, centerface, ...) [default: dlib].",
    ),
]
ModelOpt = Annotated[
    Optional[str],
    typer.Option(
        "--model",
        "--basemodel",
        metavar="NAME",
        help="Recognition model, fixed at creation: any of deepface's (Dlib, ArcFace, Facenet, Facenet512, "
        "VGG-Face, SFace, ...) [default: Dlib].",
    ),
]
MetricOpt = Annotated[
    Optional[str],
    typer.Option(
        "--metric",
        "--distance-metric",
        metavar="METRIC",
        help="Distance metric: cosine, euclidean, euclidean_l2 or angular [default: cosine].",
    ),
]


def distance(text: str) -> float:
    """A distance given on the command line: a finite number, 0 or more (not nan, not inf)."""
    try:
        value = float(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise typer.BadParameter(f"{text} is not a distance: give a finite number, 0 or more")
    return value


def rate(text: str) -> float:
    """A rate given on the command line: above 0 and below 1 (1e-3, 0.01)."""
    try:
        value = float(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and 0 < value < 1):
        raise typer.BadParameter(f"{text} is not a rate: give a number above 0 and below 1")
    return value


def score(text: str) -> float:
    """A quality score given on the command line: from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and 0 <= value <= 1):
        raise typer.BadParameter(f"{text} is not a quality score: give a number from 0 to 1")
    return value


MinQualityOpt = Annotated[
    Optional[float],
    typer.Option(
        metavar="SCORE",
        parser=score,
        help="Leave out faces whose quality score (0 to 1: size, sharpness, pose) is lower; faces found before "
        "recops measured quality have none and stay.",
    ),
]
MaxFalseAlarmOpt = Annotated[
    Optional[float],
    typer.Option(
        metavar="RATE",
        parser=rate,
        help="Instead of a distance: the chance that a stranger comes that close somewhere in the gallery "
        "searched (0.01: one query in a hundred of someone not there finds a false match); the threshold is the "
        "calibration's for RATE divided by the gallery's size.",
    ),
]
ThresholdOpt = Annotated[
    Optional[float],
    typer.Option(
        metavar="DISTANCE",
        parser=distance,
        help="Maximum distance of a match [default: deepface's threshold for the model and metric].",
    ),
]
FlipOpt = Annotated[
    Optional[bool],
    typer.Option(
        "--flip/--no-flip",
        help="Average each face's embedding with its mirror image's: more accurate, twice the embedding "
        "work; fixed at creation [default: no].",
    ),
]
DescriptionOpt = Annotated[Optional[str], typer.Option(metavar="TEXT", help="Free text describing the case.")]
VerboseOpt = Annotated[
    bool, typer.Option("-v", "--verbose", help="Log details to stderr, and tracebacks on internal errors.")
]
QuietOpt = Annotated[bool, typer.Option("-q", "--quiet", help="Log only errors to stderr.")]


def stdout_is_terminal() -> bool:
    """A person is reading (tables), not a program (records)."""
    return sys.stdout.isatty()


class _App(typer.Typer):
    def __call__(self, *args, **kwargs):
        # Every tool answers --version alone, before typer parses anything (most tools are one command).
        if sys.argv[1:] == ["--version"]:
            name = kwargs.get("prog_name") or os.path.basename(sys.argv[0])
            print(f"{name} {__version__}" if name == "recops" else f"{name} (recops) {__version__}")
            raise SystemExit(0)
        return super().__call__(*args, **kwargs)


def new_app(**settings) -> typer.Typer:
    return _App(
        **settings,
        add_completion=False,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        record.levelname = record.levelname.lower()
        return super().format(record)


def configure_logging(
    tool: str, verbose: bool = False, quiet: bool = False, level: str | None = None, log_file: str | None = None
) -> None:
    """Logs go to stderr (or `log_file`): errors always, progress notes when stderr is a terminal."""
    if level is None:
        level = (
            logging.DEBUG
            if verbose
            else logging.ERROR
            if quiet
            else (logging.INFO if sys.stderr.isatty() else logging.WARNING)
        )
    handler = logging.FileHandler(log_file) if log_file else logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter(f"{tool}: %(levelname)s: %(message)s"))
    root = logging.getLogger("recops")
    root.handlers[:] = [handler]
    root.setLevel(level.upper() if isinstance(level, str) else level)
    root.propagate = False


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _silence_stdout() -> None:
    # After the reader went away, Python would complain when it flushes stdout at exit.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _clear_before_logs(shown: progress.Progress) -> None:
    for handler in logger.handlers:
        handler.addFilter(lambda record: shown.clear() or True)


@contextlib.contextmanager
def counted(tool: str, write: Callable[[dict], None] = lambda record: None) -> Iterator[Emitter]:
    """An Emitter whose records go to `write` (kept, or to a file) rather than stdout, counted on
    the terminal as they pass: for commands that print a table or write a report at the end."""
    shown = progress.Progress(tool, write, progress.is_terminal(sys.stderr) and logger.isEnabledFor(logging.INFO))
    _clear_before_logs(shown)
    try:
        yield Emitter(shown.write)
    finally:
        shown.clear()


@contextlib.contextmanager
def running(
    tool: str,
    fmt: Format | str = Format.json,
    verbose: bool = False,
    quiet: bool = False,
    level: str | None = None,
    log_file: str | None = None,
) -> Iterator[Emitter]:
    """Run a tool's body: records to stdout, failures to exit codes, never a traceback (unless -v).

    Everything the body finished is stored by the time this exits, whatever ended it: the end of
    input, Ctrl-C, SIGTERM, a closed stdout, or an error.
    """
    configure_logging(tool, verbose, quiet, level, log_file)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    writer = RecordWriter(sys.stdout.buffer, Format(fmt).value)
    last_stage = progress.last_stage()
    shown = progress.Progress(tool, writer.write, progress.wanted() and logger.isEnabledFor(logging.INFO))
    _clear_before_logs(shown)
    emitter = Emitter(shown.write)
    code = ExitCode.OK
    try:
        yield emitter
    except BrokenPipeError:
        _silence_stdout()
        code = ExitCode.PIPE
    except KeyboardInterrupt:
        logger.error("interrupted; what was finished is stored, and a re-run picks up from there")
        code = ExitCode.INTERRUPTED
    except RecopsError as exc:
        logger.error("%s", exc)
        code = exc.exit_code
    except typer.Exit:
        raise
    except Exception as exc:  # the user interface is never a traceback, unless asked for
        if logger.isEnabledFor(logging.DEBUG):
            logger.exception("internal error")
        else:
            logger.error("internal error: %s: %s (run with -v for a traceback)", type(exc).__name__, exc)
        code = ExitCode.SOFTWARE
    if code != ExitCode.PIPE:
        try:
            writer.flush()
        except BrokenPipeError:
            _silence_stdout()
            code = ExitCode.PIPE if code == ExitCode.OK else code
    if code == ExitCode.OK and emitter.failures:
        code = ExitCode.FAILED
    shown.clear()
    # A summary helps after a long run; after every stage of a pipeline, or a quick listing, it
    # is noise. A log file keeps it always.
    worth_it = last_stage and shown.elapsed() >= SUMMARY_AFTER_S and bool(shown.counts)
    logger.log(
        logging.INFO if worth_it or log_file else logging.DEBUG,
        "%s; %d failure(s); exit %d",
        shown.line(),
        emitter.failures,
        int(code),
    )
    raise typer.Exit(int(code))
