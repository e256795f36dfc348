"""Drawing primitives that paint the colour frame and, optionally, the label map with identical
geometry (anti-aliased in colour, hard-edged in the label map)."""

from __future__ import annotations

import cv2
import numpy as np

from pstpose.data.synthetic.appearance import Color, shades

SHIFT = 4  # sub-pixel bits for OpenCV drawing
ONE = 1 << SHIFT
LIGHT_DIR = np.array([-0.45, -0.9]) / np.hypot(0.45, 0.9)  # light from the upper left


def _fix(p: np.ndarray) -> tuple[int, int]:
    return int(round(float(p[0]) * ONE)), int(round(float(p[1]) * ONE))


def _fix_poly(pts: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(pts, dtype=np.float64) * ONE).astype(np.int32).reshape(-1, 1, 2)


class Painter:
    def __init__(self, image: np.ndarray, labels: np.ndarray | None):
        self.image = image
        self.labels = labels

    def line(self, a: np.ndarray, b: np.ndarray, thickness: float, color: Color, label: int | None = None) -> None:
        th = max(1, int(round(thickness)))
        pa, pb = _fix(a), _fix(b)
        cv2.line(self.image, pa, pb, color, th, cv2.LINE_AA, SHIFT)
        if label is not None and self.labels is not None:
            cv2.line(self.labels, pa, pb, int(label), th, cv2.LINE_8, SHIFT)

    def poly(self, pts: np.ndarray, color: Color, label: int | None = None) -> None:
        fixed = _fix_poly(pts)
        cv2.fillPoly(self.image, [fixed], color, cv2.LINE_AA, SHIFT)
        if label is not None and self.labels is not None:
            cv2.fillPoly(self.labels, [fixed], int(label), cv2.LINE_8, SHIFT)

    def ellipse(
        self, center: np.ndarray, axes: tuple[float, float], angle: float, color: Color, label: int | None = None
    ) -> None:
        c = _fix(center)
        ax = (max(1, int(round(axes[0] * ONE))), max(1, int(round(axes[1] * ONE))))
        cv2.ellipse(self.image, c, ax, float(angle), 0, 360, color, -1, cv2.LINE_AA, SHIFT)
        if label is not None and self.labels is not None:
            cv2.ellipse(self.labels, c, ax, float(angle), 0, 360, int(label), -1, cv2.LINE_8, SHIFT)

    def capsule(self, a: np.ndarray, b: np.ndarray, radius: float, color: Color, label: int | None) -> None:
        """A shaded limb: shadow outline, a base layer and a highlight, both shifted towards the
        light but kept inside the outline (so the label map stays exact)."""
        dark, base, light = shades(color)
        self.line(a, b, 2 * radius, dark, label)
        if radius >= 1.5:
            off = LIGHT_DIR * 0.22 * radius
            self.line(a + off, b + off, 1.3 * radius, base)
            off = LIGHT_DIR * 0.42 * radius
            self.line(a + off, b + off, 0.5 * radius, light)

    def shaded_poly(self, pts: np.ndarray, color: Color, label: int | None) -> None:
        """A shaded convex shape: shadow, a shrunken base layer and a highlight towards the light."""
        dark, base, light = shades(color)
        self.poly(pts, dark, label)
        center = pts.mean(axis=0)
        extent = float(np.min(pts.max(axis=0) - pts.min(axis=0)))
        for shrink, shift, col in ((0.78, 0.09, base), (0.4, 0.2, light)):
            inner = center + (pts - center) * shrink + LIGHT_DIR * shift * extent
            self.poly(inner, col)

    def pattern(self, pts: np.ndarray, style: str, color: Color, period: float, angle: float) -> None:
        """Stripes, checks or dots inside a convex region, blended over the shading."""
        if style == "plain" or period < 3:
            return
        h, w = self.image.shape[:2]
        x0, y0 = np.floor(pts.min(axis=0)).astype(int)
        x1, y1 = np.ceil(pts.max(axis=0)).astype(int) + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        center = pts.mean(axis=0)
        cv2.fillPoly(mask, [_fix_poly(center + (pts - center) * 0.92 - (x0, y0))], 255, cv2.LINE_8, SHIFT)
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        ca, sa = np.cos(angle), np.sin(angle)
        along = (xx * ca + yy * sa) / period
        across = (-xx * sa + yy * ca) / period
        if style == "stripes":
            on = (np.floor(across) % 2) == 0
        elif style == "checks":
            on = ((np.floor(across) + np.floor(along)) % 2) == 0
        else:  # dots
            on = ((along % 1 - 0.5) ** 2 + (across % 1 - 0.5) ** 2) < 0.09
        sel = on & (mask > 0)
        roi = self.image[y0:y1, x0:x1]
        lum = roi[sel].astype(np.float32).mean(axis=1, keepdims=True) / 160.0
        roi[sel] = np.clip(np.asarray(color, np.float32)[None] * np.clip(lum, 0.5, 1.3), 0, 255).astype(np.uint8)
