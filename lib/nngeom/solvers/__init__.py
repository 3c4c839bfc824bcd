"""General solvers over polytopes given as dense inequality systems: ``polytope`` (linear programs over
one linear region: Chebyshev balls, redundant rows) and ``interior_point`` (a dense primal-dual
interior-point method for smooth convex objectives). They import only :mod:`nngeom.core`."""
