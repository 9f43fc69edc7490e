"""Task training with backpropagation through time over the unrolled steps.

:func:`train` runs a :class:`TrainConfig` into an output folder holding ``config.yaml`` (the
resolved config), ``metrics.csv``/``metrics.json`` (one row per epoch), ``last.pt`` (resumable
state, rewritten every epoch and every ``checkpoint_every`` iterations), ``best.pt`` (best
validation accuracy) and ``model.pt`` (final weights, config and metrics).

Resuming is exact on CPU: an epoch's batch order and augmentation are pure functions of
``(seed, epoch)`` plus a generator whose state is checkpointed, and the optimizer, schedule and
RNG states are restored, so an interrupted run continues with the very batches and updates the
uninterrupted run would have made.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import yaml
from torch import nn
from tqdm.auto import tqdm

from brainfit._io import atomic_write_json, atomic_write_text, sha256_file
from brainfit.device import resolve_device
from brainfit.models import create_model
from brainfit.models.base import eval_mode
from brainfit.models.checkpoint import load_checkpoint, save_checkpoint
from brainfit.stimuli import images_to_tensor as to_tensor
from brainfit.training.config import ConfigError, TrainConfig
from brainfit.training.data import (
    CIFAR_MEAN,
    CIFAR_STD,
    ClassificationData,
    augment_batch,
    epoch_batches,
    load_classification_data,
    train_val_split,
)

# TrainConfig and ConfigError live in brainfit.training.config and are re-exported here.
__all__ = ["ConfigError", "TrainConfig", "TrainResult", "evaluate", "lr_schedule", "step_loss_weights", "train",
           "training_schedule", "step_accuracy"]

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """Outcome of :func:`train`."""

    out_dir: Path
    model: nn.Module
    metrics: list[dict]
    test_accuracy: float | None
    wall_time_s: float


# ----------------------------------------------------------------------------- helpers


def _readout_from(model: nn.Module) -> int:
    """First time step whose logits depend on the input (0 for feedforward models)."""
    fn = getattr(model, "readout_step", None)
    if callable(fn):
        return int(fn())
    if isinstance(fn, int):
        return fn
    return 0


def _load_init(model: nn.Module, config: TrainConfig) -> str:
    """Load ``config.init_from`` into ``model`` (strict) and return the file's SHA-256."""
    path = Path(config.init_from)
    if not path.is_file():
        raise FileNotFoundError(f"init_from: no checkpoint at {path}")
    ckpt = load_checkpoint(path, map_location="cpu")
    if ckpt["model_name"] != config.model:
        raise ValueError(f"init_from {path} holds {ckpt['model_name']!r} weights, not {config.model!r}")
    state = {k: v.float() if v.is_floating_point() else v for k, v in ckpt["state_dict"].items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ValueError(f"init_from {path} does not fit {config.model!r} built with model_kwargs="
                         f"{config.model_kwargs}: {err}") from None
    return sha256_file(path)


def training_schedule(config: TrainConfig, model: nn.Module) -> dict[str, Any]:
    """The stimulus schedule a time-varying model is trained under, as stored in its checkpoints:
    ``{"n_steps", "on_steps", "loss_steps", "loss_from", "step_weighting"}`` (0-based steps; the
    image is on for steps ``< on_steps``, mean gray after)."""
    n_steps = config.n_steps if config.n_steps is not None else int(getattr(model, "n_steps", 1))
    on_steps = config.on_steps if config.on_steps is not None else n_steps
    readout = min(_readout_from(model), n_steps - 1)
    loss_from = n_steps - 1 if config.loss_steps == "last" else (
        config.loss_from if config.loss_from is not None else readout)
    return {"n_steps": int(n_steps), "on_steps": int(on_steps), "loss_steps": config.loss_steps,
            "loss_from": int(loss_from), "step_weighting": config.step_weighting, "readout_step": int(readout)}


def _train_mode(model: nn.Module, freeze_batchnorm: bool) -> None:
    """``model.train()``, with batch norm layers kept in inference mode when ``freeze_batchnorm``."""
    model.train()
    if freeze_batchnorm:
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()


def step_loss_weights(n_steps: int, first_valid: int, mode: str, weighting: str) -> torch.Tensor:
    """Loss weight per time step (sums to 1): last step only, or all valid steps."""
    w = torch.zeros(n_steps)
    if mode == "last" or first_valid >= n_steps - 1:
        w[-1] = 1.0
        return w
    steps = torch.arange(first_valid, n_steps, dtype=torch.float32)
    w[first_valid:] = 1.0 if weighting == "uniform" else steps - first_valid + 1.0
    return w / w.sum()


def _forward_logits(model: nn.Module, x: torch.Tensor, n_steps: int | None, on_steps: int | None) -> torch.Tensor:
    if getattr(model, "time_varying", False):
        out = model(x, n_steps=n_steps, on_steps=on_steps)
    else:
        out = model(x)
    if isinstance(out, tuple):
        out = out[0]
    if out.dim() == 2:
        out = out[:, None]
    return out  # (B, T, C)


def lr_schedule(opt: torch.optim.Optimizer, total: int, warmup: int,
                min_fraction: float) -> torch.optim.lr_scheduler.LRScheduler:
    """Per-iteration schedule: linear warm-up over ``warmup`` iterations (``lr * (i + 1) / warmup``),
    then cosine decay from ``lr`` to ``min_fraction * lr`` at iteration ``total`` (torch's
    ``LinearLR`` then ``CosineAnnealingLR``)."""
    lr = opt.param_groups[0]["lr"]
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, total - warmup), eta_min=min_fraction * lr)
    if warmup <= 0:
        return cosine
    # from lr / warmup at iteration 0 to lr at iteration warmup - 1
    linear = torch.optim.lr_scheduler.LinearLR(opt, start_factor=1.0 / warmup, end_factor=1.0,
                                               total_iters=warmup - 1)
    return torch.optim.lr_scheduler.SequentialLR(opt, [linear, cosine], milestones=[warmup])


