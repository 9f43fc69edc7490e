"""``brainfit extract``: time-resolved activations of a model on a dataset's stimuli (cached)."""

from __future__ import annotations

import argparse

from brainfit.cli._common import add_model_arguments, model_from_args, parse_overrides

__all__ = ["add_parser"]


def _pooling(value: str | None) -> str | int | None:
    if value is None:
        return None
    if value.isdigit():
        return int(value)
    return value


def _cmd_extract(args: argparse.Namespace) -> int:
    from brainfit.activations import RandomProjection, extract
    from brainfit.data import load_dataset
    from brainfit.device import resolve_device

    device = resolve_device(args.device)  # a bad device fails before anything is loaded
    if args.projection is not None and args.projection < 1:
        raise ValueError(f"--projection must be a width >= 1, got {args.projection} (leave it out for no projection)")
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
    model, model_id = model_from_args(args)
    stimuli, _ = load_dataset(args.dataset, **parse_overrides(args.dataset_set, "--dataset-set"))
    if stimuli is None:
        raise ValueError(f"dataset {args.dataset!r} has no stimulus images to extract on")
    proj = RandomProjection(width=args.projection) if args.projection is not None else None
    print(f"model {model_id}: weights {model.weights_source}")
    da = extract(model, stimuli, layers=args.layers, n_steps=args.n_steps, on_steps=args.on_steps,
                 batch_size=args.batch_size,
                 pooling=_pooling(args.pooling), projection=proj, cache=args.cache_dir or True, device=device,
                 model_id=model_id, progress=not args.quiet)
    if args.out:
        from brainfit.assembly import save_assembly
        save_assembly(da.load(), args.out)
        print(f"wrote {args.out}: {dict(da.sizes)}")
    else:
        print(f"{dict(da.sizes)} cached at {da.encoding.get('source')}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``extract`` subcommand."""
    p = sub.add_parser("extract", help="time-resolved activations of a model on a dataset's stimuli")
    add_model_arguments(p)
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--dataset-set", nargs="*", metavar="KEY=VALUE", help="dataset loader options")
    p.add_argument("--layers", nargs="*", help="layer names (default: all)")
    p.add_argument("--n-steps", type=int, help="unroll length (default: the model's own)")
    p.add_argument("--on-steps", type=int, help="steps the image is shown, then mean gray (default: the model's own)")
    p.add_argument("--batch-size", type=int, default=64, help="part of the cache key (results depend on it)")
    p.add_argument("--pooling", help="avg, max, or an int k (adaptive k x k average)")
    p.add_argument("--projection", type=int, help="random projection width per layer")
    p.add_argument("--cache-dir", help="cache folder (default: $BRAINFIT_CACHE/activations or ~/.cache/brainfit/activations)")
    p.add_argument("--device", default=None)
    p.add_argument("--out", help="also write a standalone netCDF assembly here")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_extract)
