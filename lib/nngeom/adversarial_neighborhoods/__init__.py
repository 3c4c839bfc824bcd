"""Bell's thesis on adversarial neighborhoods (ANX): ``persistence`` (stability, gamma-persistence, the
k-orthant classifier), ``studies`` (the attack-then-measure protocol of Table 1 and Figures 10-16),
``kernels`` (the discrete path kernel of Part II) and ``boundaries`` (Part III's test objects and
decision-boundary samples). Imports :mod:`nngeom.core` and :mod:`nngeom.solvers`, no other paper."""