def _batches(data: ClassificationData, batch_size: int, mean: Sequence[float], std: Sequence[float],
             device: torch.device, progress: bool) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``(images, labels)`` of ``data`` in order, normalised, on ``device``."""
    for lo in tqdm(range(0, len(data), batch_size), desc="evaluating", disable=not progress, leave=False):
        yield (to_tensor(data.images[lo:lo + batch_size], mean, std).to(device),
               torch.from_numpy(data.labels[lo:lo + batch_size]).to(device))


@torch.no_grad()
def evaluate(model: nn.Module, data: ClassificationData, *, n_steps: int | None = None, on_steps: int | None = None,
             batch_size: int = 256, mean: Sequence[float] = CIFAR_MEAN, std: Sequence[float] = CIFAR_STD,
             device: str | torch.device | None = None, progress: bool = False) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of the last time step's logits on ``data``."""
    dev = resolve_device(device) if device is not None else next(model.parameters()).device
    total_loss, correct = 0.0, 0
    with eval_mode(model):
        for x, y in _batches(data, batch_size, mean, std, dev, progress):
            logits = _forward_logits(model, x, n_steps, on_steps)[:, -1].float()
            total_loss += nn.functional.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(1) == y).sum().item()
    n = max(1, len(data))
    return total_loss / n, correct / n


@torch.no_grad()
def step_accuracy(model: nn.Module, data: ClassificationData, *, n_steps: int | None = None,
                  on_steps: int | None = None, batch_size: int = 256, mean: Sequence[float] | None = None,
                  std: Sequence[float] | None = None, device: str | torch.device | None = None,
                  progress: bool = False) -> np.ndarray:
    """Top-1 accuracy of the logits at every time step, ``(T,)`` (one value for a static model).

    The schedule defaults to the model's own (``n_steps``/``on_steps``, which a loaded checkpoint
    sets to its training schedule); normalisation to the model's ``norm_mean``/``norm_std`` (else
    the CIFAR-10 statistics). Before the readout step the logits are the bias alone.
    """
    if len(data) == 0:
        raise ValueError("step_accuracy needs at least one image")
    dev = resolve_device(device) if device is not None else next(model.parameters()).device
    mean = tuple(mean) if mean is not None else tuple(getattr(model, "norm_mean", CIFAR_MEAN))
    std = tuple(std) if std is not None else tuple(getattr(model, "norm_std", CIFAR_STD))
    correct = None
    with eval_mode(model):
        for x, y in _batches(data, batch_size, mean, std, dev, progress):
            hits = (_forward_logits(model, x, n_steps, on_steps).argmax(-1) == y[:, None]).sum(0)
            correct = hits if correct is None else correct + hits
    return correct.double().cpu().numpy() / len(data)


