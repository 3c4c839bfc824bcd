"""Szegedy et al., "Intriguing properties of neural networks" (IPN): ``units`` (units vs random
directions) and ``transfer`` (L-BFGS adversarials across models and training sets). Imports
:mod:`nngeom.core` and :mod:`nngeom.solvers`, no other paper."""
