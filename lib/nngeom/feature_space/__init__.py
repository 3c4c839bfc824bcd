"""Decision boundaries and convex hulls in the feature space of the last hidden layer (the feature-space
hulls paper):

- :mod:`~nngeom.feature_space.flips`: flip points of the last linear layer, the guaranteed balls, the
  Lipschitz constant, samples inside balls;
- :mod:`~nngeom.feature_space.geometry`: the two-point equidistant projection, the ambiguity indicator;
- :mod:`~nngeom.feature_space.inverse`: images whose features equal a target or lie in or on a ball
  around it;
- :mod:`~nngeom.feature_space.studies`: boundary and hull distances over a test set, the support's labels.

Projections onto the training set's hull are the general :func:`nngeom.solvers.hull.hull_projection`.
Builds on :mod:`nngeom.core` and :mod:`nngeom.solvers`; imports no other paper's subpackage.
"""
