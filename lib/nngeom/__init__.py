"""nngeom: the shared library of the book *Geometry of neural networks, reproduced*.

Four layers; each imports only from its own layer and the ones below it (tests/test_layers.py):

1. :mod:`nngeom.core`: data sets, models, training recipes, the model zoo, profiles, attacks, statistics
   and three-valued decisions, sampling, worker processes, parameter validation, atomic io, devices.
2. :mod:`nngeom.solvers`: linear programs over polytopes, a dense interior-point method, nearest points in
   many small polyhedra and projections onto convex hulls.
3. One subpackage per paper, none importing another: :mod:`nngeom.adversarial_neighborhoods` (Bell's
   thesis), :mod:`nngeom.feature_space` (the feature-space hulls paper), :mod:`nngeom.intriguing_properties`
   (Szegedy et al.), :mod:`nngeom.linear_regions` (Zhang & Wu). Each holds that paper's algorithms and
   study protocols.
4. :mod:`nngeom.book`: the notebook runner, metrics and verdict reports, the papers' reference numbers,
   plotting, and the openings shared by pages.

Conventions, the same in every layer:

- **Randomness**: a function that draws takes ``generator`` (a ``torch.Generator`` where it computes in
  torch, a ``numpy.random.Generator`` where it computes in numpy) and draws from it in order; nothing
  reads the global random state. Things configured once and run many times (training recipes and zoo
  specs, attacks, adversarial pools) and the pages' parameters take ``seed: int``, from which they make
  their own generator, so a run is reproducible from its configuration alone.
- **The input box**: ``value_range = (lo, hi)``, the same bounds for every coordinate (checked by
  :func:`nngeom.core.validation.check_value_range`). A plane's drawing rectangle is ``extent`` and a
  solver's per-coordinate bounds are ``lo, hi`` arrays: neither is the input box.
- **Batch sizes**: ``batch_size`` is the number of inputs per forward pass; a solver's ``batch`` is the
  number of rows it adds per round, and ``workers`` the number of processes.
- **Results** are dataclasses (or tensors and arrays), not tuples with info dicts; verdicts are
  :class:`nngeom.core.stats.Decision` objects (holds, does not hold, undecided).
"""

__version__ = "0.1.0"
