"""XAS normalisation, energy calibration and edge quantities, vectorised over a series.

All spectra of a call share one energy grid (``energy_ev``, shape ``(points,)``, increasing) and
come as a 2-D array ``mu`` of shape ``(scans, points)``. The algorithms are larch's ``find_e0``
and ``pre_edge`` (xraylarch 2026.3) with larch's defaults: E0 at the derivative maximum, a line
fitted below the edge, a polynomial above it, the edge step at E0, and flattening. Fit windows
are selected point for point as larch selects them, so results agree with a loop over larch to
rounding; here spectra are fitted together with batched least squares.

As larch, each spectrum drops its own non-finite points, so a NaN never changes another spectrum.
Where larch keeps a repeated energy as a second point 0.5 meV higher, it is merged here with the
first (mean mu, counted twice in the fits): the derivative then has no spike there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .. import schemas

# Tabulated K-edge energies (eV), Bearden & Burr via xraydb; the elements of battery cathodes.
K_EDGE_ENERGY_EV = {
    "Ti": 4966.0, "V": 5465.0, "Cr": 5989.0, "Mn": 6539.0, "Fe": 7112.0,
    "Co": 7709.0, "Ni": 8333.0, "Cu": 8979.0, "Zn": 9659.0, "Ge": 11103.0, "Nb": 18986.0,
}
MAX_NNORM = 5
MIN_POINTS = 20  # find_e0 ignores 3 points at each end of both passes: below 20 points, fewer than 7 are left
TINY_ENERGY_EV = 0.0005  # larch's TINY_ENERGY: an energy closer than this to the previous one repeats it


def guess_k_edge(e0_ev: float, tolerance_ev: float = 40.0) -> str | None:
    """The element whose tabulated K edge is within ``tolerance_ev`` of ``e0_ev``, else None."""
    element, edge = min(K_EDGE_ENERGY_EV.items(), key=lambda kv: abs(kv[1] - e0_ev))
    return element if abs(edge - e0_ev) <= tolerance_ev else None


@dataclass(frozen=True)
class Normalised:
    """Result of ``pre_edge`` for a series: per-scan scalars and per-point arrays (NaN where not computed)."""

    e0_ev: np.ndarray  # (scans,) NaN when the spectrum could not be normalised (see notes)
    edge_step: np.ndarray  # (scans,)
    norm_mu: np.ndarray  # (scans, points), NaN at the spectrum's non-finite points
    flat_mu: np.ndarray  # (scans, points)
    pre_edge: np.ndarray  # (scans, points), fitted line in mu units
    post_edge: np.ndarray  # (scans, points), fitted polynomial in mu units
    pre1_ev: np.ndarray  # (scans,) fit ranges relative to E0, as used (larch's defaults and clipping)
    pre2_ev: np.ndarray
    norm1_ev: np.ndarray
    norm2_ev: np.ndarray
    nnorm: np.ndarray  # (scans,) post-edge polynomial degree used (NaN when not normalised)
    dropped_point_count: np.ndarray  # (scans,) non-finite points of each spectrum, left out of its fit
    notes: list[list[str]]  # per scan: what differs from the request, and why a spectrum was not normalised


def _as_series(energy_ev: np.ndarray, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    energy_ev = np.asarray(energy_ev, dtype=float)
    mu = np.atleast_2d(np.asarray(mu, dtype=float))
    if energy_ev.ndim != 1 or mu.ndim != 2 or mu.shape[1] != energy_ev.size:
        raise ValueError(f"energy has shape {energy_ev.shape}, mu {mu.shape}: expected (points,) and (scans, points)")
    if np.any(np.diff(energy_ev[np.isfinite(energy_ev)]) < 0):
        raise ValueError("energy must be in increasing order (repeated values are allowed)")
    return energy_ev, mu


@dataclass(frozen=True)
class _SamePoints:
    """Spectra of a series that have the same finite points, on those points' distinct energies."""

    rows: np.ndarray  # which spectra of the series
    points: np.ndarray  # their finite points, as indices into the series' grid
    distinct: np.ndarray  # for each of those points, the index of its energy in ``energy_ev``
    energy_ev: np.ndarray  # distinct energies, strictly increasing (the first of each repeated run)
    mu: np.ndarray  # (rows, distinct energies): mean of the values at a repeated energy
    weight: np.ndarray  # points merged into each distinct energy

    def covers(self, scans: int, points: int) -> bool:
        """True when this group is the whole series, point for point."""
        return self.rows.size == scans and self.points.size == points and self.energy_ev.size == points


