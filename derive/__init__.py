"""derive: the SymPy side of backprop.

Describes networks (:class:`Network`), holds the registries of activations and
losses (each defined once, as SymPy), derives gradients with ``sympy.diff`` and
prints them as numpy code.  It never imports :mod:`verify`.
"""

from derive.model.activation_specs import get_activation
from derive.model.activations import ACTIVATIONS, Activation, register_activation
from .derivation import Derivation, clear_caches, derive, structure_module
from .errors import InputError
from derive.model.expression import parse_activation
from derive.model.losses import LOSSES, Loss, get_loss, register_loss
from derive.model.network import Network
from derive.model.params import check_params, init_params, load_params, save_params

__all__ = [
    "ACTIVATIONS", "Activation", "Derivation", "InputError", "LOSSES", "Loss", "Network",
    "check_params", "clear_caches", "derive", "get_activation", "get_loss", "init_params", "load_params",
    "parse_activation", "register_activation", "register_loss", "save_params", "structure_module",
]
