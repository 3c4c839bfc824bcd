"""nngeom: the shared library of the book *Geometry of neural networks, reproduced*.

Four layers; each imports only from its own layer and the ones below it (tests/test_layers.py):

1. :mod:`nngeom.core`: data sets, models, training recipes, the model zoo, profiles, attacks, statistics
   and three-valued decisions, sampling, worker processes, parameter validation, atomic io, devices.
2. :mod:`nngeom.solvers`: linear programs over polytopes and a dense interior-point method.
3. One subpackage per paper, none importing another: :mod:`nngeom.adversarial_neighborhoods` (Bell's
   thesis), :mod:`nngeom.intriguing_properties` (Szegedy et al.), :mod:`nngeom.linear_regions` (Zhang &
   Wu). Each holds that paper's algorithms and study protocols.
4. :mod:`nngeom.book`: the notebook runner, metrics and verdict reports, the papers' reference numbers,
   plotting, and the openings shared by pages.
"""

__version__ = "0.1.0"
