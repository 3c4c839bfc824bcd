"""Pages narrate: no cell holds a loop or function longer than about 15 code lines (tests/cell_report.py).

KNOWN lists the blocks still to be moved into the library, with their size when they were listed. The test
fails on a long block that is not listed, on a listed one that grew, and on a listed one that is gone or
short now (remove it from the list: the list only shrinks).
"""

from __future__ import annotations

from cell_report import LIMIT, long_blocks

KNOWN = {
    # bookkeeping of two claims per setting (values, evidence strings), no algorithm: "about 15"
    "notebooks/adversarial_neighborhoods/03_stability_mnist: for key in SETTINGS:": 16,
    'notebooks/linear_regions/01_regions_in_pictures: for item, regions, where in (("LRG-F1", slice_regi': 16,
}


def test_no_new_or_longer_algorithm_in_a_page_cell():
    found = {b.key: b.lines for b in long_blocks()}
    new = {k: n for k, n in found.items() if k not in KNOWN}
    assert not new, f"page cells with blocks over {LIMIT} code lines (move them into nngeom): {new}"
    grown = {k: (KNOWN[k], n) for k, n in found.items() if k in KNOWN and n > KNOWN[k]}
    assert not grown, f"listed blocks that grew (listed, now): {grown}"
    gone = sorted(set(KNOWN) - set(found))
    assert not gone, f"listed blocks now short or gone: remove them from KNOWN in tests/test_cells.py: {gone}"
