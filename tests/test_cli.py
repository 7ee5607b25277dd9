import json
import os

import pytest
from conftest import jsonl, run
from typer.testing import CliRunner

from recops.cli import init as init_cli
from recops.cli import ls as ls_cli
from recops.cli import porcelain
from recops.cli import verify as verify_cli
from recops.cli.porcelain.shared import output_form
from recops.datasets import create_dataset
from recops.errors import UsageError

runner = CliRunner()


def test_rx_init_creates_then_updates_but_never_changes_detector_or_model(tmp_path):
    root = str(tmp_path / "case.rx")
    created = runner.invoke(
        init_cli.app, [root, "--detector", "opencv", "--model", "Facenet", "--description", "first"]
    )
    assert created.exit_code == 0, created.output
    record = json.loads(created.stdout)
    assert record["type"] == "dataset" and record["new"] is True
    assert (record["detector"], record["model"], record["threshold"], record["threshold_source"]) == (
        "opencv",
        "Facenet",
        0.4,
        "deepface",
    )

    updated = json.loads(runner.invoke(init_cli.app, [root, "--threshold", "0.3", "--description", "second"]).stdout)
    assert (updated["new"], updated["threshold"], updated["threshold_source"], updated["description"]) == (
        False,
        0.3,
        "dataset",
        "second",
    )
    assert updated["id"] == record["id"]

    refused = runner.invoke(init_cli.app, [root, "--model", "ArcFace"])
    assert refused.exit_code == 3 and refused.stdout == ""
    assert "model is Facenet and cannot change" in refused.stderr
    assert json.loads(open(os.path.join(root, "recops.json")).read())["model"] == "Facenet"


def test_rx_init_rejects_unknown_names_with_the_choices(tmp_path):
    result = runner.invoke(init_cli.app, [str(tmp_path / "x.rx"), "--detector", "nope"])
    assert result.exit_code == 2 and "unknown detector 'nope'" in result.stderr and "retinaface" in result.stderr
    assert not (tmp_path / "x.rx").exists()


def test_rx_ls_lists_datasets_and_images_as_records(tmp_path, photos):
    run(["rx-import", "-d", str(tmp_path / "a.rx"), str(photos)])
    run(["rx-init", str(tmp_path / "sub" / "b.rx")])
    datasets = jsonl(run(["rx-ls", "datasets", str(tmp_path)]).stdout)
    assert [(os.path.basename(d["path"]), d["images"]) for d in datasets] == [("a.rx", 5), ("b.rx", 0)]
    images = jsonl(run(["rx-ls", "-d", str(tmp_path / "a.rx")]).stdout)
    assert len(images) == 5 and {i["type"] for i in images} == {"image"}
    assert jsonl(run(["rx-ls", "faces", "-d", str(tmp_path / "a.rx")]).stdout) == []


def test_rx_ls_paths_are_nul_separated_stored_files(dataset, photos):
    run(["rx-import", "-d", str(dataset), str(photos)])
    out = run(["rx-ls", "images", "-d", str(dataset), "--paths", "-0"]).stdout
    paths = out.split(b"\0")[:-1]
    assert len(paths) == 5 and all(os.path.isfile(p) and p.startswith(os.fsencode(dataset)) for p in paths)


def test_rx_ls_table_for_people(dataset, photos, monkeypatch):
    run(["rx-import", "-d", str(dataset), str(photos)])
    monkeypatch.setattr("recops.cli.common.stdout_is_terminal", lambda: True)
    result = runner.invoke(ls_cli.app, ["-d", str(dataset)])
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["id", "type", "size", "bytes", "consent", "path"]
    assert lines[-1] == "(5 rows)"


def test_rx_ls_needs_a_dataset_for_images(tmp_path):
    result = run(["rx-ls", "images"], cwd=tmp_path, env={"RX_DATASET": ""})
    assert result.returncode == 2 and b"needs a dataset" in result.stderr


