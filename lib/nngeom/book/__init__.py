"""The book layer: ``notebook`` (the papermill runner and a page's opening), ``report`` (metrics,
verdicts, paper-vs-here tables, the scoreboard's statuses), ``reference`` (the papers' numbers),
``plotting`` (one style and the papers' figures) and ``pages`` (openings shared by several pages).
It may import everything below it; nothing below imports it."""
