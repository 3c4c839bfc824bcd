"""Neural networks in natural-image spaces (Fan & Yezzi): the value of individual training samples.

- :mod:`~nngeom.natural_image_spaces.statistics`: per-sample statistics of a training run (which samples
  were classified correctly at every epoch, with what probabilities), illusive samples and the cumulative
  confusion matrix;
- :mod:`~nngeom.natural_image_spaces.subgroups`: confidence and illusiveness rankings, the subgroups
  ``S^p_c`` of Table 1, an extra class of uniform noise (eq. 1), and Table 1's metrics;
- :mod:`~nngeom.natural_image_spaces.studies`: Table 1 as a study (retraining on every union of subgroups,
  without and with the noise class, cached per run);
- :mod:`~nngeom.natural_image_spaces.toy`: Figure 1's step function, learned from two training sets.

Builds on :mod:`nngeom.core`; imports no other paper's subpackage.
"""
