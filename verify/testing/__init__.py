"""Property testing: hypothesis strategies, the property suite and the pytest plugin.

* :mod:`~verify.testing.strategies`: networks, parameters and data as hypothesis strategies;
* :mod:`~verify.testing.property_suite`: generated code == engine == finite differences on random networks
  (what ``backprop proptest`` runs);
* :mod:`~verify.testing.pytest_plugin`: the ``assert_gradients_match`` fixture.
"""
