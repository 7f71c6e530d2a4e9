"""cs231n's fully-connected net on flattened Fashion-MNIST, with batch norm, layer norm or none:
{affine → [batchnorm | layernorm] → relu} × L → affine.

    python examples/train_mlp.py --norm batchnorm
    python examples/train_mlp.py --compare --epochs 3 --plot mlp_norms.png   # all three

On a deep net at the same learning rate, both normalisations train faster than none. Flags,
paths and data are checked before the first step (one line each, ``error: ...``); Ctrl-C stops
after the current step; a loss that is not finite stops the run.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tinygrad_bn as tg  # noqa: E402
from tinygrad_bn.data import DataLoader  # noqa: E402
from tinygrad_bn.models import mlp  # noqa: E402
from plots import plot  # noqa: E402
from training import (EXIT_INTERRUPTED, OPTIMIZERS, Trainer, check_distinct, check_number,  # noqa: E402
                      check_output, check_plotting, fail, load_data, require_device, summary)

DEFAULT_LR = {"sgd": 0.05, "adam": 1e-3, "adamw": 1e-3}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Train a deep MLP on Fashion-MNIST with BN, LN or no norm.",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--norm", default="batchnorm", choices=["none", "batchnorm", "layernorm"])
    p.add_argument("--compare", action="store_true", help="train all three normalisations in turn")
    p.add_argument("--hidden", default="100,100,100,100,100", help="hidden layer widths")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=None, help="learning rate (sgd 0.05, adam/adamw 1e-3)")
    p.add_argument("--optimizer", default="sgd", choices=sorted(OPTIMIZERS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=None, help="an existing folder with the four IDX .gz files")
    p.add_argument("--no-verify", action="store_true",
                   help="read IDX files that are not the official release (no size/MD5 check)")
    p.add_argument("--subset", type=int, default=None)
    p.add_argument("--log", default=None)
    p.add_argument("--plot", default=None, help="write a PNG of the training curves")
    p.add_argument("--allow-nonfinite", action="store_true", help="keep training when the loss is not finite")
    return p.parse_args(argv)


def check(args) -> list:
    problems = (check_number("--epochs", args.epochs, 1) + check_number("--batch-size", args.batch_size, 1)
                + check_number("--lr", args.lr, 0, low_open=True) + check_number("--subset", args.subset, 1)
                + check_number("--seed", args.seed, 0))
    try:
        hidden = [int(h) for h in args.hidden.split(",")]
        if min(hidden) < 1:
            raise ValueError
    except ValueError:
        problems.append(f"--hidden {args.hidden}: expected positive widths separated by commas, e.g. 100,100")
    return (problems + check_output("--log", args.log, append=True) + check_output("--plot", args.plot)
            + check_plotting(args.plot) + check_distinct(log=args.log, plot=args.plot))


def main(argv=None):
    try:
        return _main(argv)
    except KeyboardInterrupt:  # outside training (loading data, plotting)
        print("\ninterrupted", file=sys.stderr)
        raise SystemExit(EXIT_INTERRUPTED) from None


def _main(argv=None):
    args = parse_args(argv)
    problems = check(args)
    if problems:
        fail(*problems)
    require_device(args.device)
    args.lr = DEFAULT_LR[args.optimizer] if args.lr is None else args.lr
    hidden = tuple(int(h) for h in args.hidden.split(","))
    train, test = load_data(args)
    n = len(train[1])
    histories, curves = {}, {}
    for norm in (["none", "batchnorm", "layernorm"] if args.compare else [args.norm]):
        tg.manual_seed(args.seed)
        model = mlp(28 * 28, hidden, 10, norm=norm).to(args.device)
        optimizer = OPTIMIZERS[args.optimizer](model.parameters(), lr=args.lr)
        trainer = Trainer(model, optimizer,
                          DataLoader(train, args.batch_size, shuffle=True, seed=args.seed,
                                     device=args.device),
                          DataLoader(test, 1024, device=args.device), log=args.log,
                          name=f"[{norm}] ", allow_nonfinite=args.allow_nonfinite)
        histories[norm] = trainer.fit(args.epochs)
        curves[norm] = {"history": trainer.history, "batch_losses": trainer.batch_losses}
        print(summary(histories[norm], f"[{norm}] "))
    if args.plot:
        epochs = f"{args.epochs} epoch{'s' if args.epochs > 1 else ''}"
        title = (f"MLP {args.hidden}, {' vs '.join(curves)} on Fashion-MNIST\n"
                 f"{OPTIMIZERS[args.optimizer].__name__} lr {args.lr:g}, batch {args.batch_size}, {epochs}, "
                 f"{n:,} training images, seed {args.seed}")
        plot(curves, args.plot, title=title)
        print(f"plot written to {args.plot}")
    return histories


if __name__ == "__main__":
    main()
