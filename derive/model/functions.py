"""SymPy functions for the activations SymPy does not already have.

Each class is a :class:`sympy.Function` whose derivative is declared in
``fdiff``, exactly as SymPy's own ``tanh.fdiff`` returns ``1 - tanh(x)**2``.
That is how :func:`sympy.diff` learns that the sigmoid's derivative is
``S(1 - S)`` (the lecture's identity) without anyone expanding exponentials,
and how derived expressions stay in the vocabulary of the lecture.

These classes are only SymPy definitions.  What else an activation is (its
numpy helper, its kinks, its range, its stable log forms) is in its record in
:mod:`derive.model.activations`, which everything else reads.
"""

from __future__ import annotations

import sympy
from sympy import Function, Heaviside, Piecewise, S, exp, log
from sympy.core.function import ArgumentIndexError


class sigmoid(Function):
    """The logistic function S(z) = 1 / (1 + e^-z); S'(z) = S(z)(1 - S(z))."""

    @classmethod
    def eval(cls, z):
        if z.is_zero:
            return S.Half
        if z.is_Number:
            return 1 / (1 + exp(-z))
        return None

    def fdiff(self, argindex=1):
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, z, **kwargs):
        return 1 / (1 + exp(-z))

    def _eval_is_real(self):
        return self.args[0].is_real

    def _latex(self, printer):
        return r"\sigma\left(%s\right)" % printer._print(self.args[0])


class relu(Function):
    """max(0, z); derivative Heaviside(z) with the subgradient 0 at the kink."""

    @classmethod
    def eval(cls, z):
        if z.is_Number:
            return sympy.Max(z, 0)
        return None

    def fdiff(self, argindex=1):
        return Heaviside(self.args[0], 0)

    def _eval_rewrite_as_Piecewise(self, z, **kwargs):
        return Piecewise((z, z > 0), (0, True))

    def _eval_is_real(self):
        return self.args[0].is_real


class leaky_relu(Function):
    """z for z > 0, slope*z otherwise; derivative 1 or slope (slope at the kink)."""

    nargs = 2

    @classmethod
    def eval(cls, z, slope):
        if z.is_Number and slope.is_Number:
            return z if z > 0 else slope * z
        return None

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        z, slope = self.args
        return Piecewise((S.One, z > 0), (slope, True))

    def _eval_rewrite_as_Piecewise(self, z, slope, **kwargs):
        return Piecewise((z, z > 0), (slope * z, True))

    def _eval_is_real(self):
        return self.args[0].is_real


class elu(Function):
    """The exponential linear unit: z for z > 0, alpha*(e^z - 1) otherwise.

    Its derivative is 1 for z > 0 and alpha*e^z = elu(z) + alpha otherwise
    (``fdiff`` writes it with ``elu`` itself, which the forward pass has
    computed and which, unlike e^z, cannot overflow for large z).
    """

    nargs = 2

    @classmethod
    def eval(cls, z, alpha):
        if z.is_Number and alpha.is_Number:
            return z if z > 0 else alpha * (exp(z) - 1)
        return None

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        z, alpha = self.args
        return Piecewise((S.One, z > 0), (elu(z, alpha) + alpha, True))

    def _eval_rewrite_as_Piecewise(self, z, alpha, **kwargs):
        return Piecewise((z, z > 0), (alpha * (exp(z) - 1), True))

    def _eval_is_real(self):
        return self.args[0].is_real


class normal_cdf(Function):
    """The standard normal distribution function Phi(z) = (1 + erf(z/sqrt(2)))/2; Phi'(z) = exp(-z^2/2)/sqrt(2 pi).

    GELU's exact form is z Phi(z) (PyTorch's ``nn.GELU()``).  Not an activation of its own: the printer calls
    :func:`derive.model.numeric.normal_cdf` for it, the one helper that is not an activation record's.
    """

    @classmethod
    def eval(cls, z):
        if z.is_zero:
            return S.Half
        if z.is_Number:
            return (1 + sympy.erf(z / sympy.sqrt(2))) / 2
        return None

    def fdiff(self, argindex=1):
        z = self.args[0]
        return exp(-z ** 2 / 2) / sympy.sqrt(2 * sympy.pi)

    def _eval_rewrite_as_erf(self, z, **kwargs):
        return (1 + sympy.erf(z / sympy.sqrt(2))) / 2

    def _eval_is_real(self):
        return self.args[0].is_real

    def _latex(self, printer):
        return r"\Phi\left(%s\right)" % printer._print(self.args[0])


class softplus(Function):
    """log(1 + e^z), a smooth ReLU; its derivative is the sigmoid."""

    @classmethod
    def eval(cls, z):
        if z.is_Number:
            return log(1 + exp(z))
        return None

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0])

    def _eval_rewrite_as_log(self, z, **kwargs):
        return log(1 + exp(z))

    def _eval_is_real(self):
        return self.args[0].is_real
