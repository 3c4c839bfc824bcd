"""Zhang & Wu, linear regions of ReLU networks (LRG): ``regions`` (a region's constraints, walks along
lines, hyperplane directions), ``class_regions`` (classification regions inside one linear region),
``planar`` (exact regions on a 2-D plane) and ``studies`` (the protocols of section 3: which regions,
their inspheres, surrounding regions). Imports :mod:`nngeom.core` and :mod:`nngeom.solvers`, no other
paper."""
