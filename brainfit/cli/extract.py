"""``brainfit extract``: time-resolved activations of a model on a dataset's stimuli (cached)."""

from __future__ import annotations

import argparse
from pathlib import Path

from brainfit.cli._common import parse_overrides

__all__ = ["add_parser"]


def _cmd_extract(args: argparse.Namespace) -> int:
    from brainfit.activations import RandomProjection, extract
    from brainfit.data import load_dataset
    from brainfit.models import create_model, load_model

    if args.weights:
        model = load_model(args.weights)
        model_id = Path(args.weights).stem
    elif args.model:
        model = create_model(args.model, **parse_overrides(args.model_set))
        model_id = args.model
    else:
        raise SystemExit("error: give --model NAME or --weights CHECKPOINT")
    stimuli, _ = load_dataset(args.dataset, **parse_overrides(args.dataset_set))
    proj = RandomProjection(width=args.projection) if args.projection else None
    pooling = int(args.pooling) if args.pooling and args.pooling.isdigit() else args.pooling
    da = extract(model, stimuli, layers=args.layers, n_steps=args.n_steps, batch_size=args.batch_size,
                 pooling=pooling, projection=proj, cache=args.cache_dir or True, device=args.device,
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
    p.add_argument("--model", help="registry name (or give --weights)")
    p.add_argument("--model-set", nargs="*", metavar="KEY=VALUE", help="create_model keyword arguments")
    p.add_argument("--weights", help="a brainfit checkpoint (rebuilds the model from it)")
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--dataset-set", nargs="*", metavar="KEY=VALUE", help="dataset loader options")
    p.add_argument("--layers", nargs="*", help="layer names (default: all)")
    p.add_argument("--n-steps", type=int)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--pooling", help="avg, max, or an int k (adaptive k x k average)")
    p.add_argument("--projection", type=int, help="random projection width per layer")
    p.add_argument("--cache-dir", help="cache folder (default: $BRAINFIT_CACHE/activations or ~/.cache/brainfit/activations)")
    p.add_argument("--device", default=None)
    p.add_argument("--out", help="also write a standalone netCDF assembly here")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_extract)
