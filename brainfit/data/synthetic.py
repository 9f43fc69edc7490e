"""The synthetic ventral stream: brainfit's embedded default dataset (no download).

Images
    Procedurally rendered objects (8 categories x 4 objects) under three variation levels, as in
    the HvM design (Majaj et al. 2015): ``variation`` 0 (centred, canonical pose, gray
    background), 3 (moderate position/scale/rotation jitter, low-contrast 1/f background) and
    6 (large jitter, foreshortening, high-contrast 1/f background). 64 x 64 RGB by default.

Responses
    A hidden "ground-truth" network with a fixed seed, simulated at 2 ms resolution and binned
    (default 10 ms bins from 70 to 260 ms after onset; the image is shown for 100 ms):

    * V1-like stage: quadrature Gabor energy (4 orientations x 2 scales) and colour-opponent
      channels with divisive normalisation, pooled on an 8 x 8 grid.
    * V4 sites: localised receptive fields with sparse feature tuning and a rectifying
      nonlinearity; latency 55-75 ms, transient then sustained response, small late feedback
      from the IT circuit.
    * IT sites: a fast feedforward, pose-dependent drive (latency 85-110 ms) plus a slower
      recurrent stage: a leaky evidence integrator over object identities (fed by a readout
      trained on separate "developmental" images) with divisive competition (softmax). Its state
      sharpens over time, so category information in IT keeps rising after the feedforward sweep,
      most for high-variation images whose feedforward evidence is weak. After offset the
      integrator holds its state (persistent activity) while feedforward drive decays.
    * World 2 (``world=2``; world 1, the default, is the one above, unchanged): the recurrent
      stage also integrates evidence that a feedforward pass lacks and that differs per stimulus
      -- the image's true object, arriving 20/50/80 ms after the stage starts for variation
      0/3/6 (hard images resolve later, as Kar et al. 2019's challenge images) -- so late IT
      carries stimulus information no static re-weighting of the feedforward features holds.
    * Spike counts: gamma-Poisson (Fano factor ``fano``) with ``n_repetitions`` trials per image.
      Each site pools ``units_per_site`` neurons; that number is solved for so that the median
      expected split-half reliability (Spearman-Brown) of responsive (site, bin) pairs equals
      ``reliability``.

Everything is deterministic: ``network_seed`` fixes the world (objects) and the brain;
``seed`` draws the image sample (poses, backgrounds) and the spike noise.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
import xarray as xr

from brainfit._registry import check_kwargs
from brainfit.assembly import make_time_bins, neural_assembly
from brainfit.data._ground_truth import (
    STIMULUS_ON_MS,
    VARIATION_LEVELS,
    GroundTruth,
    make_design,
    make_objects,
    render_images,
)
from brainfit.data._shapes import CATEGORIES
from brainfit.data.registry import register_dataset
from brainfit.stimuli import StimulusSet

__all__ = ["SyntheticConfig", "SyntheticRun", "make_objects", "make_design", "render_images", "GroundTruth",
           "generate", "simulate", "LATENT_VARIANTS", "VARIATION_LEVELS", "STIMULUS_ON_MS", "WORLDS"]

log = logging.getLogger(__name__)

#: Latent responses :func:`simulate` can return: the generator's own noise-free expected counts
#: ("full", the temporal oracle) and those of its feedforward-only variant, without the slow
#: recurrent IT stage ("feedforward"), both on the neural bins; the static oracle ("static", one
#: time step, for a ``constant`` map: its feedforward features and the belief its recurrent stage
#: settles to from their evidence alone); and the state of its recurrent stage per bin ("belief").
LATENT_VARIANTS = ("full", "feedforward", "static", "belief")
#: The synthetic worlds (module docstring): 1, the original; 2, recurrence adds stimulus information.
WORLDS = (1, 2)


@dataclass(frozen=True)
class SyntheticConfig:
    """Settings of the synthetic ventral stream (every one a parameter of :func:`generate`)."""

    n_categories: int = 8
    objects_per_category: int = 4
    images_per_object: int = 10  # per variation level
    image_size: int = 64
    n_v4: int = 64
    n_it: int = 128
    n_repetitions: int = 6
    reliability: float = 0.6
    fano: float = 1.2
    bin_start: float = 70.0
    bin_stop: float = 260.0
    bin_width: float = 10.0
    seed: int = 0
    network_seed: int = 1234
    world: int = 1

    def __post_init__(self) -> None:
        if self.world not in WORLDS:
            raise ValueError(f"world must be one of {list(WORLDS)}, got {self.world!r}")
        if not 1 <= self.n_categories <= len(CATEGORIES):
            raise ValueError(f"n_categories must be in 1..{len(CATEGORIES)}, got {self.n_categories}")
        for name in ("objects_per_category", "images_per_object", "n_v4", "n_it"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.n_repetitions < 2:
            raise ValueError(f"n_repetitions must be >= 2 (ceilings need split halves), got {self.n_repetitions}")
        if not 0.0 < self.reliability < 1.0:
            raise ValueError(f"reliability must lie in (0, 1), got {self.reliability}")
        if self.fano < 1.0:
            raise ValueError(f"fano must be >= 1 (gamma-Poisson), got {self.fano}")
        if self.image_size < 16:
            raise ValueError(f"image_size must be >= 16, got {self.image_size}")


def expected_reliability(mean_counts: np.ndarray, n_repetitions: int, fano: float) -> np.ndarray:
    """Expected Spearman-Brown split-half reliability per (site, bin) for gamma-Poisson counts.

    ``mean_counts`` (N, sites, bins) are expected counts per trial. Split halves of ``R/2`` trials:
    ``rho = S / (S + fano * m / (R/2))`` with S the variance over stimuli and m the mean count,
    then ``2 rho / (1 + rho)``.
    """
    signal = mean_counts.var(axis=0)
    noise = fano * mean_counts.mean(axis=0) / (n_repetitions / 2.0)
    rho = signal / (signal + noise + 1e-12)
    return 2 * rho / (1 + rho)


def response_window(latency: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """(site, bin) pairs in the stimulus-driven window: from 10 ms after the site's latency to
    50 ms after the feedforward response to the 100 ms stimulus ends. Shape (n_sites, n_bins).

    ``reliability`` is calibrated, and should be checked, on this window.
    """
    lat = np.asarray(latency, dtype=float)[:, None]
    return (starts[None, :] >= lat + 10.0) & (ends[None, :] <= lat + STIMULUS_ON_MS + 50.0)


def _calibrate_units(mean_counts: np.ndarray, responsive: np.ndarray, cfg: SyntheticConfig) -> float:
    """Units per site (a count scale) giving the requested median reliability; bisection in log space."""
    lo, hi = 1e-3, 1e4
    for _ in range(60):
        mid = np.sqrt(lo * hi)
        rel = np.median(expected_reliability(mean_counts * mid, cfg.n_repetitions, cfg.fano)[responsive])
        lo, hi = (mid, hi) if rel < cfg.reliability else (lo, mid)
    return float(np.sqrt(lo * hi))


@lru_cache(maxsize=4)
def _ground_truth(n_categories: int, objects_per_category: int, n_v4: int, n_it: int, network_seed: int,
                  image_size: int) -> GroundTruth:
    objects = make_objects(n_categories, objects_per_category, network_seed)
    return GroundTruth(objects, n_v4, n_it, network_seed, image_size)


@dataclass(frozen=True)
class SyntheticRun:
    """Everything :func:`simulate` makes: the stimuli, the single-trial assembly and the latent responses.

    ``latent`` maps a variant of :data:`LATENT_VARIANTS` to its noise-free expected spike counts
    per bin as an activations-on-bins DataArray (presentation x neuroid x time_bin, one
    presentation per stimulus, neuroid coords ``neuroid_id`` = ``latent_<site>``, ``layer`` =
    ``"latent"``, ``region`` of the site). Fed to :func:`brainfit.scoring.fit_and_score` they
    are the known answer: the generator's own rates predict its sites up to the noise.
    """

    stimuli: StimulusSet
    neural: xr.DataArray
    latent: dict


def generate(config: SyntheticConfig | None = None, **overrides) -> tuple[StimulusSet, xr.DataArray]:
    """Generate the synthetic stimulus set and single-trial neural assembly.

    Parameters
    ----------
    config : SyntheticConfig, optional
    **overrides
        Any :class:`SyntheticConfig` field, e.g. ``reliability=0.8, images_per_object=4``.

    Returns
    -------
    stimuli : StimulusSet
        ``n_categories * objects_per_category * images_per_object * 3`` images with metadata
        ``category``, ``object_name``, ``variation``, ``pos_x``, ``pos_y``, ``scale``,
        ``rotation``, ``aspect``.
    neural : DataArray (presentation x neuroid x time_bin)
        Spike counts per bin, one presentation per trial (``repetition`` coord), V4 then IT sites
        (``region`` coord), ordered by repetition block with stimuli shuffled within each block.
    """
    run = simulate(config, latents=(), **overrides)
    return run.stimuli, run.neural


def simulate(config: SyntheticConfig | None = None, *, latents: tuple[str, ...] = LATENT_VARIANTS,
             **overrides) -> SyntheticRun:
    """:func:`generate`, also returning the generator's latent responses (:class:`SyntheticRun`).

    Parameters
    ----------
    config : SyntheticConfig, optional
    latents : tuple of str
        Variants from :data:`LATENT_VARIANTS` to return (the feedforward-only variant costs one
        more pass of the rate model).
    **overrides
        :class:`SyntheticConfig` fields.
    """
    check_kwargs(SyntheticConfig, overrides, "the synthetic dataset")
    unknown = [v for v in latents if v not in LATENT_VARIANTS]
    if unknown:
        raise ValueError(f"unknown latent variant(s) {unknown}; known: {list(LATENT_VARIANTS)}")
    cfg = SyntheticConfig(**{**asdict(config or SyntheticConfig()), **overrides})
    gt = _ground_truth(cfg.n_categories, cfg.objects_per_category, cfg.n_v4, cfg.n_it, cfg.network_seed, cfg.image_size)
    design = make_design(gt.objects, cfg.images_per_object, seed=[cfg.seed, 10])
    images = render_images(gt.objects, design, cfg.image_size)
    ids = [f"synth_{cfg.seed}_{i:05d}" for i in range(len(design))]
    meta_cols = ["category", "object_name", "variation", "pos_x", "pos_y", "scale", "rotation", "aspect"]
    metadata = {c: [row[c] for row in design] for c in meta_cols}
    stimuli = StimulusSet.from_array(images, ids, metadata, name="synthetic")

    starts, ends = make_time_bins(cfg.bin_start, cfg.bin_stop, cfg.bin_width)
    seconds = (ends - starts)[None, None, :] / 1000.0
    world2 = design if cfg.world == 2 else None
    v4_rate, it_rate = gt.rates(images, starts, ends, design=world2)
    counts_per_unit = np.concatenate([v4_rate, it_rate], axis=1) * seconds
    latency = np.concatenate([gt.v4_latency, gt.it_latency])
    window = response_window(latency, starts, ends)
    units = np.empty(len(latency))
    for sl in (slice(0, cfg.n_v4), slice(cfg.n_v4, None)):  # each region reaches the requested reliability
        units[sl] = _calibrate_units(counts_per_unit[:, sl], window[sl], cfg)
    lam = counts_per_unit * units[None, :, None]

    rng = np.random.default_rng([cfg.seed, 20])
    n_stim = len(ids)
    order = np.concatenate([rng.permutation(n_stim) for _ in range(cfg.n_repetitions)])
    reps = np.repeat(np.arange(cfg.n_repetitions), n_stim)
    mean = lam[order]
    if cfg.fano > 1.0:
        k = 1.0 / (cfg.fano - 1.0)  # gamma shape per unit mean: var = mean * fano
        mean = rng.gamma(shape=np.maximum(mean * k, 1e-12), scale=1.0 / k)
    counts = rng.poisson(mean).astype(np.float32)

    regions = ["V4"] * cfg.n_v4 + ["IT"] * cfg.n_it
    neuroid_ids = [f"V4_{i:03d}" for i in range(cfg.n_v4)] + [f"IT_{i:03d}" for i in range(cfg.n_it)]
    pres_coords = {c: np.asarray(metadata[c])[order] for c in meta_cols}
    attrs = {
        "dataset": "synthetic",
        "description": "brainfit synthetic ventral stream (procedural objects, hidden recurrent ground-truth network)",
        "config": asdict(cfg),
        "units_per_site": {"V4": float(units[0]), "IT": float(units[-1])},
        "stimulus_on_ms": STIMULUS_ON_MS,
        "response": "spike counts per time bin",
    }
    neural = neural_assembly(
        counts, stimulus_id=np.asarray(ids)[order], repetition=reps, neuroid_id=neuroid_ids,
        time_bin_start=starts, time_bin_end=ends, region=regions,
        presentation_coords=pres_coords,
        neuroid_coords={"animal": "synthetic", "session": f"seed{cfg.seed}", "latency_ms": latency},
        attrs=attrs,
    )
    latent = {}
    # the static responses of the images, once for the latents built from them
    st = gt.static_responses(images) if {"static", "belief"} & set(latents) else None
    for variant in latents:
        if variant == "static":
            latent[variant] = _static_assembly(gt, st, ids, metadata)
            continue
        if variant == "belief":
            latent[variant] = _belief_assembly(gt, st, ids, metadata, starts, ends, world2)
            continue
        if variant == "full":
            expected = lam
        else:  # the same sites and count scale, without the recurrent stage
            v4_ff, it_ff = gt.rates(images, starts, ends, recurrent=False, design=world2)
            expected = np.concatenate([v4_ff, it_ff], axis=1) * seconds * units[None, :, None]
        latent[variant] = _latent_assembly(expected, ids, metadata, neuroid_ids, regions, starts, ends, variant)
    return SyntheticRun(stimuli, neural, latent)


def _stimulus_coords(ids: list[str], metadata: dict) -> dict:
    return {"stimulus_id": ("presentation", np.asarray(ids)),
            **{c: ("presentation", np.asarray(v)) for c, v in metadata.items()}}


def _static_assembly(gt: GroundTruth, st: dict, ids: list[str], metadata: dict) -> xr.DataArray:
    """The static oracle, one time step: the generator's static feedforward features (V4 drives, IT
    feedforward drives, object evidence) and the state its recurrent stage converges to *from that
    evidence alone* (world 1's belief at 260 ms: a static, nonlinear function of the feedforward
    evidence). Whatever a static model can hold about the image through the generator's own
    feedforward pass, this holds; world 2's later, recurrent-only evidence it does not."""
    settled = gt.object_belief(st["evidence"], np.array([260.0]))[:, 0]
    values = np.concatenate([st["v4"], st["it_ff"], st["evidence"], settled], axis=1)[:, :, None]
    return xr.DataArray(
        values.astype(np.float64), dims=("presentation", "neuroid", "time_step"),
        coords={**_stimulus_coords(ids, metadata),
                "layer": ("neuroid", np.full(values.shape[1], "static")), "unit": ("neuroid", np.arange(values.shape[1])),
                "time_step": ("time_step", [0])},
        attrs={"source": "synthetic generator, static oracle: feedforward features (V4 drives, IT feedforward "
                         "drives, object evidence) and the belief its recurrent stage settles to from that evidence"})


