"""Two fixes to what Jupyter Book 1.0's theme stack puts in every page's <head>, found by the browser check
(nngeom.book.sitecheck): each shows as a JavaScript console error on every page.

- sphinx-thebe's and sphinx-togglebutton's inline scripts are added twice (their handlers run twice under
  Jupyter Book), so ``const THEBE_JS_URL`` is declared twice: a SyntaxError. Identical scripts are dropped.
- On a reader's first visit (empty localStorage) the book theme sets the colour mode to "", which
  pydata-sphinx-theme reports as an error before falling back to "auto"; an empty mode is set to "auto"
  first.
"""

from __future__ import annotations

FIRST_VISIT_MODE = 'if (!document.documentElement.dataset.mode) { document.documentElement.dataset.mode = "auto"; }'


def _drop_repeated_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for js in scripts:
        # an inline script's filename is None or "" depending on the path that added it
        key = (getattr(js, "filename", js) or "", repr(sorted(getattr(js, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(js)
    scripts[:] = kept  # in place: the builder's list, which later handlers may still add to


def setup(app):
    app.add_js_file(None, body=FIRST_VISIT_MODE, priority=100)
    # early: html-page-context stops at the first handler that returns a template name
    app.connect("html-page-context", _drop_repeated_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
