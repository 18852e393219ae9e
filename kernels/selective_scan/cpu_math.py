"""Scalar math for the numba CPU scan (``fused_cpu.py``), written so that LLVM vectorizes it.

Why not ``math.exp``: numba calls libm's scalar exp, which stops LLVM from vectorizing the inner loop over
channels. In fp32 exp and log are polynomials instead (relative error below 3e-7; exp's argument is
clamped to [-126, 126] in base 2); fp64 (gradcheck) keeps libm. Every constant goes through ``cast`` so
that fp32 code stays fp32 (a Python float literal would promote it to fp64). These functions are
callable only from numba code.
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

_F = np.float32
_EXP2_POLY = tuple(_F(math.log(2) ** k / math.factorial(k)) for k in range(7))
_LOG_POLY = tuple(_F(c) for c in (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1,
                                  1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1,
                                  3.3333331174e-1))  # Cephes logf


@intrinsic
def _f32_from_bits(typingctx, bits):
    """Reinterpret int32 bits as float32 (an LLVM bitcast: it vectorizes, unlike ldexp / frexp)."""
    if bits != types.int32:
        return None
    return types.float32(types.int32), lambda context, builder, sig, args: builder.bitcast(args[0], ir.FloatType())


@intrinsic
def _bits_from_f32(typingctx, x):
    if x != types.float32:
        return None
    return types.int32(types.float32), lambda context, builder, sig, args: builder.bitcast(args[0], ir.IntType(32))


def cast(like, value):
    """value in like's float type."""
    raise NotImplementedError


def scan_exp(x):
    """exp(x)."""
    raise NotImplementedError


def scan_log(x):
    """log(x) for x > 0."""
    raise NotImplementedError


@overload(cast, inline="always")
def _cast(like, value):
    if like == types.float32:
        return lambda like, value: np.float32(value)
    return lambda like, value: np.float64(value)


@overload(scan_exp, inline="always")
def _scan_exp(x):
    if x != types.float32:
        return lambda x: math.exp(x)
    c0, c1, c2, c3, c4, c5, c6 = _EXP2_POLY

    def exp_f32(x):
        v = min(max(x * _F(1.4426950408889634), _F(-126.0)), _F(126.0))
        k = np.floor(v + _F(0.5))
        f = v - k
        p = ((((((c6 * f + c5) * f + c4) * f + c3) * f + c2) * f + c1) * f + c0)
        return p * _f32_from_bits(np.int32((k + _F(127.0)) * _F(8388608.0)))

    return exp_f32


@overload(scan_log, inline="always")
def _scan_log(x):
    if x != types.float32:
        return lambda x: math.log(x)
    p0, p1, p2, p3, p4, p5, p6, p7, p8 = _LOG_POLY

    def log_f32(x):
        bits = _bits_from_f32(x)
        e = ((bits >> 23) & 0xFF) - 126
        m = _f32_from_bits(np.int32((bits & 0x807FFFFF) | 0x3F000000))  # x = m * 2^e, m in [0.5, 1)
        small = m < _F(0.70710678)
        e = e - 1 if small else e
        m = m + m - _F(1.0) if small else m - _F(1.0)
        ef = _F(e)
        z = m * m
        y = ((((((((p0 * m + p1) * m + p2) * m + p3) * m + p4) * m + p5) * m + p6) * m + p7) * m + p8) * m * z
        y = y + ef * _F(-2.12194440e-4) - _F(0.5) * z
        return m + y + ef * _F(0.693359375)

    return log_f32


@njit(inline="always")
def softplus(pre):
    """(dt, d dt / d pre) with the Triton kernels' threshold of 20 (identity above it)."""
    one, twenty = cast(pre, 1.0), cast(pre, 20.0)
    if pre > twenty:
        return pre, one
    e = scan_exp(pre)
    return scan_log(one + e), e / (one + e)


@njit(inline="always")
def gate(z, act):
    """(act(z), act'(z)) for the GATE_IDS codes: 0 silu, 1 exact gelu, 2 sigmoid, 3 identity."""
    one = cast(z, 1.0)
    if act == 0 or act == 2:
        s = one / (one + scan_exp(-z))
        if act == 2:
            return s, s * (one - s)
        return z * s, s * (one + z * (one - s))
    if act == 1:
        half = cast(z, 0.5)
        cdf = (one + math.erf(z * cast(z, 0.7071067811865476))) * half
        return z * cdf, cdf + z * scan_exp(-half * z * z) * cast(z, 0.3989422804014327)
    return z, one
