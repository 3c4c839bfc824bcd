"""General solvers over polytopes given as dense inequality systems: ``polytope`` (linear programs over
one linear region: Chebyshev balls, redundant rows), ``interior_point`` (a dense primal-dual
interior-point method for smooth convex objectives), ``qp`` (nearest points in many small polyhedra
at once, certified, with DAQP as the exact fallback) and ``hull`` (certified projections onto the convex
hull of a large point set). They import only :mod:`nngeom.core`."""
