"""nngeom: the shared library of the book *Geometry of neural networks, reproduced*.

Modules by topic: ``data`` (data sets), ``zoo`` (named, cached, trained models), ``training``,
``persistence`` (stability, persistence, wedge models), ``sampling`` (norm concentration),
``report`` (paper-vs-here tables, verdicts, metrics), ``notebook`` (profiles and the papermill runner),
``plotting``, ``validation``, ``io`` (atomic writes), ``device``.
"""

__version__ = "0.1.0"
