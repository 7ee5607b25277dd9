"""The progress line: drawn by the last tool of a pipeline only, cleared before anything else."""

import io
import os
import subprocess
import sys

from recops.cli.progress import CLEAR, Progress, last_stage, wanted


def test_the_line_counts_what_was_written_and_clears_itself():
    written, screen = [], io.StringIO()
    shown = Progress("rx-detect", written.append, enabled=True, stream=screen, interval=0)
    for record in [{"type": "image"}, {"type": "face"}, {"type": "face"}, {"type": "detection"}]:
        shown.write(record)
    assert len(written) == 4 and screen.getvalue().endswith(CLEAR + "rx-detect: 2 face, 1 image, 1 detection · 0 s")
    shown.clear()
    assert screen.getvalue().endswith(CLEAR) and not shown.showing
    quiet = Progress("rx-detect", written.append, enabled=False, stream=io.StringIO(), interval=0)
    quiet.write({"type": "image"})
    assert quiet.stream.getvalue() == "" and quiet.line().startswith("1 image")


def test_only_the_last_stage_of_a_pipeline_and_only_for_a_terminal(tmp_path):
    probe = "import sys; from recops.cli.progress import last_stage; print(last_stage(), file=sys.stderr)"
    piped = subprocess.run(f"'{sys.executable}' -c '{probe}' | cat", shell=True, capture_output=True, text=True)
    assert piped.stderr.strip() == "False"
    with open(tmp_path / "out", "w") as handle:
        to_file = subprocess.run([sys.executable, "-c", probe], stdout=handle, stderr=subprocess.PIPE, text=True)
    assert to_file.stderr.strip() == "True"
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        assert last_stage(devnull) is True
    finally:
        os.close(devnull)
    assert wanted(stderr=io.StringIO()) is False  # logs to a pipe or a file: no line
