"""What a video may claim before recops stops reading it: every number here comes from outside."""

MAX_DURATION = 24 * 3600
"""Seconds of video read at most: a day of footage; a header that claims more is refused at import."""
MAX_FRAMES = 24 * 3600 * 120
"""Frames decoded at most from one video (a day at 120 frames a second)."""
MAX_ERRORS = 1000
"""Read or decode errors in a row after which the rest of a video counts as lost."""
MAX_PROBE_PACKETS = 2000
"""Packets read at import to find the first frame that decodes (a minute of video or more)."""
MISSING = 0.5
"""Seconds without a frame (and at least four frames' time) that count as frames lost, when the file says nothing."""
