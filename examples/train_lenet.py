"""Train LeNet with batch normalisation on Fashion-MNIST (Dive into Deep Learning, "LeNet with BN").

    python examples/train_lenet.py                       # the reference set-up, on the CPU
    python examples/train_lenet.py --device cuda         # on a GPU (needs CuPy)
    python examples/train_lenet.py --schedule cosine --activation relu --optimizer adam --lr 1e-3
    python examples/train_lenet.py --compare-bn --epochs 2 --plot runs/bn_vs_plain.png

Defaults: SGD lr 1.0, batch 256, 10 epochs, cross-entropy, sigmoid, seed 0. Every option is
listed by --help and in README.md.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # examples/training.py
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo

import tinygrad_bn as tg  # noqa: E402
from tinygrad_bn import optim  # noqa: E402
from tinygrad_bn.data import DataLoader, FashionMNIST  # noqa: E402
from tinygrad_bn.models import lenet  # noqa: E402
from training import Trainer, plot, require_device, summary  # noqa: E402

OPTIMIZERS = {"sgd": optim.SGD, "adam": optim.Adam, "adamw": optim.AdamW}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Train LeNet-BN on Fashion-MNIST.",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=1.0)
    p.add_argument("--optimizer", default="sgd", choices=sorted(OPTIMIZERS))
    p.add_argument("--activation", default="sigmoid", choices=["sigmoid", "relu"])
    p.add_argument("--no-bn", action="store_true", help="the plain LeNet, without batch norm")
    p.add_argument("--compare-bn", action="store_true",
                   help="train with and without batch norm, one after the other, and compare")
    p.add_argument("--plain-lr", type=float, default=0.9,
                   help="learning rate of the plain LeNet in --compare-bn (sigmoid LeNet without BN "
                        "needs a smaller one to train at all; 0.9 is Dive into Deep Learning's)")
    p.add_argument("--schedule", default="none", choices=["none", "cosine"],
                   help="cosine: cosine annealing of the lr, stepped every batch")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=None, help="folder with the four IDX .gz files")
    p.add_argument("--subset", type=int, default=None, help="train on the first N images (quick runs)")
    p.add_argument("--save", default=None, help="checkpoint path, written every epoch and on Ctrl-C")
    p.add_argument("--resume", default=None, help="continue from this checkpoint")
    p.add_argument("--log", default=None, help="append one JSON object per epoch to this file")
    p.add_argument("--plot", default=None, help="write a PNG of the training curves")
    return p.parse_args(argv)


def build(args, batch_norm: bool, lr: float, data):
    """Model, optimizer, scheduler and loaders for one run, all seeded from args.seed."""
    tg.manual_seed(args.seed)
    train_set, test_set = data
    model = lenet(batch_norm=batch_norm, activation=args.activation).to(args.device)
    optimizer = OPTIMIZERS[args.optimizer](model.parameters(), lr=lr)
    train_loader = DataLoader(train_set, args.batch_size, shuffle=True, seed=args.seed, device=args.device)
    test_loader = DataLoader(test_set, 1024, device=args.device)
    scheduler = None
    if args.schedule == "cosine":
        scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs * len(train_loader))
    return model, optimizer, scheduler, train_loader, test_loader


def load_data(args):
    train = FashionMNIST(root=args.data_dir, train=True)
    test = FashionMNIST(root=args.data_dir, train=False)
    if args.subset:
        train = (train.images[:args.subset], train.labels[:args.subset])
    return train, test


def main(argv=None):
    args = parse_args(argv)
    require_device(args.device)
    data = load_data(args)
    runs = [("LeNet-BN", True, args.lr)]
    if args.no_bn:
        runs = [("LeNet", False, args.lr)]
    if args.compare_bn:
        runs = [("LeNet-BN", True, args.lr), ("LeNet", False, args.plain_lr)]
    histories = {}
    for name, batch_norm, lr in runs:
        model, optimizer, scheduler, train_loader, test_loader = build(args, batch_norm, lr, data)
        label = f"{name} (lr {lr:g})"
        print(f"{label}: {sum(p.numel() for p in model.parameters())} parameters, "
              f"{train_loader.num_samples} training images, {args.device}")
        save = args.save if len(runs) == 1 else None
        trainer = Trainer(model, optimizer, train_loader, test_loader, scheduler, save=save,
                          log=args.log, name=f"[{name}] " if len(runs) > 1 else "")
        if args.resume and len(runs) == 1:
            trainer.resume(args.resume)
        histories[label] = trainer.fit(args.epochs)
        print(summary(histories[label], f"{label}: "))
    if args.plot:
        plot(histories, args.plot, title=f"Fashion-MNIST, {args.activation}, {args.optimizer}")
        print(f"plot written to {args.plot}")
    return histories


if __name__ == "__main__":
    main()
