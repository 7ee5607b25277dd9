"""Ids as n x 16 bytes: the order of their hex text, and found again by bisection."""

import numpy as np

from recops.id_arrays import Ids, SortedIds, hex_ids, raw_ids, sorting

IDS = ["ff" * 16, "00" * 15 + "01", "00" * 16, "ab" * 15 + "00", "ab" * 16]


def test_ids_sort_as_their_text_and_read_back_as_text():
    raw = raw_ids(IDS)
    assert raw.shape == (5, 16) and hex_ids(raw) == IDS and list(Ids(raw)) == IDS and Ids(raw)[3] == IDS[3]
    assert [IDS[i] for i in sorting(raw)] == sorted(IDS)


def test_sorted_ids_find_theirs_and_nothing_else():
    ids = SortedIds(raw_ids(sorted(IDS)))
    assert [ids.get(i) for i in sorted(IDS)] == [0, 1, 2, 3, 4]
    assert ids.positions(["ab" * 15 + "01", "ff" * 16, "00" * 14 + "0100"]).tolist() == [-1, 4, -1]
    assert "00" * 16 in ids and "ee" * 16 not in ids and "abc" not in ids and ids.get("zz" * 16) is None
    assert SortedIds(np.zeros((0, 16), np.uint8)).positions(IDS).tolist() == [-1] * 5