def _finite(energy_ev: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(scans, points): where both the energy and the value are finite numbers."""
    return np.isfinite(values) & np.isfinite(energy_ev)[None, :]


def _same_points(energy_ev: np.ndarray, values: np.ndarray, finite: np.ndarray | None = None):
    """The series in groups of spectra with the same finite points (one group when everything is finite).

    As larch (``remove_nans2``), each spectrum keeps only its finite points; energies closer than
    ``TINY_ENERGY_EV`` to the previous one are one repeated point, merged here into their mean.
    """
    finite = _finite(energy_ev, values) if finite is None else finite
    if finite.all():
        patterns = [(np.arange(values.shape[0]), np.arange(energy_ev.size))]
    else:
        _, first, label = np.unique(np.packbits(finite, axis=1), axis=0, return_index=True, return_inverse=True)
        label = label.ravel()
        patterns = [(np.flatnonzero(label == k), np.flatnonzero(finite[row])) for k, row in enumerate(first)]
    for rows, points in patterns:
        energy = energy_ev[points]
        if points.size < energy_ev.size:
            kept = values[np.ix_(rows, points)]
        else:
            kept = values[rows] if rows.size < values.shape[0] else values
        new = np.diff(energy, prepend=-np.inf) >= TINY_ENERGY_EV
        if new.all():
            yield _SamePoints(rows, points, np.arange(points.size), energy, kept, np.ones(points.size))
            continue
        starts = np.flatnonzero(new)
        weight = np.diff(np.append(starts, points.size)).astype(float)
        yield _SamePoints(rows, points, np.cumsum(new) - 1, energy[starts],
                          np.add.reduceat(kept, starts, axis=1) / weight, weight)


def derivative(energy_ev: np.ndarray, values: np.ndarray) -> np.ndarray:
    """d(values)/dE along the last axis, central differences (per eV)."""
    return np.gradient(values, axis=-1) / np.gradient(energy_ev)


def _index_of(energy_ev: np.ndarray, value_ev: np.ndarray) -> np.ndarray:
    """Index of the last point at or below each value (0 when below the grid), as larch."""
    return np.maximum(np.searchsorted(energy_ev, value_ev, side="right") - 1, 0)


def _index_of_relative(energy_ev: np.ndarray, e0_ev: np.ndarray, offset_ev: np.ndarray) -> np.ndarray:
    """larch's ``index_of(energy - e0, offset)`` per spectrum: the same as ``_index_of(energy, e0 + offset)``
    but for rounding, which decides larch's line-or-mean choice for the pre-edge."""
    pairs, inverse = np.unique(np.stack([e0_ev, offset_ev], axis=1), axis=0, return_inverse=True)
    counts = np.array([np.count_nonzero(energy_ev - e0 <= offset) for e0, offset in pairs])
    return np.maximum(counts - 1, 0)[inverse.ravel()]


def _index_nearest(energy_ev: np.ndarray, value_ev: np.ndarray) -> np.ndarray:
    """Index of the point nearest each value (the lower one on a tie), as larch."""
    right = np.clip(np.searchsorted(energy_ev, value_ev), 1, energy_ev.size - 1)
    left = right - 1
    return np.where(np.abs(value_ev - energy_ev[left]) <= np.abs(energy_ev[right] - value_ev), left, right)


def _energy_step_ev(energy_ev: np.ndarray, frac_ignore: float = 0.01, nave: int = 10) -> float:
    """Typical fine energy step: skip the smallest 1 % of steps, average the next ``nave`` (larch).

    Like larch's ``find_energy_step``, the last point is not used, and a grid of fewer than 100
    points has no estimate and gets 1 eV.
    """
    nskip = int(frac_ignore * energy_ev.size)
    if nskip == 0:
        return 1.0
    steps = np.sort(np.diff(energy_ev[:-1][nskip:-nskip]))
    return float(steps[nskip:nskip + nave].mean())


def _lorentzian_smooth(energy_ev: np.ndarray, values: np.ndarray, width_ev: float, pad: int = 5) -> np.ndarray:
    """Each row convolved with a Lorentzian of half-width ``width_ev`` (larch ``smooth``, point for point).

    The rows are resampled on a uniform grid of ``width_ev`` steps, mirrored at both ends,
    convolved, and interpolated back onto ``energy_ev``.
    """
    low = width_ev * int((energy_ev[0] - pad * width_ev) / width_ev)
    high = width_ev * int((energy_ev[-1] + pad * width_ev) / width_ev)
    count = min(1 + int(abs(high - low + width_ev * 0.1) / width_ev), 50 * energy_ev.size)
    grid = np.linspace(low, high, count)
    position = np.clip(np.searchsorted(energy_ev, grid, side="right") - 1, 0, energy_ev.size - 2)
    weight = np.clip((grid - energy_ev[position]) / (energy_ev[position + 1] - energy_ev[position]), 0.0, 1.0)
    uniform = values[:, position] * (1 - weight) + values[:, position + 1] * weight
    offsets = np.arange(2 * count) - count
    kernel = 1.0 / (1.0 + offsets.astype(float) ** 2)
    padded = np.concatenate([uniform[:, count:0:-1], uniform, uniform[:, -1:-count - 1:-1]], axis=1)
    from scipy.signal import fftconvolve  # here: scipy.signal takes seconds to import, and few callers smooth

    smoothed = fftconvolve(padded, kernel[None, :] / kernel.sum(), mode="valid", axes=1)
    extra = (smoothed.shape[1] - count) // 2
    smoothed = smoothed[:, extra:extra + count]
    right = np.clip(np.searchsorted(grid, energy_ev, side="right"), 1, count - 1)
    frac = (energy_ev - grid[right - 1]) / (grid[right] - grid[right - 1])
    return smoothed[:, right - 1] * (1 - frac) + smoothed[:, right] * frac


def _largest_steep_point(dmu: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Per row, the index of the largest derivative whose neighbours are also steep (larch ``_finde0``).

    ``window`` (scans, points) marks the points each row may use; ``nmin`` points at each of its ends
    only serve the scaling, as in larch.
    """
    scans, points = dmu.shape
    index = np.arange(points)
    first = np.argmax(window, axis=1)
    length = window.sum(axis=1)
    nmin = np.maximum(3, (length * 0.02).astype(int))
    inner = window & (index >= (first + nmin)[:, None]) & (index < (first + length - nmin)[:, None])
    dmu = np.where(np.isfinite(dmu), dmu, -1.0)
    low = np.where(inner, dmu, np.inf).min(axis=1, keepdims=True)
    span = np.maximum(np.where(inner, dmu, -np.inf).max(axis=1, keepdims=True) - low, 1e-10)
    scaled = np.where(window, (dmu - low) / span, -np.inf)
    threshold = np.where(length > 20, 0.6, 0.3)[:, None]
    few = (scaled > threshold).sum(axis=1, keepdims=True) < 3  # too few steep points: lower the bar (larch)
    threshold = np.where(few, threshold * 0.5, threshold)
    still_few = few & ((scaled > threshold).sum(axis=1, keepdims=True) <= 3)
    threshold = np.where(still_few, threshold * 0.5, threshold)
    steep = scaled > threshold
    steep |= window & (steep.sum(axis=1, keepdims=True) < 3)  # still too few: every point may be E0
    neighbours = steep & np.roll(steep, 1, axis=1) & np.roll(steep, -1, axis=1)
    allowed = neighbours & (index >= (first + nmin)[:, None]) & (index <= (first + length - nmin)[:, None])
    best = np.where(allowed, scaled, -np.inf)
    return np.where(np.isfinite(best.max(axis=1)), best.argmax(axis=1), first)


def _find_e0(energy_ev: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """``find_e0`` on strictly increasing energies and finite mu (at least ``MIN_POINTS``)."""
    points = energy_ev.size
    # larch's _finde0 keeps the points where the energy order advances by one: all but the last one
    first = _largest_steep_point(derivative(energy_ev[:-1], mu[:, :-1]), np.ones((mu.shape[0], points - 1), dtype=bool))
    glitch = first < 0.05 * points
    estimate_ev = np.where(glitch, energy_ev.mean(), energy_ev[first])
    start = np.where(glitch, np.maximum(3, first - 20), np.maximum(3, first - 75))
    stop = np.where(glitch, points - 3, np.minimum(first + 75, points - 3))
    step_ev = np.clip(_energy_step_ev(energy_ev[:-1]), 0.01, 1.0)
    e0 = np.empty(mu.shape[0])
    windows = np.stack([start, stop, estimate_ev], axis=1)
    for window in np.unique(windows, axis=0):  # scans sharing a search window are refined together
        rows = np.all(windows == window, axis=1)
        low, high = int(window[0]), int(window[1]) - 1  # the window's last point is dropped as well
        energy = energy_ev[low:high]
        width_ev = 0.5 * (step_ev + np.clip(window[2] / 25000.0, 0.01, 1.0))
        smoothed = _lorentzian_smooth(energy, derivative(energy, mu[rows, low:high]), width_ev)
        refined = _largest_steep_point(smoothed, np.ones_like(smoothed, dtype=bool))
        e0[rows] = np.where(refined < 1, energy_ev[low + 2], energy[refined])
    return e0


def find_e0(energy_ev: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """E0 (eV) of each spectrum: the steepest point of mu, refined on a Lorentzian-smoothed derivative.

    Same two passes as larch ``find_e0``: raw derivative first; then, within +-75 points of that
    estimate, the derivative smoothed with a half-width of half the mean of the fine energy step
    and E0/25000 (each clipped to 0.01-1 eV). E0 is a point of the energy grid. Each spectrum
    uses only its finite points (repeated energies merged); NaN when fewer than ``MIN_POINTS``
    remain.
    """
    energy_ev, mu = _as_series(energy_ev, mu)
    e0 = np.full(mu.shape[0], np.nan)
    for group in _same_points(energy_ev, mu):
        if group.energy_ev.size >= MIN_POINTS:
            e0[group.rows] = _find_e0(group.energy_ev, group.mu)
    return e0


def _batched_polyfit(energy_ev: np.ndarray, y: np.ndarray, weight: np.ndarray, degree: np.ndarray) -> np.ndarray:
    """Weighted least-squares polynomials in energy fitted to each row of ``y``, evaluated at every point.

    ``weight`` (rows, points) is 0 outside a row's fit window (the number of merged points inside);
    ``degree`` is per row, lowered to what the window's points determine. The energy is centred
    and scaled on the span of all windows, so the batched normal equations stay well conditioned.
    """
    count = np.count_nonzero(weight, axis=1)
    degree = np.minimum(degree, np.maximum(count - 1, 0))
    terms = int(degree.max()) + 1
    used_points = weight.any(axis=0)
    low, high = energy_ev[used_points].min(), energy_ev[used_points].max()
    x = (energy_ev - (low + high) / 2) / max((high - low) / 2, 1e-9)
    powers = x[:, None] ** np.arange(terms)[None, :]  # (points, terms)
    used = (np.arange(terms)[None, :] <= degree[:, None]) & (count[:, None] > 0)  # (rows, terms)
    gram = (weight @ (powers[:, :, None] * powers[:, None, :]).reshape(x.size, terms * terms)).reshape(-1, terms, terms)
    rhs = (weight * y) @ powers
    pair = used[:, :, None] & used[:, None, :]
    gram = np.where(pair, gram, 0.0) + np.where(~used, 1.0, 0.0)[:, :, None] * np.eye(terms)[None]
    coefficients = np.linalg.solve(gram, np.where(used, rhs, 0.0)[:, :, None])[:, :, 0]
    return coefficients @ powers.T


@dataclass(frozen=True)
class _Fit:
    """``pre_edge`` of spectra on one grid of distinct energies."""

    e0_ev: np.ndarray
    ie0: np.ndarray  # index of the grid point nearest E0
    edge_step: np.ndarray
    pre_edge: np.ndarray  # (rows, distinct energies)
    post_edge: np.ndarray
    pre1_ev: np.ndarray
    pre2_ev: np.ndarray
    norm1_ev: np.ndarray
    norm2_ev: np.ndarray
    nnorm: np.ndarray
    notes: list[list[str]]


def _fit_edges(energy_ev: np.ndarray, mu: np.ndarray, weight: np.ndarray, requested_e0_ev: np.ndarray,
               pre1_ev: float | None, pre2_ev: float | None, norm1_ev: float | None, norm2_ev: float | None,
               nnorm: int | None) -> _Fit:
    """larch's ``preedge`` step by step, every rule and default vectorised over the rows.

    ``energy_ev`` strictly increasing, ``mu`` finite, ``weight`` the points behind each energy;
    ``requested_e0_ev`` NaN where E0 is to be found.
    """
    scans, points = mu.shape
    notes: list[list[str]] = [[] for _ in range(scans)]
    given = np.isfinite(requested_e0_ev)
    outside = given & ((requested_e0_ev < energy_ev[1]) | (requested_e0_ev > energy_ev[-2]))
    for k in np.flatnonzero(outside):
        notes[k].append(f"E0 {requested_e0_ev[k]:.2f} eV is outside {energy_ev[1]:.2f}-{energy_ev[-2]:.2f} eV (second "
                        "to last-but-one point): ignored and found from the spectrum, as larch does")
    e0 = requested_e0_ev.copy()
    if (search := ~given | outside).any():
        e0[search] = _find_e0(energy_ev, mu[search])
    ie0 = _index_nearest(energy_ev, e0)
    index = np.arange(points)

    # pre-edge: from the second point (rounded to 5 eV, 2 eV when E0 is within 20 points) to half of that
    if pre1_ev is None:
        to_second = energy_ev[1] - e0
        pre1 = np.where(ie0 > 20, 5.0 * np.round(to_second / 5.0), 2.0 * np.round(to_second / 2.0))
    else:
        pre1 = np.full(scans, float(pre1_ev))
    pre1 = np.maximum(pre1, energy_ev[0] - e0)
    pre2 = 0.5 * pre1 if pre2_ev is None else np.full(scans, float(pre2_ev))
    pre1, pre2 = np.minimum(pre1, pre2), np.maximum(pre1, pre2)
    constant = _index_of_relative(energy_ev, e0, pre2) - _index_of_relative(energy_ev, e0, pre1) < 3
    p1 = _index_of(energy_ev, pre1 + e0)
    p2 = _index_nearest(energy_ev, pre2 + e0)
    p2 = np.where(constant, np.where(p2 == p1, p2 + 1, p2), np.where(p2 - p1 < 2, np.minimum(points, p1 + 2), p2))
    pre_window = (index >= p1[:, None]) & (index < p2[:, None])

    # post-edge: to the last point (rounded to 5 eV, never beyond it), from min(25, norm2/15 rounded to 5 eV)
    to_last = energy_ev[-1] - e0
    norm2 = 5.0 * np.round(to_last / 5.0) if norm2_ev is None else np.full(scans, float(norm2_ev))
    norm2 = np.minimum(np.where(norm2 < 0, to_last - norm2, norm2), to_last)
    norm1 = np.minimum(25.0, 5.0 * np.round(norm2 / 15.0)) if norm1_ev is None else np.full(scans, float(norm1_ev))
    norm1, norm2 = np.minimum(norm1, norm2), np.maximum(norm1, norm2)
    norm1 = np.minimum(norm1, norm2 - 2)
    if nnorm is None:
        degree = np.where(norm2 - norm1 < 30, 0, np.where(norm2 - norm1 < 300, 1, 2))
    else:
        degree = np.full(scans, max(min(int(nnorm), MAX_NNORM), 0))
    q1 = np.minimum(_index_of(energy_ev, norm1 + e0), points - 3)
    q2 = _index_nearest(energy_ev, norm2 + e0)
    narrow = q2 - q1 < 2
    lowered = ~narrow & (q2 - q1 < 5) & (degree > 1)
    q1 = np.where(narrow, np.maximum(q1 - 2, 0), q1)
    post_window = (index >= q1[:, None]) & (index < q2[:, None])

    for k in np.flatnonzero(constant):
        notes[k].append(f"pre-edge range {pre1[k]:.1f} to {pre2[k]:.1f} eV gives fewer than 3 points: "
                        "its mean is used instead of a line (larch's rule)")
    for k in np.flatnonzero(narrow):
        notes[k].append(f"post-edge range {norm1[k]:.1f} to {norm2[k]:.1f} eV gives fewer than 2 points: a constant "
                        f"is fitted from {energy_ev[q1[k]] - e0[k]:.2f} eV on (larch's rule)")
    for k in np.flatnonzero(lowered):
        notes[k].append(f"post-edge range {norm1[k]:.1f} to {norm2[k]:.1f} eV gives {q2[k] - q1[k]} points: a line "
                        f"instead of a degree-{degree[k]} polynomial (larch's rule)")
    degree = np.where(narrow, 0, np.where(lowered, 1, degree))

    pre = _batched_polyfit(energy_ev, mu, pre_window * weight, np.where(constant, 0, 1))
    post = pre + _batched_polyfit(energy_ev, mu - pre, post_window * weight, degree)
    rows = np.arange(scans)
    step = np.maximum(np.abs(post[rows, ie0] - pre[rows, ie0]), 1e-12)
    return _Fit(e0, ie0, step, pre, post, pre1, pre2, norm1, norm2, degree, notes)


def pre_edge(energy_ev: np.ndarray, mu: np.ndarray, *, e0_ev: float | np.ndarray | None = None,
             pre1_ev: float | None = None, pre2_ev: float | None = None, norm1_ev: float | None = None,
             norm2_ev: float | None = None, nnorm: int | None = None) -> Normalised:
    """Normalise a series of spectra as larch ``pre_edge`` does, its defaults included.

    ``e0_ev``: None finds E0 per spectrum (``find_e0``); a number fixes one pivot for all (the ROCK
    way for operando series); an array gives one per spectrum (NaN: find it). An E0 outside the
    second to last-but-one point is ignored and found, as larch does (with a note). Ranges are
    relative to E0 in eV; None takes larch's default per spectrum: pre1 from the second point
    rounded to 5 eV (2 eV when E0 is one of the first 21), pre2 = pre1/2, norm2 from the last point
    rounded to 5 eV, norm1 = min(25, norm2/15 rounded to 5 eV), nnorm 2, 1 or 0 for a post-edge range
    of >= 300, >= 30 or < 30 eV. larch's clipping and swaps follow (pre1 >= Emin - E0,
    norm2 <= Emax - E0, norm1 <= norm2 - 2, fewer than 3 pre-edge points: their mean; fewer than 5
    post-edge points: at most a line), each noted. The edge step is post-edge minus pre-edge at the
    grid point nearest E0; ``flat_mu`` removes the post-edge curvature above E0. No energy
    exponent (larch ``nvict=0``), linear pre-edge (``npre=1``).

    Each spectrum is fitted on its own finite points (larch drops the others too), so a NaN never
    changes another spectrum; repeated energies count as one point of mean mu in the search for
    E0 and with their number as weight in the fits. A spectrum with fewer than ``MIN_POINTS``
    such points is not normalised: NaN results and a note saying so.
    """
    energy_ev, mu = _as_series(energy_ev, mu)
    scans, points = mu.shape
    requested = np.full(scans, np.nan) if e0_ev is None else np.broadcast_to(np.asarray(e0_ev, float), (scans,)).copy()
    scalars = {name: np.full(scans, np.nan) for name in
               ("e0_ev", "edge_step", "pre1_ev", "pre2_ev", "norm1_ev", "norm2_ev", "nnorm")}
    curves = {name: None for name in ("norm_mu", "flat_mu", "pre_edge", "post_edge")}
    finite = _finite(energy_ev, mu)
    dropped = points - np.count_nonzero(finite, axis=1)
    notes: list[list[str]] = [[f"{n} of {points} points not finite: left out"] if n else [] for n in dropped]
    for group in _same_points(energy_ev, mu, finite):
        merged = group.points.size - group.energy_ev.size
        for row in group.rows:
            if merged:
                notes[row].append(f"{merged} points repeat an energy within {TINY_ENERGY_EV * 1000:g} meV: "
                                  "averaged with it (larch keeps them 0.5 meV apart)")
            if group.energy_ev.size < MIN_POINTS:
                notes[row].append(f"only {group.energy_ev.size} finite points of distinct energy: at least "
                                  f"{MIN_POINTS} are needed to find E0 and normalise")
        if group.energy_ev.size < MIN_POINTS:
            continue
        fit = _fit_edges(group.energy_ev, group.mu, group.weight, requested[group.rows],
                         pre1_ev, pre2_ev, norm1_ev, norm2_ev, nnorm)
        for name in scalars:
            scalars[name][group.rows] = getattr(fit, name)
        for k, row in enumerate(group.rows):
            notes[row].extend(fit.notes[k])
        if group.covers(scans, points):
            curves = _curves(group, fit, mu)
            continue
        where = group.rows if group.points.size == points else np.ix_(group.rows, group.points)
        for name, values in _curves(group, fit, mu[where]).items():
            if curves[name] is None:
                curves[name] = np.full((scans, points), np.nan)
            curves[name][where] = values
    curves = {name: np.full((scans, points), np.nan) if values is None else values for name, values in curves.items()}
    return Normalised(**scalars, **curves, dropped_point_count=dropped, notes=notes)


def _curves(group: _SamePoints, fit: _Fit, measured: np.ndarray) -> dict[str, np.ndarray]:
    """norm_mu, flat_mu, pre_edge and post_edge at each finite point of the group's spectra.

    ``measured`` holds those points' own mu: a repeated energy keeps its own reading (as in larch)
    against the curves fitted at the merged energy.
    """
    spread = group.distinct
    pre = fit.pre_edge if spread.size == fit.pre_edge.shape[1] else fit.pre_edge[:, spread]
    post = fit.post_edge if spread.size == fit.post_edge.shape[1] else fit.post_edge[:, spread]
    rows = np.arange(group.rows.size)
    at_e0 = (fit.post_edge[rows, fit.ie0] - fit.pre_edge[rows, fit.ie0]) / fit.edge_step
    norm = (measured - pre) / fit.edge_step[:, None]
    residue = (post - pre) / fit.edge_step[:, None]
    flat = np.where(spread[None, :] >= fit.ie0[:, None], norm - residue + at_e0[:, None], norm)
    return {"norm_mu": norm, "flat_mu": flat, "pre_edge": pre, "post_edge": post}


def _parabola_vertex(energy_ev: np.ndarray, values: np.ndarray, peak: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertex (energy, value) of the parabola through each row's peak and its two neighbours."""
    rows = np.arange(values.shape[0])
    i = np.clip(peak, 1, energy_ev.size - 2)
    x0, x1, x2 = energy_ev[i - 1], energy_ev[i], energy_ev[i + 1]
    y0, y1, y2 = values[rows, i - 1], values[rows, i], values[rows, i + 1]
    denom = (x0 - x1) * (x0 - x2) * (x1 - x2)
    a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / denom
    b = (x2 ** 2 * (y0 - y1) + x1 ** 2 * (y2 - y0) + x0 ** 2 * (y1 - y2)) / denom
    c = y1 - a * x1 ** 2 - b * x1
    curved = a < 0
    vertex = np.where(curved, -b / np.where(curved, 2 * a, 1.0), x1)
    vertex = np.clip(vertex, x0, x2)
    return vertex, np.where(curved, a * vertex ** 2 + b * vertex + c, y1)


@dataclass(frozen=True)
class EdgeQuantities:
    """Per-scan edge descriptors (arrays of shape (scans,)); ``edge_energy_note`` says why an edge energy is NaN."""

    edge_energy_ev: np.ndarray
    inflection_energy_ev: np.ndarray
    white_line_energy_ev: np.ndarray
    white_line_height: np.ndarray
    edge_energy_note: list[str | None]


def edge_quantities(energy_ev: np.ndarray, norm_mu: np.ndarray, e0_ev: np.ndarray, *, level: float = 0.5,
                    search_ev: float = 30.0, white_line_ev: float = 40.0) -> EdgeQuantities:
    """Edge position at a normalised ``level`` and at the inflection point, white-line energy and height.

    The inflection is the maximum of d(norm mu)/dE within ``search_ev`` of E0, refined to sub-grid
    precision by a parabola through its neighbours; the level crossing nearest that inflection is
    interpolated linearly; the white line is the highest normalised mu within ``white_line_ev``
    above the inflection, refined the same way. Each spectrum uses its own finite points (repeated
    energies merged); a spectrum whose normalised mu never rises through ``level`` gets a NaN edge
    energy and a note saying why.
    """
    energy_ev, norm_mu = _as_series(energy_ev, norm_mu)
    scans = norm_mu.shape[0]
    e0 = np.broadcast_to(np.asarray(e0_ev, dtype=float), (scans,))
    values = np.full((4, scans), np.nan)
    notes: list[str | None] = [None] * scans
    for group in _same_points(energy_ev, norm_mu):
        usable = np.isfinite(e0[group.rows]) & (group.energy_ev.size >= 3)
        for row in group.rows[~usable]:
            notes[row] = "no E0" if not np.isfinite(e0[row]) else "fewer than 3 finite points"
        if usable.any():
            rows = group.rows[usable]
            values[:, rows] = _edge_quantities(group.energy_ev, group.mu[usable], e0[rows], level, search_ev,
                                               white_line_ev)
            for row, top, bottom in zip(rows, np.max(group.mu[usable], axis=1), np.min(group.mu[usable], axis=1)):
                if not np.isfinite(values[0, row]):
                    notes[row] = (f"normalised mu never reaches {level:g} (at most {top:.3g})" if top < level else
                                  f"normalised mu is at or above {level:g} from the first point" if bottom >= level else
                                  f"normalised mu never rises through {level:g}")
    return EdgeQuantities(*values, edge_energy_note=notes)


def _edge_quantities(energy_ev: np.ndarray, norm_mu: np.ndarray, e0: np.ndarray, level: float, search_ev: float,
                     white_line_ev: float) -> np.ndarray:
    """``edge_quantities`` on strictly increasing energies and finite values: a (4, scans) array."""
    slope = derivative(energy_ev, norm_mu)
    near = np.abs(energy_ev[None, :] - e0[:, None]) <= search_ev
    peak = np.where(near, slope, -np.inf).argmax(axis=1)
    inflection, _ = _parabola_vertex(energy_ev, slope, peak)

    crosses = (norm_mu[:, :-1] < level) & (norm_mu[:, 1:] >= level)
    distance = np.where(crosses, np.abs(energy_ev[None, 1:] - inflection[:, None]), np.inf)
    upper = distance.argmin(axis=1) + 1
    rows = np.arange(norm_mu.shape[0])
    below, above = norm_mu[rows, upper - 1], norm_mu[rows, upper]
    frac = (level - below) / np.where(above > below, above - below, 1.0)
    crossing = energy_ev[upper - 1] + frac * (energy_ev[upper] - energy_ev[upper - 1])
    crossing = np.where(np.isfinite(distance.min(axis=1)), crossing, np.nan)

    above_edge = (energy_ev[None, :] >= inflection[:, None]) & (energy_ev[None, :] <= inflection[:, None] + white_line_ev)
    top = np.where(above_edge, norm_mu, -np.inf).argmax(axis=1)
    white_energy, white_height = _parabola_vertex(energy_ev, norm_mu, top)
    return np.stack([crossing, inflection, white_energy, white_height])


def energy_shift(energy_ev: np.ndarray, reference_mu: np.ndarray, tabulated_e0_ev: float) -> tuple[np.ndarray, np.ndarray]:
    """Calibration from the reference foil: (measured foil E0, shift to add to the energy), in eV.

    The foil's E0 is its first inflection (``find_e0``); shift = tabulated edge - measured E0.
    """
    measured = find_e0(energy_ev, reference_mu)
    return measured, tabulated_e0_ev - measured


@dataclass(frozen=True)
class NormalisationSettings:
    """``pre_edge`` parameters for scans normalised here (eV relative to E0); None takes larch's default."""

    e0_ev: float | None = None
    pre1_ev: float | None = None
    pre2_ev: float | None = None
    norm1_ev: float | None = None
    norm2_ev: float | None = None
    nnorm: int | None = None
    edge_level: float = 0.5
    calibrate: bool = True


def _grid_groups(scans: list[dict]) -> dict[bytes, list[int]]:
    groups: dict[bytes, list[int]] = {}
    for i, scan in enumerate(scans):
        groups.setdefault(scan["energy_ev"].tobytes(), []).append(i)
    return groups


def _split_scans(table: pa.Table, meta: dict) -> list[dict]:
    """Per-scan dicts of arrays and metadata from one reader table."""
    facts = {s["scan_index"]: s for s in meta.get("scans", [])}
    index = table.column("scan_index").to_numpy()
    provenance = {name: table.column(name)[0].as_py() if table.num_rows and name in table.column_names else None
                  for name in ("source_file", "source_sha256", "code_version")}
    out = []
    for scan_index in np.unique(index):
        rows = table.filter(pc.equal(table.column("scan_index"), pa.scalar(int(scan_index), pa.int32())))
        arrays = {name: rows.column(name).to_numpy(zero_copy_only=False).astype(float)
                  if rows.column(name).null_count < rows.num_rows else None
                  for name in ("energy_ev", "mu", "norm_mu", "i0", "reference_mu")}
        out.append({**arrays, **provenance, "facts": facts.get(int(scan_index), {}), "notes": [],
                    "scan_name": rows.column("scan_name")[0].as_py()})
    return out


def _normalise_group(energy_ev: np.ndarray, scans: list[dict], settings: NormalisationSettings) -> None:
    """Fill norm_mu, flat_mu, e0, fit ranges, edge quantities and notes of scans sharing ``energy_ev`` (in place)."""
    raw = [s for s in scans if s["mu"] is not None and s["facts"].get("normalised_by") != "file"]
    if raw:
        result = pre_edge(energy_ev, np.vstack([s["mu"] for s in raw]), e0_ev=settings.e0_ev, pre1_ev=settings.pre1_ev,
                          pre2_ev=settings.pre2_ev, norm1_ev=settings.norm1_ev, norm2_ev=settings.norm2_ev,
                          nnorm=settings.nnorm)
        for k, scan in enumerate(raw):
            scan["notes"].extend(result.notes[k])
            scan["dropped_point_count"] = int(result.dropped_point_count[k])
            if not np.isfinite(result.e0_ev[k]):  # kept, unnormalised, with the reason
                scan.update(normalised_by="not normalised: " + "; ".join(result.notes[k]), flat_mu=None)
                continue
            scan.update(norm_mu=result.norm_mu[k], flat_mu=result.flat_mu[k], normalised_by="bigmap",
                        nnorm=int(result.nnorm[k]), **{name: float(getattr(result, name)[k]) for name in
                                                        ("e0_ev", "edge_step", "pre1_ev", "pre2_ev", "norm1_ev", "norm2_ev")})
    for scan in scans:
        if "normalised_by" not in scan:
            facts = scan["facts"]
            scan.update(normalised_by="file", flat_mu=None,
                        **{k: facts.get(k) for k in ("e0_ev", "edge_step", "pre1_ev", "pre2_ev", "norm1_ev", "norm2_ev")})
            if scan["norm_mu"] is not None:
                scan["dropped_point_count"] = int(np.count_nonzero(~np.isfinite(scan["norm_mu"])))
    usable = [s for s in scans if s["norm_mu"] is not None and s.get("e0_ev") is not None
              and not s["normalised_by"].startswith("not")]
    if usable:
        quantities = edge_quantities(energy_ev, np.vstack([s["norm_mu"] for s in usable]),
                                     np.array([s["e0_ev"] for s in usable]), level=settings.edge_level)
        for k, scan in enumerate(usable):
            scan.update(edge_energy_ev=quantities.edge_energy_ev[k], inflection_energy_ev=quantities.inflection_energy_ev[k],
                        white_line_energy_ev=quantities.white_line_energy_ev[k],
                        white_line_height=quantities.white_line_height[k])
            if quantities.edge_energy_note[k]:
                scan["notes"].append(f"no edge energy: {quantities.edge_energy_note[k]}")


def _calibrate(scans: list[dict]) -> None:
    """Shift the energy of scans carrying a foil channel of a known element, unless the file did it."""
    for energy_key, group in _grid_groups(scans).items():
        members = [scans[i] for i in group if scans[i]["reference_mu"] is not None
                   and scans[i]["facts"].get("energy_shift_ev") is None
                   and scans[i]["facts"].get("element") in K_EDGE_ENERGY_EV]
        if not members:
            continue
        energy_ev = members[0]["energy_ev"]
        measured = find_e0(energy_ev, np.vstack([s["reference_mu"] for s in members]))
        for scan, foil_e0 in zip(members, measured):
            if not np.isfinite(foil_e0):
                scan["notes"].append(f"reference channel has fewer than {MIN_POINTS} finite points: energy not calibrated")
                continue
            shift = K_EDGE_ENERGY_EV[scan["facts"]["element"]] - float(foil_e0)
            scan["facts"] = {**scan["facts"], "reference_e0_ev": float(foil_e0), "energy_shift_ev": shift}
            scan["energy_ev"] = energy_ev + shift


def _utc_micros(iso: str | None, offset_second: float = 0.0) -> int | None:
    if not iso:
        return None
    moment = datetime.fromisoformat(iso)
    return int(round(moment.timestamp() * 1e6 + offset_second * 1e6))


def build_scans(files: list[pa.Table], *, sample_id: str,
                settings: NormalisationSettings = NormalisationSettings()) -> tuple[pa.Table, pa.Table]:
    """``xas_scans`` and ``xas_spectra`` rows of one sample from XAS reader tables (provenance stamped).

    Scans with raw mu are energy-calibrated on their foil (when the element is known and the file
    did not calibrate) and normalised with ``settings``; scans normalised in the file keep its
    values and parameters. Scans sharing an energy grid are processed together. Scans are
    numbered in time order (untimed ones last). What was left out or changed, and why a value is
    missing, is in each scan's ``notes`` (and its non-finite points in ``dropped_point_count``).
    """
    from ..readers import metadata_of  # here, not at the top: the XAS readers import this module

    scans = [scan for table in files for scan in _split_scans(table, metadata_of(table))]
    if settings.calibrate:
        _calibrate(scans)
    for group in _grid_groups(scans).values():
        _normalise_group(scans[group[0]]["energy_ev"], [scans[i] for i in group], settings)

    for scan in scans:
        facts = scan["facts"]
        duration = facts.get("duration_second")
        start = _utc_micros(facts.get("start_utc_time"))
        scan["start"] = start
        scan["mid"] = None if start is None or duration is None else start + int(round(duration * 5e5))
        scan["stop"] = None if start is None or duration is None else start + int(round(duration * 1e6))
    scans.sort(key=lambda s: (s["start"] is None, s["start"] or 0, s["source_file"] or "", s["scan_name"]))

    rows, spectra = [], []
    for number, scan in enumerate(scans):
        facts = scan["facts"]
        key = {"sample_id": sample_id, "source_scan": f"{scan['source_file']}#{scan['scan_name']}",
               "scan_name": scan["scan_name"]}
        provenance = {k: scan[k] for k in ("source_file", "source_sha256", "code_version")}
        rows.append({
            **key, "scan_number": number, "start_utc_time": scan["start"], "mid_utc_time": scan["mid"],
            "stop_utc_time": scan["stop"], "duration_second": facts.get("duration_second"),
            "timezone": facts.get("timezone"), "element": facts.get("element"), "edge": facts.get("edge"),
            "mu_source": facts.get("mu_source"), "normalised_by": scan["normalised_by"],
            "point_count": int(scan["energy_ev"].size), "dropped_point_count": scan.get("dropped_point_count"),
            "notes": "; ".join(scan["notes"]) or None, "reference_e0_ev": facts.get("reference_e0_ev"),
            "energy_shift_ev": facts.get("energy_shift_ev"), "edge_level": settings.edge_level,
            **{k: scan.get(k) for k in ("pre1_ev", "pre2_ev", "norm1_ev", "norm2_ev", "nnorm", "e0_ev", "edge_step",
                                        "edge_energy_ev", "inflection_energy_ev", "white_line_energy_ev",
                                        "white_line_height")},
            **provenance,
        })
        n = scan["energy_ev"].size
        spectra.append({**{k: [v] * n for k, v in {**key, **provenance}.items()},
                        **{k: scan.get(k) if scan.get(k) is not None else np.full(n, np.nan)
                           for k in ("energy_ev", "mu", "norm_mu", "flat_mu", "i0", "reference_mu")}})
    scan_table = schemas.TABLES["xas_scans"]
    spectra_table = schemas.TABLES["xas_spectra"]
    scans_out = scan_table.conform(_rows_to_table(rows, scan_table))
    spectra_out = spectra_table.conform(pa.concat_tables(
        [_columns_to_table(s, spectra_table) for s in spectra]) if spectra else spectra_table.arrow_schema().empty_table())
    return scans_out, spectra_out


def _rows_to_table(rows: list[dict], table) -> pa.Table:
    schema = table.arrow_schema()
    columns = {f.name: [_plain(r.get(f.name)) for r in rows] for f in schema}
    return pa.table({f.name: pa.array(columns[f.name], f.type if not pa.types.is_timestamp(f.type) else pa.int64())
                     .cast(f.type) for f in schema})


def _columns_to_table(columns: dict, table) -> pa.Table:
    schema = table.arrow_schema()
    return pa.table({f.name: pa.array(columns[f.name], f.type, from_pandas=True) for f in schema})


def _plain(value):
    if isinstance(value, (np.floating, float)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value
