"""The one helper a generated module uses to keep its intermediate arrays between calls.

``gradients(params, X, T, workspace=ws)`` with a dict ``ws`` that the caller
keeps (one per thread) computes the forward values, the deltas and the other
intermediate arrays into the arrays stored in it, instead of allocating them
anew on every call.  Freshly allocated arrays cost page faults whenever the C
allocator has returned their memory to the operating system between calls
(glibc does, above its trim threshold): about 2,000 per call for a
784-512-512-10 network at batch 256, more time than all of backprop's
elementwise work.  Returned arrays are never taken from the workspace.
Shapes are computed per call: in a width-generic module (``any_width=True``)
from the sizes the prologue read from the arrays (``(N, n_1)``), and a kept
array whose shape or dtype no longer fits is replaced.

The function is copied into generated modules, so it uses numpy only.
"""

import numpy as np


def workspace_buffer(workspace, name, shape, dtype):
    """An array of ``shape`` and ``dtype``: the one kept in ``workspace[name]``, or a new one.

    With ``workspace=None`` every call gets a new array.
    """
    if workspace is None:
        return np.empty(shape, dtype)
    buffer = workspace.get(name)
    if buffer is None or buffer.shape != shape or buffer.dtype != dtype:
        buffer = workspace[name] = np.empty(shape, dtype)
    return buffer


def dense_from_products(product, params, X, T, keys, largest, workspace=None):
    """The dense matrix whose column e is ``product(params, X, T, e-th unit direction)``, in the order of ``keys``.

    Rows and columns run over the parameters in ``keys`` order, each
    flattened row-major (``W1[0, 0], W1[0, 1], ..., b1[0], ...``).  Refuses
    (``ValueError``) more than ``largest`` parameters: the matrix grows with
    their square.
    """
    dtype = np.result_type(X, *(params[key] for key in keys), 1.0)
    sizes = [int(np.size(params[key])) for key in keys]
    total = sum(sizes)
    if total > largest:
        raise ValueError("a dense %d x %d matrix (%.3g MB) is refused above %d parameters; use the products instead"
                         % (total, total, total * total * np.dtype(dtype).itemsize / 1e6, largest))
    dense = np.empty((total, total), dtype)
    direction = {key: np.zeros(np.shape(params[key]), dtype) for key in keys}
    column = 0
    for key, size in zip(keys, sizes):
        flat = direction[key].reshape(-1)
        for entry in range(size):
            flat[entry] = 1
            result = product(params, X, T, direction, workspace)
            dense[:, column] = np.concatenate([np.reshape(result[k], -1) for k in keys])
            flat[entry] = 0
            column += 1
    return dense
