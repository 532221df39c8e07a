"""Each piece of the chain rule is derived once for what it depends on, and renumbered to its layer.

The output delta depends on the output activation, the loss and the
reduction; a hidden delta on its activation; a layer's gradients on the bias
and the penalties.  Deriving a network after others that share its pieces
(at other depths and layers) must give exactly what deriving it alone gives:
the same deltas, gradients, steps and printed module.
"""

import pytest

from derive import Network, clear_caches, derive

DEEP = Network((3, 4, 5, 2), activation=["tanh", "sigmoid", "softmax"], loss="cross_entropy", weight_decay=0.01,
               l1=0.02, reduction="mean")
#: Networks that share DEEP's pieces at other layers: its output delta at depth 1, its hidden deltas and
#: gradients at other layer numbers.
SHARING = [Network((2, 3), activation="softmax", loss="cross_entropy", weight_decay=0.01, l1=0.02, reduction="mean"),
           Network((2, 2, 2, 2, 2), activation=["sigmoid", "sigmoid", "tanh", "linear"], weight_decay=0.01, l1=0.02)]


def _everything(network):
    derivation = derive(network)
    return (derivation.equations(), [(s.label, s.equation, s.layer) for s in derivation.steps],
            derivation.numpy_source(), [v.deltas for v in derivation.variants()])


@pytest.fixture
def fresh():
    clear_caches()
    yield
    clear_caches()


def test_a_network_derived_after_others_sharing_its_pieces_is_derived_as_if_alone(fresh):
    alone = _everything(DEEP)
    clear_caches()
    for other in SHARING:
        derive(other).numpy_source()
    assert _everything(DEEP) == alone


def test_pieces_shared_at_other_layers_carry_their_own_layer_numbers(fresh):
    for other in SHARING:
        derive(other)
    steps = derive(DEEP).steps
    assert [s.label for s in steps if s.layer == 3][:2] == ["dE/dA3: derivative of the loss (dE/do)",
                                                           "dA3/dZ3: derivative of the activation (do/dnet)"]
    assert "dZ3/dA2: how the next layer's net input depends on this output" in [s.label for s in steps]
    # lambda = 0.01 -> W3/100, mu = 0.02 -> sign(W3)/50, by hand
    assert str(derive(DEEP).gradient("W3")) == ("sign(W3[j, i])/50 + W3[j, i]/100 + "
                                                "Sum(A2[n, i]*delta3[n, j], (n, 0, N - 1))")