def test_rx_fsck_finds_a_changed_object_and_a_missing_one(dataset, photos):
    images = jsonl(run(["rx-import", "-d", str(dataset), str(photos)]).stdout)
    changed = dataset / "objects" / images[0]["id"][:2] / images[0]["id"][2:]
    changed.chmod(0o600)
    changed.write_bytes(changed.read_bytes()[:-1] + b"\0")
    missing = dataset / "objects" / images[1]["id"][:2] / images[1]["id"][2:]
    missing.unlink()
    result = run(["rx-fsck", "-d", str(dataset)])
    errors = {r["kind"]: r for r in jsonl(result.stdout) if r["type"] == "error"}
    assert set(errors) == {"object-mismatch", "missing-object"}
    assert result.returncode == 5 and b"object-mismatch" not in result.stderr and b"hashes to" in result.stderr


def test_rx_fsck_finds_an_altered_record_file(dataset, photos):
    run(["rx-import", "-d", str(dataset), str(photos)])
    (segment,) = (dataset / "records" / "images").iterdir()
    segment.chmod(0o600)
    data = bytearray(segment.read_bytes())
    data[len(data) // 2] ^= 0xFF
    segment.write_bytes(bytes(data))
    result = run(["rx-fsck", "-d", str(dataset)])
    kinds = [r["kind"] for r in jsonl(result.stdout) if r["type"] == "error"]
    assert kinds == ["damaged-segment"] and result.returncode == 5


def test_rx_fsck_sample_checks_a_share(dataset, photos):
    run(["rx-import", "-d", str(dataset), str(photos)])
    report = jsonl(run(["rx-fsck", "-d", str(dataset), "--sample", "40%", "--seed", "1"]).stdout)[-1]
    assert (report["objects"], report["objects_checked"]) == (5, 2)
    assert run(["rx-fsck", "-d", str(dataset), "--sample", "1"]).returncode == 0
    bad = run(["rx-fsck", "-d", str(dataset), "--sample", "150%"])
    assert bad.returncode == 2 and b"--sample" in bad.stderr


def test_usage_errors_exit_2_with_nothing_on_stdout():
    result = run(["rx-import", "--no-such-flag"])
    assert result.returncode == 2 and result.stdout == b""


@pytest.mark.parametrize(
    "command",
    [
        ["rx-match", "--maximum", "0"],
        ["rx-match", "--threshold", "-1"],
        ["rx-match", "--search-k", "0"],
        ["rx-index", "--trees", "0"],
        ["rx-cluster", "--threshold", "-0.5"],
        ["rx-detect", "--max-side", "0"],
        ["rx-detect", "--min-size", "-4"],
        ["rx-import", "--max-pixels", "0"],
        ["rx-verify", "a", "b", "--threshold", "-1"],
        ["rx-review", "propose", "--threshold", "-1"],
        ["recops", "recognize", "x.jpg", "-d", "x", "--maximum", "0"],
        ["rx-fsck", "--sample", "abc"],
    ],
    ids=" ".join,
)
def test_values_out_of_range_are_refused_before_any_work(command, tmp_path):
    result = run(command + (["-d", str(tmp_path)] if command[0] == "rx-fsck" else []))
    assert result.returncode == 2 and result.stdout == b"", result.stderr.decode()


def test_every_tool_tells_its_version():
    from recops import __version__
    from recops.cli import TOOLS

    for tool in TOOLS:
        told = run([tool, "--version"])
        assert told.returncode == 0 and told.stdout.decode().split()[-1] == __version__, tool


@pytest.mark.parametrize("tool", ["rx-init", "rx-import", "rx-ls", "rx-fsck", "recops"])
def test_every_tool_has_help(tool):
    result = run([tool, "--help"])
    assert result.returncode == 0 and b"Usage" in result.stdout


def test_porcelain_dataset_create_list_and_list_images(tmp_path, photos):
    env = {"RECOPS_HOME": str(tmp_path / "home")}
    created = jsonl(
        run(
            ["recops", "dataset-create", "case1", "--basemodel", "Dlib", "--distance-metric", "euclidean"], env=env
        ).stdout
    )[0]
    # the shipped calibration's euclidean threshold at the default FMR, near deepface's 0.6
    assert created["path"] == str(tmp_path / "home" / "case1") and 0.5 < created["threshold"] < 0.6
    run(["rx-import", "-d", created["path"], str(photos)])
    listed = jsonl(run(["recops", "dataset-list"], env=env).stdout)
    assert [(d["path"], d["images"]) for d in listed] == [(created["path"], 5)]
    images = jsonl(run(["recops", "dataset-list-images", "-d", "case1"], env=env).stdout)
    assert len(images) == 5
    log_file = tmp_path / "recops.log"
    missing = run(["recops", "--log-file", str(log_file), "dataset-list-images", "--dataset-id", "nope"], env=env)
    assert missing.returncode == 3 and b"no such dataset" in log_file.read_bytes() and missing.stderr == b""


def test_an_input_error_raised_in_a_worker_comes_back_as_an_error_record(dataset):
    """InputError pickles with its kind: one that failed to unpickle once left a worker pool
    waiting for ever."""
    import pickle

    from recops.errors import InputError

    copy = pickle.loads(pickle.dumps(InputError("no-pixels", "image y is nowhere")))
    assert (copy.kind, copy.reason) == ("no-pixels", "image y is nowhere")
    orphan = b'{"type":"face","id":"' + b"f" * 32 + b'","image":"' + b"a" * 32 + b'","box":[1,2,30,40]}\n'
    for tool in (["rx-analyze", "--no-race"], ["rx-embed"]):
        result = run([*tool, "-j", "2", "-d", str(dataset)], input=orphan)
        errors = [r for r in jsonl(result.stdout) if r["type"] == "error"]
        assert result.returncode == 1 and len(errors) == 1, (tool, result.stderr.decode())


def test_a_dataset_that_cannot_be_created_is_a_dataset_error(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    refused = run(["rx-init", str(tmp_path / "file" / "case.rx")])
    assert refused.returncode == 3 and b"cannot create the dataset there" in refused.stderr


def test_verify_reports_a_file_that_is_not_an_image(tmp_path, photos):
    (tmp_path / "note.jpg").write_text("hello")
    result = run(["rx-verify", str(tmp_path / "note.jpg"), str(photos / "img0.jpg")])
    (error,) = jsonl(result.stdout)
    assert result.returncode == 1 and error["kind"] == "not-an-image" and b"internal" not in result.stderr


def test_recops_verify_is_rx_verify_under_the_datasets_settings(tmp_path, photos, fake_models):
    root = str(tmp_path / "case.rx")
    create_dataset(root, detector="fake", model="Fake", threshold=3.5).close()
    first, second = str(photos / "img0.jpg"), str(photos / "img1.jpg")
    verdicts = [
        runner.invoke(porcelain.app, ["verify", "-d", root, first, second]),
        runner.invoke(verify_cli.app, [first, second, "-d", root]),
    ]
    assert [v.exit_code for v in verdicts] == [0, 0], [v.stderr for v in verdicts]
    records = [{k: v for k, v in json.loads(v.stdout).items() if k != "ts"} for v in verdicts]
    assert records[0] == records[1]
    assert (records[0]["detector"], records[0]["model"], records[0]["threshold"]) == ("fake", "Fake", 3.5)

    (tmp_path / "note.jpg").write_text("hello")
    refused = runner.invoke(porcelain.app, ["verify", "-d", root, str(tmp_path / "note.jpg"), first])
    assert refused.exit_code == 1 and json.loads(refused.stdout)["kind"] == "not-an-image"
    assert "recops verify: error:" in refused.stderr


def test_what_dash_o_writes_is_told_by_its_suffix():
    assert output_form(None, "records") is None
    assert [output_form(name, "csv") for name in ("a.html", "b.HTM", "c.csv", "d")] == ["html", "html", "csv", "csv"]
    assert output_form("r.jsonl", "records") == "records"
    assert output_form("r.html", "records", blur=True, template="t.j2") == "html"
    for output in (None, "r.jsonl"):
        with pytest.raises(UsageError, match="give -o FILE.html"):
            output_form(output, "records", blur=True)
    with pytest.raises(UsageError, match="give -o FILE.html"):
        output_form("r.csv", "csv", template="t.j2")


def test_listing_datasets_of_a_folder_that_is_not_there(tmp_path):
    missing = run(["rx-ls", "datasets", str(tmp_path / "nowhere")])
    assert missing.returncode == 2 and b"no such folder" in missing.stderr
    fresh = run(["recops", "dataset-list"], env={"RECOPS_HOME": str(tmp_path / "no-home-yet")})
    assert fresh.returncode == 0 and fresh.stdout == b""
