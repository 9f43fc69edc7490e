"""Procedural object rendering for the synthetic ventral stream (numpy only, vectorised).

Objects are 2-D silhouettes given by signed distance functions (negative inside), drawn with a
surface texture that moves with the object, under a pose (position, scale, in-plane rotation and
a foreshortening squash that mimics rotation in depth), on a 1/f-noise background. Distances are
in object units (an object fits in a disc of radius ~0.5); the image spans [-1, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CATEGORIES = ("blob", "star", "cross", "ring", "polygon", "crescent", "dumbbell", "chevron")
TEXTURES = ("plain", "stripes", "spots", "rings")


@dataclass(frozen=True)
class ObjectSpec:
    """One object: its category, shape parameters, colour and texture."""

    category: str
    name: str
    shape: tuple[float, ...]
    hue: float
    texture: str
    texture_freq: float
    texture_angle: float


def _box(x: np.ndarray, y: np.ndarray, hx: float | np.ndarray, hy: float | np.ndarray) -> np.ndarray:
    qx, qy = np.abs(x) - hx, np.abs(y) - hy
    outside = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0))
    return outside + np.minimum(np.maximum(qx, qy), 0)


def _rot(x: np.ndarray, y: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    c, s = np.cos(angle), np.sin(angle)
    return c * x + s * y, -s * x + c * y


def sdf(category: str, shape: tuple[float, ...], x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Signed distance (object units) of points ``(x, y)`` to an object of ``category``.

    ``shape`` holds three numbers in [0, 1] that select the object's proportions within its
    category; every object stays within radius ~0.55.
    """
    a, b, c = shape
    r = np.hypot(x, y)
    phi = np.arctan2(y, x)
    if category == "blob":  # superellipse; exponent from rounded to squarish
        rx, ry, n = 0.45, 0.25 + 0.2 * a, 1.5 + 3.0 * b
        q = (np.abs(x / rx) ** n + np.abs(y / ry) ** n) ** (1.0 / n)
        return (q - 1.0) * min(rx, ry)
    if category == "star":  # radius modulated by cos(m phi)
        m = 4 + int(round(3 * a))
        k = 0.25 + 0.25 * b
        r0 = 0.34
        return (r - r0 * (1 + k * np.cos(m * phi))) * 0.7
    if category == "cross":
        arm, w = 0.45, 0.08 + 0.08 * a
        x2, y2 = _rot(x, y, 0.6 * b)
        return np.minimum(_box(x2, y2, arm, w), _box(x2, y2, w, arm * (0.7 + 0.3 * c)))
    if category == "ring":
        radius, w = 0.32 + 0.1 * a, 0.06 + 0.08 * b
        return np.abs(np.hypot(x / (1 - 0.3 * c), y) - radius) - w
    if category == "polygon":  # regular m-gon
        m = 3 + int(round(3 * a))
        rad = 0.38 + 0.08 * b
        sector = 2 * np.pi / m
        local = np.mod(phi + 0.5 * np.pi, sector) - sector / 2
        return r * np.cos(local) - rad * np.cos(np.pi / m)
    if category == "crescent":  # disc minus a shifted disc
        big, small, shift = 0.42, 0.3 + 0.08 * a, 0.15 + 0.12 * b
        return np.maximum(r - big, small - np.hypot(x - shift, y))
    if category == "dumbbell":
        half, knob, bar = 0.3, 0.14 + 0.06 * a, 0.04 + 0.05 * b
        left = np.hypot(x + half, y) - knob
        right = np.hypot(x - half, y) - knob
        return np.minimum(np.minimum(left, right), _box(x, y, half, bar))
    if category == "chevron":  # two bars meeting at a vertex, opening 50-100 degrees
        opening = 0.9 + 0.8 * a
        w, length = 0.06 + 0.04 * b, 0.5 + 0.1 * c
        arms = []
        for sign in (-1.0, 1.0):
            xr, yr = _rot(x + 0.25, y, sign * opening / 2)
            arms.append(_box(xr - length / 2, yr, length / 2, w))
        return np.minimum(*arms)
    raise ValueError(f"unknown category {category!r}; known: {CATEGORIES}")


def hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    """One HSV colour (all in [0, 1]) as an RGB triple."""
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    return np.array([(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i])


def texture(spec: ObjectSpec, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Surface pattern in [0, 1] in object coordinates (it moves with the object)."""
    xr, _ = _rot(x, y, spec.texture_angle)
    f = spec.texture_freq
    if spec.texture == "plain":
        return np.full_like(x, 0.5)
    if spec.texture == "stripes":
        return 0.5 + 0.5 * np.tanh(3 * np.sin(2 * np.pi * f * xr))
    if spec.texture == "spots":
        return 0.5 + 0.5 * np.tanh(3 * (np.sin(2 * np.pi * f * x) * np.sin(2 * np.pi * f * y) - 0.2))
    if spec.texture == "rings":
        return 0.5 + 0.5 * np.tanh(3 * np.sin(2 * np.pi * f * np.hypot(x, y)))
    raise ValueError(f"unknown texture {spec.texture!r}; known: {TEXTURES}")


def pink_noise(rng: np.random.Generator, size: int, exponent: float = 1.6) -> np.ndarray:
    """A (size, size, 3) image of 1/f^exponent noise, each channel scaled to [0, 1]."""
    f = np.fft.fftfreq(size)
    fr = np.hypot(f[:, None], f[None, :])
    fr[0, 0] = 1.0
    amp = 1.0 / fr ** exponent
    amp[0, 0] = 0.0
    out = np.empty((size, size, 3))
    base = rng.standard_normal((size, size))
    for ch in range(3):
        # Channels share most of their structure (natural images are mostly luminance).
        noise = 0.8 * base + 0.6 * rng.standard_normal((size, size))
        img = np.real(np.fft.ifft2(np.fft.fft2(noise) * amp))
        img = (img - img.min()) / (np.ptp(img) + 1e-12)
        out[..., ch] = img
    return out


def render(spec: ObjectSpec, pose: dict[str, float], background: np.ndarray, size: int) -> np.ndarray:
    """Render one object under ``pose`` onto ``background`` (size x size x 3 in [0, 1]).

    ``pose`` keys: ``pos_x``, ``pos_y`` (image units, image spans [-1, 1]), ``scale``,
    ``rotation`` (radians), ``aspect`` (squash along the object's x axis, in (0, 1]).
    Returns float (size, size, 3) in [0, 1].
    """
    coords = (np.arange(size) + 0.5) / size * 2 - 1
    px, py = np.meshgrid(coords, -coords)  # y up
    x, y = _rot(px - pose["pos_x"], py - pose["pos_y"], pose["rotation"])
    x, y = x / (pose["scale"] * pose["aspect"]), y / pose["scale"]
    d = sdf(spec.category, spec.shape, x, y)
    pixel = 2.0 / size
    alpha = np.clip(0.5 - d * pose["scale"] / pixel, 0.0, 1.0)[..., None]
    tex = texture(spec, x, y)[..., None]
    shade = np.clip(1.0 - 0.5 * np.hypot(x + 0.2, y - 0.2), 0.4, 1.0)[..., None]  # light from upper left
    base = hsv_to_rgb(spec.hue, 0.75, 0.9)
    dark = hsv_to_rgb((spec.hue + 0.5) % 1.0, 0.5, 0.25)
    colour = (tex * base + (1 - tex) * dark) * shade
    return alpha * colour + (1 - alpha) * background
