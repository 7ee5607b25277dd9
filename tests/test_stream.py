import io

import msgpack
import numpy as np

from recops.stream import BadInput, Emitter, RecordWriter, as_bytes, encode_record, read_items


def items(data: bytes, null: bool = False) -> list:
    return list(read_items(io.BufferedReader(io.BytesIO(data)), null))


def test_json_lines_records_and_paths_mix():
    got = items(b'{"type":"image","id":"' + b"a" * 32 + b'"}\nphotos/x.jpg\n\n{"type":"other","n":1}\r\n')
    assert got == [{"type": "image", "id": "a" * 32}, "photos/x.jpg", {"type": "other", "n": 1}]


def test_malformed_json_line_is_reported_and_reading_goes_on():
    got = items(b'{"type":"a"}\n{"type": broken\n{"no_type":1}\n{"type":"b"}\n')
    assert got[0] == {"type": "a"} and got[3] == {"type": "b"}
    assert isinstance(got[1], BadInput) and "line 2" in got[1].reason
    assert isinstance(got[2], BadInput) and "line 3" in got[2].reason


def test_msgpack_detected_by_first_byte():
    data = b"".join(msgpack.packb(r) for r in [{"type": "x", "v": b"\x00\x01"}, {"type": "y"}])
    assert items(data) == [{"type": "x", "v": b"\x00\x01"}, {"type": "y"}]


def test_msgpack_garbage_ends_input_with_a_bad_item():
    data = msgpack.packb({"type": "x"}) + b"\xc1\xc1\xc1"
    got = items(data)
    assert got[0] == {"type": "x"}
    assert isinstance(got[-1], BadInput) and "malformed msgpack" in got[-1].reason


def test_null_separated_paths_keep_newlines_and_spaces():
    assert items(b"a b.jpg\0new\nline.jpg\0\0last", null=True) == ["a b.jpg", "new\nline.jpg", "last"]


def test_non_utf8_path_round_trips_through_fsdecode():
    (path,) = items(b"caf\xe9.jpg\n")
    import os

    assert os.fsencode(path) == b"caf\xe9.jpg"


def test_vectors_and_bytes_encode_per_format():
    record = {"type": "embedding", "vector": np.array([0.5, -1.0], dtype=np.float32), "data": b"\x01"}
    assert encode_record(record, "json") == b'{"type":"embedding","vector":[0.5,-1.0],"data":"AQ=="}\n'
    decoded = msgpack.unpackb(encode_record(record, "msgpack"))
    assert np.frombuffer(decoded["vector"], "<f4").tolist() == [0.5, -1.0]
    assert as_bytes("AQ==") == as_bytes(b"\x01") == b"\x01"


def test_writer_buffers_then_flushes_everything():
    sink = io.BytesIO()
    writer = RecordWriter(sink, "json", max_delay=3600)
    writer.write({"type": "a"})
    assert sink.getvalue() == b""
    writer.flush()
    assert sink.getvalue() == b'{"type":"a"}\n'


def test_emitter_counts_own_and_upstream_failures(caplog):
    got = []
    out = Emitter(got.append)
    out.emit({"type": "error", "input": "x", "stage": "detect", "kind": "k", "reason": "upstream"})
    out.fail("y.jpg", "import", "bad", "corrupt")
    out.emit({"type": "image"})
    assert out.failures == 2 and len(got) == 3
    assert [r.getMessage() for r in caplog.records] == ["y.jpg: bad"]


def test_a_vector_changes_form_with_the_format_and_keeps_its_values():
    import json
    import struct

    values = [0.5, -1.25, 3.0]
    raw = struct.pack("<3f", *values)
    as_json = json.loads(encode_record({"type": "embedding", "vector": raw}, "json"))
    assert as_json["vector"] == values
    as_msgpack = msgpack.unpackb(encode_record({"type": "embedding", "vector": values}, "msgpack"), raw=False)
    assert as_msgpack["vector"] == raw
