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


def dense_from_products(product, params, X, T, keys, block_bytes, workspace=None):
    """The dense matrix whose column e is ``product(params, X, T, e-th unit direction)``, in the order of ``keys``.

    Rows and columns run over the parameters in ``keys`` order, each
    flattened row-major (``W1[0, 0], W1[0, 1], ..., b1[0], ...``).  The unit
    directions go to ``product`` a block at a time, as one ``V`` with a leading
    direction axis (rows of the identity), as many per block as keep its
    arrays near ``block_bytes``: about eight of ``(N, n_l)`` per layer and
    direction, and the direction and the product themselves.  The matrix is
    stored column by column (Fortran order), so that each block of products
    is copied in as it comes, without a transpose.
    """
    dtype = np.result_type(X, *(params[key] for key in keys), 1.0)
    shapes = [np.shape(params[key]) for key in keys]
    sizes = [int(np.prod(shape, dtype=np.int64)) for shape in shapes]
    offsets = np.cumsum([0] + sizes)
    total = int(offsets[-1])
    units = sum(shape[0] for shape in shapes if len(shape) == 2)  # n_1 + ... + n_L
    per_direction = dtype.itemsize * (8 * len(X) * units + 2 * total)
    block = max(1, min(total, block_bytes // per_direction))
    columns = np.empty((total, total), dtype)  # row e holds column e of the matrix
    for start in range(0, total, block):
        count = min(block, total - start)
        identity = np.eye(count, total, start, dtype)
        V = {key: identity[:, offsets[e]:offsets[e + 1]].reshape((count,) + shape)
             for e, (key, shape) in enumerate(zip(keys, shapes))}
        result = product(params, X, T, V, workspace)
        for e, key in enumerate(keys):
            columns[start:start + count, offsets[e]:offsets[e + 1]] = np.reshape(result[key], (count, -1))
    return columns.T
