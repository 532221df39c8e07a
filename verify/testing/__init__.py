"""Property testing: hypothesis strategies, property runs at any scale, and the pytest plugin.

* :mod:`~verify.testing.strategies`: networks, parameters and data as hypothesis strategies
  (settings profiles in :mod:`~verify.testing.profiles`);
* :mod:`~verify.testing.runs`: a property run as plain data, split into parts and shards;
* :mod:`~verify.testing.part`: one part run here: generated code == candidate == finite differences
  on random networks;
* :mod:`~verify.testing.property_suite`: the parts as a pytest module (what ``backprop proptest`` runs,
  through :mod:`~verify.testing.local`, with pytest-xdist for ``-n``);
* :mod:`~verify.testing.distributed`: the parts as tasks on a Dask cluster (``--dask``);
* :mod:`~verify.testing.results`: the result of a shard as JSON, shards merged into one verdict;
* :mod:`~verify.testing.pytest_plugin`: the ``assert_gradients_match`` fixture.
"""
