"""cs231n's fully-connected net on flattened Fashion-MNIST, with batch norm, layer norm or none:
{affine → [batchnorm | layernorm] → relu} × L → affine.

    python examples/train_mlp.py --norm batchnorm
    python examples/train_mlp.py --compare --epochs 3 --plot runs/mlp_norms.png   # all three

On a deep net at the same learning rate, both normalisations train faster than none.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tinygrad_bn as tg  # noqa: E402
from tinygrad_bn import optim  # noqa: E402
from tinygrad_bn.data import DataLoader, FashionMNIST  # noqa: E402
from tinygrad_bn.models import mlp  # noqa: E402
from training import Trainer, plot, require_device, summary  # noqa: E402

OPTIMIZERS = {"sgd": optim.SGD, "adam": optim.Adam, "adamw": optim.AdamW}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Train a deep MLP on Fashion-MNIST with BN, LN or no norm.",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--norm", default="batchnorm", choices=["none", "batchnorm", "layernorm"])
    p.add_argument("--compare", action="store_true", help="train all three normalisations in turn")
    p.add_argument("--hidden", default="100,100,100,100,100", help="hidden layer widths")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--optimizer", default="sgd", choices=sorted(OPTIMIZERS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--subset", type=int, default=None)
    p.add_argument("--log", default=None)
    p.add_argument("--plot", default=None)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    require_device(args.device)
    hidden = tuple(int(h) for h in args.hidden.split(","))
    train = FashionMNIST(root=args.data_dir, train=True)
    test = FashionMNIST(root=args.data_dir, train=False)
    if args.subset:
        train = (train.images[:args.subset], train.labels[:args.subset])
    histories = {}
    for norm in (["none", "batchnorm", "layernorm"] if args.compare else [args.norm]):
        tg.manual_seed(args.seed)
        model = mlp(28 * 28, hidden, 10, norm=norm).to(args.device)
        optimizer = OPTIMIZERS[args.optimizer](model.parameters(), lr=args.lr)
        trainer = Trainer(model, optimizer,
                          DataLoader(train, args.batch_size, shuffle=True, seed=args.seed,
                                     device=args.device),
                          DataLoader(test, 1024, device=args.device), log=args.log, name=f"[{norm}] ")
        histories[norm] = trainer.fit(args.epochs)
        print(summary(histories[norm], f"[{norm}] "))
    if args.plot:
        plot(histories, args.plot, title=f"MLP {args.hidden}, {args.optimizer} lr {args.lr:g}")
        print(f"plot written to {args.plot}")
    return histories


if __name__ == "__main__":
    main()