def _write_metrics(out: Path, rows: list[dict]) -> None:
    atomic_write_json(out / "metrics.json", rows)
    if rows:
        atomic_write_text(out / "metrics.csv", pd.DataFrame(rows).to_csv(index=False))


# ----------------------------------------------------------------------------- train


def _as_config(config: TrainConfig | Mapping[str, Any] | str | os.PathLike) -> TrainConfig:
    if isinstance(config, TrainConfig):
        return config
    if isinstance(config, Mapping):
        return TrainConfig.from_dict(config)
    if isinstance(config, (str, os.PathLike)):
        return TrainConfig.from_yaml(config)
    raise ConfigError(f"config must be a TrainConfig, a mapping or a YAML file path, got {type(config).__name__}")


def train(config: TrainConfig | Mapping[str, Any] | str | os.PathLike, out_dir: str | os.PathLike, *,
          resume: bool = True, progress: bool = True, callbacks: Sequence[Callable[[dict], None]] = (),
          data: ClassificationData | None = None, test_data: ClassificationData | None = None) -> TrainResult:
    """Train ``config.model`` on ``config.data`` and write checkpoints and metrics to ``out_dir``.

    Nothing is written before the config is validated, the data are loaded and the model and
    optimizer are built: a run that cannot start leaves no output folder behind.

    Parameters
    ----------
    config : TrainConfig, mapping or path
        The config, a ``{field: value}`` mapping (:meth:`TrainConfig.from_dict`) or a YAML file
        (:meth:`TrainConfig.from_yaml`).
    out_dir : path
        Created if needed. With ``resume=True`` and a ``last.pt`` there from the same config, the
        run continues where it stopped.
    callbacks : sequence of callables
        Called after every optimisation step with a dict ``{"iteration", "epoch", "loss",
        "model", "config"}`` (e.g. :class:`brainfit.training.snapshots.ActivationSnapshots`).
        An exception raised by a callback interrupts the run after the last checkpoint.
    data, test_data : ClassificationData, optional
        Pre-loaded data (otherwise loaded from ``config.data`` / ``config.test_data``).

    Raises
    ------
    ConfigError
        For an invalid config (every bad field named), before anything is written.
    FileNotFoundError
        For a YAML ``config`` path that does not exist.
    """
    t_start = time.perf_counter()
    config = _as_config(config)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out_dir {out} exists and is not a folder")
    cfg_dict = config.to_dict()
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)

    if data is None:
        data = load_classification_data(config.data, split="train", image_size=config.image_size, progress=progress)
    train_idx, val_idx = train_val_split(data.labels, config.val_fraction, config.seed)
    if config.max_train_images is not None:
        keep = np.random.default_rng([config.seed, 5]).permutation(len(train_idx))[:config.max_train_images]
        train_idx = train_idx[keep]
        train_idx.sort()
    train_set, val_set = data.subset(train_idx), data.subset(val_idx)

    model = create_model(config.model, **config.model_kwargs)
    init_sha = _load_init(model, config) if config.init_from is not None else None
    model = model.to(device)
    n_classes = getattr(model, "n_classes", None)
    if n_classes is not None and n_classes < len(data.classes):
        raise ValueError(f"model {config.model!r} has {n_classes} outputs but the data have {len(data.classes)} "
                         f"classes; pass model_kwargs={{'n_classes': {len(data.classes)}}}")
    if config.optimizer == "adamw":
        opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                              weight_decay=config.weight_decay, nesterov=True)
    per_epoch = len(epoch_batches(len(train_set), config.batch_size, config.seed, 0))
    if per_epoch == 0:
        raise ValueError(f"{len(train_set)} training images is less than one batch of {config.batch_size}")
    total = per_epoch * config.epochs
    sched = lr_schedule(opt, total, int(config.warmup_epochs * per_epoch), config.min_lr_fraction)
    use_amp = config.amp and device.type == "cuda"
    if config.amp and not use_amp:
        log.warning("amp=True ignored: mixed precision is used on CUDA only")
    scaler = torch.amp.GradScaler("cuda") if use_amp else None
    fwd_model = torch.compile(model) if config.compile else model

    time_varying = bool(getattr(model, "time_varying", False))
    n_steps = (config.n_steps if config.n_steps is not None else getattr(model, "n_steps", 1)) if time_varying else None
    on_steps = config.on_steps if config.on_steps is not None else n_steps
    T = n_steps or 1
    readout = min(_readout_from(model), T - 1)
    if config.loss_from is not None and time_varying:
        if config.loss_from < readout:
            raise ConfigError(f"invalid training config: loss_from={config.loss_from} (expected >= the readout step "
                              f"{readout} of {config.model!r}: earlier logits do not depend on the image)")
        if config.loss_from >= T:
            raise ConfigError(f"invalid training config: loss_from={config.loss_from} (expected < n_steps={T})")
    schedule = training_schedule(config, model) if time_varying else None
    weights = step_loss_weights(T, schedule["loss_from"] if schedule else readout, config.loss_steps,
                                config.step_weighting).to(device)

    mean = config.mean or tuple(getattr(model, "norm_mean", CIFAR_MEAN))
    std = config.std or tuple(getattr(model, "norm_std", CIFAR_STD))
    metrics: list[dict] = []
    start_epoch, start_iter, best_acc, aug_state = 0, 0, -1.0, None
    last = out / "last.pt"
    if resume and last.exists():
        ckpt = load_checkpoint(last, map_location=device)
        if ckpt["config"] != cfg_dict:
            diff = sorted(k for k in set(cfg_dict) | set(ckpt["config"]) if cfg_dict.get(k) != ckpt["config"].get(k))
            raise ValueError(f"{last} was written by a different config (differs in {diff}); "
                             "use another out_dir or resume=False")
        model.load_state_dict(ckpt["state_dict"], strict=True)
        st = ckpt["training_state"]
        opt.load_state_dict(st["optimizer"])
        sched.load_state_dict(st["scheduler"])
        if scaler is not None and st.get("scaler"):
            scaler.load_state_dict(st["scaler"])
        torch.set_rng_state(st["torch_rng"])
        start_epoch, start_iter, best_acc = st["epoch"], st["iteration_in_epoch"], st["best_val_acc"]
        aug_state = st.get("aug_rng")
        metrics = list(ckpt["metrics"])
        log.info("resuming %s at epoch %d, iteration %d", out, start_epoch, start_iter)
    # the first write: everything above can refuse the run without leaving files behind
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "config.yaml", yaml.safe_dump(cfg_dict, sort_keys=False))

    def checkpoint(epoch: int, it_in_epoch: int, aug: torch.Generator | None) -> None:
        # At an epoch boundary ``aug`` is None: the next epoch seeds a fresh generator.
        save_checkpoint(last, model=model, model_name=config.model, model_kwargs=config.model_kwargs, config=cfg_dict,
                        metrics=metrics, training_state={
                            "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                            "scaler": scaler.state_dict() if scaler is not None else None,
                            "torch_rng": torch.get_rng_state(), "aug_rng": aug.get_state() if aug is not None else None,
                            "epoch": epoch, "iteration_in_epoch": it_in_epoch, "best_val_acc": best_acc})

    stale = 0
    for epoch in range(start_epoch, config.epochs):
        _train_mode(model, config.freeze_batchnorm)  # again every epoch: evaluation switches to eval mode
        t_epoch = time.perf_counter()
        batches = epoch_batches(len(train_set), config.batch_size, config.seed, epoch)
        aug = torch.Generator().manual_seed(int(config.seed * 100003 + epoch))
        if aug_state is not None and epoch == start_epoch:
            aug.set_state(aug_state)
        first = start_iter if epoch == start_epoch else 0
        run_loss, run_correct, run_n = 0.0, 0, 0
        bar = tqdm(range(first, len(batches)), desc=f"epoch {epoch + 1}/{config.epochs}", disable=not progress,
                   leave=False)
        for i in bar:
            idx = batches[i]
            x = to_tensor(train_set.images[idx], mean, std)
            if config.augment:
                x = augment_batch(x, aug)
            x = x.to(device, non_blocking=True)
            y = torch.from_numpy(train_set.labels[idx]).to(device)
            with torch.autocast(device_type="cuda", dtype=torch.float16, enabled=use_amp):
                logits = _forward_logits(fwd_model, x, n_steps, on_steps)
                per_step = torch.stack([nn.functional.cross_entropy(logits[:, t].float(), y)
                                        for t in range(logits.shape[1])])
                loss = (per_step * weights[-logits.shape[1]:]).sum()
            opt.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.unscale_(opt)
            else:
                loss.backward()
            if config.grad_clip:
                nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            if scaler is not None:
                scaler.step(opt)
                scaler.update()
            else:
                opt.step()
            sched.step()
            run_loss += loss.item() * len(idx)
            run_correct += (logits[:, -1].argmax(1) == y).sum().item()
            run_n += len(idx)
            bar.set_postfix(loss=f"{run_loss / run_n:.3f}", acc=f"{run_correct / run_n:.3f}")
            iteration = epoch * len(batches) + i + 1
            if config.checkpoint_every and iteration % config.checkpoint_every == 0:
                checkpoint(epoch, i + 1, aug)
            for cb in callbacks:
                cb({"iteration": iteration, "epoch": epoch, "loss": loss.item(), "model": model, "config": config})
        val_loss, val_acc = (evaluate(model, val_set, n_steps=n_steps, on_steps=on_steps, mean=mean,
                                      std=std) if len(val_set) else (float("nan"), float("nan")))
        row = {"epoch": epoch + 1, "train_loss": run_loss / max(1, run_n), "train_acc": run_correct / max(1, run_n),
               "val_loss": val_loss, "val_acc": val_acc, "lr": opt.param_groups[0]["lr"],
               "epoch_time_s": time.perf_counter() - t_epoch,
               "images_per_s": run_n / max(1e-9, time.perf_counter() - t_epoch)}
        metrics.append(row)
        _write_metrics(out, metrics)
        log.info("epoch %d: %s", epoch + 1, {k: round(v, 4) for k, v in row.items()})
        improved = val_acc > best_acc
        if improved:
            best_acc = val_acc
            stale = 0
            save_checkpoint(out / "best.pt", model=model, model_name=config.model, model_kwargs=config.model_kwargs,
                            config=cfg_dict, metrics=metrics, schedule=schedule)
        else:
            stale += 1
        checkpoint(epoch + 1, 0, None)
        if config.early_stop_patience is not None and stale >= config.early_stop_patience:
            log.info("early stop after epoch %d: no val improvement for %d epochs", epoch + 1, stale)
            break
        start_iter, aug_state = 0, None

    test_acc = None
    if test_data is None and config.test_data is not None:
        spec = config.data if config.test_data == "same" else config.test_data
        test_data = load_classification_data(spec, split="test", image_size=config.image_size, progress=progress)
    if test_data is not None:
        test_loss, test_acc = evaluate(model, test_data, n_steps=n_steps, on_steps=on_steps, mean=mean,
                                       std=std, progress=progress)
        log.info("test accuracy %.4f (loss %.4f)", test_acc, test_loss)
    wall = time.perf_counter() - t_start
    summary = {"test_accuracy": test_acc, "wall_time_s": wall, "epochs_run": len(metrics)}
    if init_sha is not None:
        summary["init_from_sha256"] = init_sha
    save_checkpoint(out / "model.pt", model=model, model_name=config.model, model_kwargs=config.model_kwargs,
                    config={**cfg_dict, "summary": summary}, metrics=metrics, schedule=schedule)
    atomic_write_json(out / "summary.json", summary)
    return TrainResult(out, model, metrics, test_acc, wall)


def config_with(config: TrainConfig, **changes: Any) -> TrainConfig:
    """A copy of ``config`` with some fields changed (validated)."""
    return replace(config, **changes)