def _belief_assembly(gt: GroundTruth, st: dict, ids: list[str], metadata: dict, starts: np.ndarray,
                     ends: np.ndarray, design: list[dict] | None) -> xr.DataArray:
    """The recurrent stage's belief over objects, averaged within each bin (presentation x object x time_bin)."""
    late, delay = gt.late_evidence(design) if design is not None else (None, None)
    samples = [np.arange(a + 1.0, b, 2.0) for a, b in zip(starts, ends)]
    belief = gt.object_belief(st["evidence"], np.concatenate(samples), late, delay)
    edges = np.cumsum([0] + [len(t) for t in samples])
    values = np.stack([belief[:, lo:hi].mean(1) for lo, hi in zip(edges[:-1], edges[1:])], axis=2)
    return xr.DataArray(
        values, dims=("presentation", "neuroid", "time_bin"),
        coords={**_stimulus_coords(ids, metadata),
                "layer": ("neuroid", np.full(values.shape[1], "belief")), "unit": ("neuroid", np.arange(values.shape[1])),
                "time_bin_start": ("time_bin", starts), "time_bin_end": ("time_bin", ends)},
        attrs={"source": "synthetic generator, belief state of the recurrent IT stage per bin"})


def _latent_assembly(expected: np.ndarray, ids: list[str], metadata: dict, neuroid_ids: list[str],
                     regions: list[str], starts: np.ndarray, ends: np.ndarray, variant: str) -> xr.DataArray:
    """Expected counts (stimulus, site, bin) as activations on the neural bins."""
    return xr.DataArray(
        expected.astype(np.float64), dims=("presentation", "neuroid", "time_bin"),
        coords={**_stimulus_coords(ids, metadata),
                "neuroid_id": ("neuroid", np.array([f"latent_{n}" for n in neuroid_ids])),
                "layer": ("neuroid", np.full(len(neuroid_ids), "latent")),
                "region": ("neuroid", np.asarray(regions)),
                "time_bin_start": ("time_bin", starts), "time_bin_end": ("time_bin", ends)},
        attrs={"source": f"synthetic generator, {variant} latent responses (noise-free expected counts)"},
    )


@register_dataset("synthetic", description="Synthetic ventral stream: procedural objects, V4 and IT spike counts "
                  "in 10 ms bins from a hidden recurrent network (embedded default, no download)")
def load_synthetic(**kwargs) -> tuple[StimulusSet, xr.DataArray]:
    """Registry entry for :func:`generate`; keyword arguments are :class:`SyntheticConfig` fields."""
    return generate(**kwargs)
