"""Decision boundaries and convex hulls in the feature space of the last hidden layer (the feature-space
hulls paper): :mod:`~nngeom.feature_space.flips` (flip points of the last linear layer, the guaranteed
balls, the Lipschitz constant, samples inside balls).

Builds on :mod:`nngeom.core` and :mod:`nngeom.solvers`; imports no other paper's subpackage.
"""
