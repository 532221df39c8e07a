"""The one helper a generated module calls when its arrays do not fit together: :func:`shape_error`.

Every generated function checks, after the dtype cast, the shapes of the
arrays it reads in one tuple comparison (``(X.shape, W1.shape, ...) !=
((N, n_0), (n_1, n_0), ...)``), which costs well under a microsecond.  Only
when that comparison fails does it call :func:`shape_error`, which works out
*which* array is the first that does not fit and says so in one line.

An expected shape is a tuple of extents: a number (a width printed into a
width-specific module: ``(2, 2)``) or a size name (``"N"``, ``"n_1"``) that
every array must agree on.  A width-generic module (``any_width=True``)
expects only names: the first array in which a name appears sets it (``N`` and
``n_0`` from ``X``, ``n_l`` from ``W_l``), and every later one must match.

The function is copied into generated modules, so it uses plain Python only.
"""


def shape_error(names, shapes, expected):
    """Raise the ValueError that names the first array whose shape does not fit the others.

    Args:
        names: The arrays' names, in the order sizes are read from them (``("X", "W1", ..., "T")``).
        shapes: Their shapes.
        expected: Their expected shapes: tuples of numbers and size names.
    """
    def text(pattern):  # (N, n_0), (2,): a shape as Python prints a tuple, names unquoted
        extents = [str(extent) for extent in pattern]
        return "(%s,)" % extents[0] if len(extents) == 1 else "(%s)" % ", ".join(extents)

    sizes = {}
    wanted = ", ".join("%s %s" % (name, text(shape)) for name, shape in zip(names, expected))
    for name, shape, pattern in zip(names, shapes, expected):
        shape = tuple(shape)
        if len(shape) != len(pattern):
            raise ValueError("%s has shape %s (%d axes), expected %s; the arrays must have the shapes %s"
                             % (name, shape, len(shape), text(pattern), wanted))
        for actual, extent in zip(shape, pattern):
            if isinstance(extent, str):
                known, source = sizes.setdefault(extent, (actual, name))
                if known != actual:
                    raise ValueError("%s has shape %s, but %s = %d from %s; the arrays must have the shapes %s"
                                     % (name, shape, extent, known, source, wanted))
            elif actual != extent:
                raise ValueError("%s has shape %s, expected %s; the arrays must have the shapes %s"
                                 % (name, shape, text(pattern), wanted))
    raise ValueError("the arrays %s have shapes %s; they must have the shapes %s"
                     % (", ".join(names), ", ".join(str(tuple(shape)) for shape in shapes), wanted))

