"""Openings shared by the pages of one paper: what a page shows before its first result.

One module per paper (:mod:`~nngeom.book.pages.linear_regions`, :mod:`~nngeom.book.pages.feature_space`,
:mod:`~nngeom.book.pages.natural_image_spaces`) and :mod:`~nngeom.book.pages.common` for what several share,
so that a page imports, and the workflow and the ledger count as its inputs, only its own paper's library
(:mod:`nngeom.book.workflow`). This file imports nothing.
"""
