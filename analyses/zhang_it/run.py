"""Model-free analyses of the Zhang et al. 2011 IT pseudo-population: split-half reliability per
unit and bin, PSTHs per object, and time-resolved decoding of object and position with permutation
tests and onsets.

Writes CSVs, PNG figures and the resolved config to ``out_dir`` (default ``results/zhang_it``) and
prints each decoding's onset and peak accuracy.

Run from the repository root:  .venv/bin/python analyses/zhang_it/run.py [--config PATH]
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from brainfit._config import ConfigError, check_mapping, float_field, int_field, read_yaml_mapping, str_field
from brainfit._io import atomic_write_text
from brainfit.data import load_dataset
from brainfit.neural import decode_time_resolved, psth, split_half_reliability
from brainfit.plots import plot_decoding_timecourse, plot_psth, plot_reliability, pyplot, save_figure

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def _as_is(value):  # checked below, as a list of names
    return value


@dataclasses.dataclass(frozen=True)
class ZhangITConfig:
    bin_start: float = -100.0
    bin_stop: float = 400.0
    bin_width: float = 10.0
    n_splits: int = 100
    decode: tuple[str, ...] = ("category", "position")
    decode_new_stimuli: tuple[str, ...] = ("category",)
    stimulus_folds: int = 3
    n_folds: int = 5
    n_permutations: int = 200
    alpha: float = 0.05
    min_consecutive: int = 2
    seed: int = 0
    out_dir: str = "results/zhang_it"

    @classmethod
    def from_yaml(cls, path: Path) -> ZhangITConfig:
        raw = read_yaml_mapping(path, "zhang_it config")
        ms = "a number of ms in [-500, 500] (the rasters' span)"
        checks = {"bin_start": float_field(-500.0, 500.0, expected=ms),
                  "bin_stop": float_field(-500.0, 500.0, expected=ms),
                  "bin_width": float_field(0.0, low_open=True, expected="a number of ms > 0"),
                  "n_splits": int_field(1), "n_folds": int_field(2), "n_permutations": int_field(1),
                  "alpha": float_field(0.0, 1.0, low_open=True, high_open=True, expected="a number in (0, 1)"),
                  "min_consecutive": int_field(1), "seed": int_field(0), "out_dir": str_field(path=True),
                  "stimulus_folds": int_field(2)}
        values, problems = check_mapping(raw, "", {**checks, "decode": _as_is, "decode_new_stimuli": _as_is})
        values = {k: v for k, v in values.items() if k in checks}
        lists = {}
        for name in ("decode", "decode_new_stimuli"):
            v = raw.get(name, list(getattr(cls, name)))
            if not (isinstance(v, list) and all(isinstance(d, str) for d in v)):
                problems.append(f"{name}={v!r} (expected a list of presentation coord names)")
            lists[name] = tuple(v) if isinstance(v, list) else ()
        if problems:
            raise ConfigError(f"{path}: " + "; ".join(problems), problems)
        return cls(**values, **lists)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    atomic_write_text(path, frame.to_csv(index=False, float_format="%.6g"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=HERE / "zhang_it.yaml")
    cfg = ZhangITConfig.from_yaml(parser.parse_args(argv).config)
    out = Path(cfg.out_dir) if Path(cfg.out_dir).is_absolute() else ROOT / cfg.out_dir
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "config.yaml", yaml.safe_dump({**dataclasses.asdict(cfg), "decode": list(cfg.decode),
                                                           "decode_new_stimuli": list(cfg.decode_new_stimuli)},
                                                          sort_keys=False))

    t0 = time.perf_counter()
    _, neural = load_dataset("zhang2011_it", bin_start=cfg.bin_start, bin_stop=cfg.bin_stop, bin_width=cfg.bin_width)
    print(f"loaded {dict(neural.sizes)} in {time.perf_counter() - t0:.1f} s")

    rel = split_half_reliability(neural, n_splits=cfg.n_splits, seed=cfg.seed)
    write_csv(rel[["reliability", "split_half_r"]].to_dataframe().reset_index()[
        ["neuroid_id", "time_bin_start", "time_bin_end", "reliability", "split_half_r"]], out / "reliability.csv")
    write_csv(rel[["median", "q25", "q75"]].to_dataframe().reset_index().drop(columns="time_bin"),
              out / "reliability_summary.csv")
    save_figure(plot_reliability(ceiling=rel["reliability"]).figure, out / "reliability.png")

    rates = psth(neural, by="category")
    write_csv(rates[["rate", "sem"]].to_dataframe().reset_index().drop(columns="time_bin"), out / "psth_category.csv")
    ax = plot_psth(rates, region="IT")  # the CSV's numbers, in spikes/s
    ax.set_ylabel("spikes/s (band: SEM over units)")
    save_figure(ax.figure, out / "psth_category.png")

    summary = []
    # held-out trials of the trained stimuli; then held-out stimuli (an object at a position never
    # trained on: with 3 positions per object and 3 folds, train on two positions, test on the third)
    runs = [(label, "trials", cfg.n_folds) for label in cfg.decode]
    runs += [(label, "stimuli", cfg.stimulus_folds) for label in cfg.decode_new_stimuli]
    for label, generalize, n_folds in runs:
        t = time.perf_counter()
        res = decode_time_resolved(neural, label=label, n_folds=n_folds, n_permutations=cfg.n_permutations,
                                   seed=cfg.seed, alpha=cfg.alpha, min_consecutive=cfg.min_consecutive,
                                   generalize=generalize)
        seconds = time.perf_counter() - t
        name = label if generalize == "trials" else f"{label}_new_stimuli"
        cols = ["accuracy", "null_mean", "null_low", "null_high", "p", "p_corrected", "significant"]
        write_csv(res[cols].to_dataframe().reset_index().drop(columns="time_bin"), out / f"decoding_{name}.csv")
        save_figure(plot_decoding_timecourse(res).figure, out / f"decoding_{name}.png")
        a = res.attrs
        summary.append({"label": label, "held_out": generalize, "n_folds": n_folds, "n_classes": a["n_classes"],
                        "chance": a["chance"], "onset_ms": a["onset_ms"],
                        "peak_accuracy": a["peak_accuracy"], "peak_ms": a["peak_ms"],
                        "n_significant_bins": int(res.significant.sum()), "seconds": seconds})
        onset = "none" if np.isnan(a["onset_ms"]) else f"{a['onset_ms']:g} ms"
        print(f"decoding {label} (held-out {generalize}): {a['n_classes']} classes (chance {a['chance']:.3f}); onset {onset}; peak accuracy "
              f"{a['peak_accuracy']:.3f} at {a['peak_ms']:g}-{a['peak_ms'] + cfg.bin_width:g} ms; "
              f"{int(res.significant.sum())} of {res.sizes['time_bin']} bins significant; {seconds:.1f} s")
    write_csv(pd.DataFrame(summary), out / "decoding_summary.csv")
    pyplot().close("all")
    print(f"wrote {out} ({time.perf_counter() - t0:.0f} s in all)")


if __name__ == "__main__":
    main()
