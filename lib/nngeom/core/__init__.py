"""The shared core: what every paper's studies build on, and nothing paper-specific.

``data`` (data sets and their offline sources), ``toy`` (synthetic toy sets for the papers' toy figures),
``models`` (architectures), ``training`` and ``adversarial_training`` (training recipes), ``zoo`` (named,
cached, trained models), ``profiles`` (the smoke/default/paper settings files), ``attacks`` (one class per
adversarial attack), ``stats`` (intervals, tests and three-valued decisions), ``sampling`` (norm
concentration), ``parallel`` (jobs over worker processes), ``validation`` (parameter checks), ``io``
(atomic writes), ``device`` (CUDA or CPU, batched prediction, eval mode).

Imports go one way: ``core`` imports nothing else of ``nngeom`` (tests/test_layers.py).
"""
