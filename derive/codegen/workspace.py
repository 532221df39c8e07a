"""The one helper a generated module uses to keep its intermediate arrays between calls.

``gradients(params, X, T, workspace=ws)`` with a dict ``ws`` that the caller
keeps (one per thread) computes the forward values, the deltas and the other
intermediate arrays into the arrays stored in it, instead of allocating them
anew on every call.  Freshly allocated arrays cost page faults whenever the C
allocator has returned their memory to the operating system between calls
(glibc does, above its trim threshold): about 2,000 per call for a
784-512-512-10 network at batch 256, more time than all of backprop's
elementwise work.  Returned arrays are never taken from the workspace.

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
