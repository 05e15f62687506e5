#!/usr/bin/env python3
"""Fits the rational approximation of erf that the AVX-512 GELU kernel evaluates
(Sources/CVitrineKernels/activations.c) and prints its coefficients as C.

erf(z) ≈ z · P(z²) / Q(z²) on 0 ≤ z ≤ 5.5/√2 (GELU's inputs |x| ≤ 5.5; beyond, GELU is x or 0
to within 1.1e-7 · |x|), P of degree 6 and Q of degree 4 with Q(0) = 1. The fit is a weighted
linear least squares of P − f·Q (f = erf(z)/z), reweighted by Lawson's rule towards the smallest
largest error of erf itself, in double precision; it prints that error (about 4e-8) and the
largest error of GELU evaluated in float32 relative to max(1, |x|) on a grid (rounding dominates
there). Needs numpy and scipy (never in CI; the coefficients are committed).
    scripts/fit-erf.py
"""
import numpy as np
from scipy.special import erf

EDGE = 5.5 / np.sqrt(2)
DEGREES = (6, 4)


def fit(num, den, rounds=200):
    z = np.linspace(1e-5, EDGE, 40_000)
    f = erf(z) / z
    s = z * z / EDGE**2  # the fit runs on [0, 1] for conditioning
    weight = np.ones_like(z)
    best = None
    for _ in range(rounds):
        powers = s[:, None] ** np.arange(max(num, den) + 1)
        a = np.hstack([powers[:, : num + 1], -f[:, None] * powers[:, 1 : den + 1]])
        w = np.sqrt(weight) * z  # erf's error is z times the ratio's
        solution, *_ = np.linalg.lstsq(a * w[:, None], f * w, rcond=None)
        p, q = solution[: num + 1], np.concatenate([[1.0], solution[num + 1 :]])
        error = np.abs(z * (np.polyval(p[::-1], s) / np.polyval(q[::-1], s) - f))
        if best is None or error.max() < best[0]:
            best = (error.max(), p, q)
        weight *= error / error.max() + 1e-4
        weight /= weight.max()
    largest, p, q = best
    # Back from s to t = z².
    return largest, p / EDGE ** (2 * np.arange(num + 1)), q / EDGE ** (2 * np.arange(den + 1))


def gelu32(x, p, q):
    f32 = np.float32
    z = (x * f32(0.70710678118654752)).astype(f32)
    t = (z * z).astype(f32)
    num = f32(p[-1])
    for c in p[-2::-1]:
        num = (num * t + f32(c)).astype(f32)
    den = f32(q[-1])
    for c in q[-2::-1]:
        den = (den * t + f32(c)).astype(f32)
    phi = (f32(0.5) * z * (num / den) + f32(0.5)).astype(f32)
    phi = np.where(x >= 5.5, f32(1), np.where(x <= -5.5, f32(0), phi))
    return (x * phi).astype(f32)


largest, p, q = fit(*DEGREES)
x = np.linspace(-8, 8, 400_001).astype(np.float32)
want = 0.5 * x.astype(np.float64) * (1 + erf(x.astype(np.float64) / np.sqrt(2)))
gelu_error = np.max(np.abs(gelu32(x, p, q) - want) / np.maximum(1, np.abs(x)))
print(f"// erf's largest error {largest:.2g}; GELU in float32 {gelu_error:.2g} relative to max(1, |x|)")
def floats(values):  # each float32 in its shortest round-trip form
    return ", ".join(str(np.float32(c)) + "f" for c in values)


print(f"static const float erf_num[7] = {{{floats(p)}}};")
print(f"static const float erf_den[5] = {{{floats(q)}}};")
