"""tickwork benchmarks: ``python -m bench WORKLOAD`` (``python -m bench all`` runs every one).

Benchmarks measure and report; they are never unit tests with timing assertions. Each
workload is one module with a ``run(options) -> Report`` function, registered in
``bench/__main__.py``.
"""
