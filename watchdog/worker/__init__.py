"""The reference ONNX inference worker that the daemon supervises in the embedded default and tests.

Modules, from the model up:

- ``digits``: the bundled model, trained on scikit-learn's digits and exported to ONNX.
- ``synthetic``: dense models of a chosen size, to see memory at realistic sizes.
- ``runtime``: ONNX Runtime session options, loading, running a batch.
- ``cpus``: usable CPUs from affinity and cgroup quota, to size thread pools.
- ``pool``, ``ratelimit``, ``cache``, ``faults``, ``inputs``, ``metrics``: the parts of serving.
- ``service``, ``app``, ``server``: request handling, the ASGI app, uvicorn.
- ``loadgen``: the load generator; ``launcher``: start a worker process and wait for it.

Importing this package loads neither ONNX Runtime nor scikit-learn.
"""
