"""Train LeNet with batch normalisation on Fashion-MNIST (Dive into Deep Learning, "LeNet with BN").

    python examples/train_lenet.py                       # the reference set-up, on the CPU
    python examples/train_lenet.py --device cuda         # on a GPU (needs CuPy)
    python examples/train_lenet.py --schedule cosine --activation relu --optimizer adam
    python examples/train_lenet.py --compare-bn --epochs 2 --plot bn_vs_plain.png
    python examples/train_lenet.py --save run.npz        # Ctrl-C, then the same with --resume run.npz
    mpiexec -n 2 python examples/train_lenet.py --distributed    # data-parallel, SyncBatchNorm

Defaults: SGD lr 1.0 (Adam and AdamW: lr 1e-3), batch 256, 10 epochs, cross-entropy, sigmoid,
seed 0. Every flag, path and the data are checked before the first step; a problem is one line,
``error: ...``, exit status 1. Every option is listed by --help and in README.md.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # examples/training.py
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo

import tinygrad_bn as tg  # noqa: E402
import tinygrad_bn.distributed as dist  # noqa: E402
from tinygrad_bn import nn, optim  # noqa: E402
from tinygrad_bn.data import DataLoader, DistributedSampler  # noqa: E402
from tinygrad_bn.models import lenet  # noqa: E402
from plots import plot  # noqa: E402
from training import (EXIT_INTERRUPTED, OPTIMIZERS, Trainer, check_distinct, check_number,  # noqa: E402
                      check_output, check_plotting, compare_settings, data_fingerprint, fail,
                      load_data, load_training_checkpoint, require_device, summary)

DEFAULT_LR = {"sgd": 1.0, "adam": 1e-3, "adamw": 1e-3}
DEFAULT_EPOCHS = 10
DEFAULT_PLAIN_LR = 0.9


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Train LeNet-BN on Fashion-MNIST.",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--epochs", type=int, default=None,
                   help=f"epochs to train in all ({DEFAULT_EPOCHS}; with --resume, the checkpoint's)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate (sgd 1.0, adam/adamw 1e-3; with --resume, the checkpoint's)")
    p.add_argument("--optimizer", default="sgd", choices=sorted(OPTIMIZERS))
    p.add_argument("--activation", default="sigmoid", choices=["sigmoid", "relu"])
    p.add_argument("--no-bn", action="store_true", help="the plain LeNet, without batch norm")
    p.add_argument("--compare-bn", action="store_true",
                   help="train with and without batch norm, one after the other, and compare")
    p.add_argument("--plain-lr", type=float, default=None,
                   help=f"learning rate of the plain LeNet in --compare-bn ({DEFAULT_PLAIN_LR}: sigmoid "
                        "LeNet without BN needs a smaller one to train at all; Dive into Deep Learning's)")
    p.add_argument("--schedule", default="none", choices=["none", "cosine"],
                   help="cosine: cosine annealing of the lr, stepped every batch")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=None, help="an existing folder with the four IDX .gz files")
    p.add_argument("--no-verify", action="store_true",
                   help="read IDX files that are not the official release (no size/MD5 check)")
    p.add_argument("--subset", type=int, default=None, help="train on the first N images (quick runs)")
    p.add_argument("--save", default=None, help="checkpoint path, written every epoch and on Ctrl-C")
    p.add_argument("--resume", default=None, help="continue from this checkpoint (same settings)")
    p.add_argument("--log", default=None, help="append one JSON object per epoch to this file")
    p.add_argument("--plot", default=None,
                   help="write a PNG of the training curves: loss per step and per epoch, test loss, "
                        "training and test accuracy")
    p.add_argument("--allow-nonfinite", action="store_true",
                   help="keep training when the loss is not finite (else: stop, keep the last checkpoint)")
    p.add_argument("--distributed", action="store_true",
                   help="data-parallel over the K processes of `mpiexec -n K` (MPI, the mpi extra): "
                        "SyncBatchNorm, each process a shard of every batch (--batch-size is the "
                        "global batch); rank 0 prints, logs and saves")
    return p.parse_args(argv)


def check_flags(args) -> list:
    """Every problem with the flags alone (before any file is read), one line each."""
    problems = (check_number("--epochs", args.epochs, 1) + check_number("--batch-size", args.batch_size, 1)
                + check_number("--lr", args.lr, 0, low_open=True)
                + check_number("--plain-lr", args.plain_lr, 0, low_open=True)
                + check_number("--subset", args.subset, 1) + check_number("--seed", args.seed, 0))
    if args.compare_bn:
        given = {"--save": args.save, "--resume": args.resume, "--no-bn": args.no_bn}
        problems += [f"--compare-bn trains two models: it cannot be combined with {flag}"
                     for flag, value in given.items() if value]
    elif args.plain_lr is not None:
        problems.append("--plain-lr is the lr of the plain LeNet in --compare-bn; give --compare-bn too")
    if args.distributed:
        problems += [f"--distributed trains one model on CPU processes: it cannot be combined with {flag}"
                     for flag, value in (("--compare-bn", args.compare_bn), ("--no-bn", args.no_bn),
                                         ("--device cuda", args.device == "cuda")) if value]
    return problems


def start_distributed(args):
    """Join the processes of `mpiexec -n K` (--distributed): (process group, rank, K), or
    (None, 0, 1) without --distributed. One-line errors, as for every flag."""
    if not args.distributed:
        return None, 0, 1
    try:
        dist.init_process_group()
    except RuntimeError as err:
        fail(f"--distributed: {err}")
    k = dist.get_world_size()
    if args.batch_size % k:
        fail(f"--batch-size {args.batch_size}: with --distributed it is the global batch, split "
             f"over the {k} processes: give a multiple of {k}")
    return dist._default_group(), dist.get_rank(), k


def check_paths(args) -> list:
    """Every output path writable and not a folder, no two the same, matplotlib for --plot."""
    return (check_output("--save", args.save) + check_output("--log", args.log, append=True)
            + check_output("--plot", args.plot) + check_plotting(args.plot)
            + check_distinct(save=args.save, log=args.log, plot=args.plot)
            # --resume may be --save (continue in the same file), never the log or the plot
            + check_distinct(resume=args.resume, log=args.log)
            + check_distinct(resume=args.resume, plot=args.plot))


def settings(args, batch_norm: bool, lr: float, data) -> dict:
    """The run's settings, stored in its checkpoints: a resume must match them."""
    (train_images, train_labels), (test_images, test_labels) = data
    fingerprint = None
    if args.save or args.resume:  # hashing 60,000 images takes a tenth of a second
        fingerprint = data_fingerprint(train_images, train_labels, test_images, test_labels)
    return {"script": "train_lenet", "model": "lenet-bn" if batch_norm else "lenet",
            "activation": args.activation, "batch_size": args.batch_size, "subset": len(train_labels),
            "schedule": args.schedule, "optimizer": args.optimizer, "lr": lr, "epochs": args.epochs,
            "seed": args.seed, "data": fingerprint, "device": args.device,
            **({"processes": dist.get_world_size()} if args.distributed else {})}


def build(args, batch_norm: bool, lr: float, data, rank: int = 0, k: int = 1):
    """Model, optimizer, scheduler and loaders for one run, all seeded from args.seed. With
    --distributed: batch norm synchronised over the K processes, the model wrapped in
    DistributedDataParallel (rank 0's weights everywhere), each process's loaders a shard."""
    tg.manual_seed(args.seed)
    train_set, (test_images, test_labels) = data
    model = lenet(batch_norm=batch_norm, activation=args.activation).to(args.device)
    if args.distributed:
        model = nn.parallel.DistributedDataParallel(nn.SyncBatchNorm.convert_sync_batchnorm(model))
        sampler = DistributedSampler(train_set, seed=args.seed)  # a new shard of each epoch's shuffle
        train_loader = DataLoader(train_set, args.batch_size // k, sampler=sampler)
        test_loader = DataLoader((test_images[rank::k], test_labels[rank::k]), 1024)  # a K-th each
    else:
        train_loader = DataLoader(train_set, args.batch_size, shuffle=True, seed=args.seed,
                                  device=args.device)
        test_loader = DataLoader((test_images, test_labels), 1024, device=args.device)
    optimizer = OPTIMIZERS[args.optimizer](model.parameters(), lr=lr)
    scheduler = None
    if args.schedule == "cosine":
        scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs * len(train_loader))
    return model, optimizer, scheduler, train_loader, test_loader


def plot_title(args, runs, num_train: int) -> str:
    """The settings of the run (or of both runs of --compare-bn), for the plot's title."""
    models = " vs ".join(name for name, _, _ in runs)
    lrs = " vs ".join(f"{lr:g}" for _, _, lr in runs)
    epochs = f"{args.epochs} epoch{'s' if args.epochs > 1 else ''}"
    return (f"{models} on Fashion-MNIST\n{args.activation}, {OPTIMIZERS[args.optimizer].__name__} lr {lrs}, "
            f"schedule {args.schedule}, batch {args.batch_size}, {epochs}, {num_train:,} training images, "
            f"seed {args.seed}")


def resume(trainer, args, checkpoint, say=print) -> None:
    """Load `checkpoint` into `trainer` after checking that it is this run's; apply and print
    the safe overrides (--epochs and --lr without a schedule, --device, the process count)."""
    overridable = ("device", "processes") + (("epochs", "lr") if args.schedule == "none" else ())
    overrides = compare_settings(args.resume, checkpoint["config"], trainer.config, overridable)
    done = int(checkpoint["epoch"])
    if any(key == "processes" for key, _, _ in overrides) and int(checkpoint["batches_done"]):
        old = checkpoint["config"].get("processes") or 1
        fail(f"--resume {args.resume}: it was saved in the middle of epoch {done + 1} by {old} "
             f"process(es); an epoch's shuffling depends on the number of processes, so it can "
             f"only continue on {old}. (A checkpoint saved at the end of an epoch may change it.)")
    if args.epochs < done:
        fail(f"--epochs {args.epochs}: the checkpoint {args.resume} has already trained {done} epochs")
    try:
        trainer.resume(checkpoint, args.resume)
    except (RuntimeError, ValueError, KeyError, TypeError) as err:
        fail(f"--resume {args.resume}: cannot load it: {err}")
    for key, old, new in overrides:
        say(f"resuming with {key} {new} instead of the checkpoint's {old}")
        if key == "lr":
            for group in trainer.optimizer.param_groups:
                group["lr"] = new


def main(argv=None):
    try:
        return _main(argv)
    except KeyboardInterrupt:  # outside training (loading data, plotting): nothing to save
        print("\ninterrupted", file=sys.stderr)
        raise SystemExit(EXIT_INTERRUPTED) from None


def _main(argv=None):
    args = parse_args(argv)
    problems = check_flags(args) + check_paths(args)
    if problems:
        fail(*problems)
    require_device(args.device)
    group, rank, k = start_distributed(args)
    say = print if rank == 0 else (lambda *a, **kw: None)  # distributed: rank 0 speaks for all
    checkpoint = load_training_checkpoint(args.resume) if args.resume else None
    if checkpoint is not None:  # unless given, --epochs and --lr are the checkpoint's
        args.epochs = checkpoint["config"]["epochs"] if args.epochs is None else args.epochs
        args.lr = checkpoint["config"]["lr"] if args.lr is None else args.lr
    args.epochs = DEFAULT_EPOCHS if args.epochs is None else args.epochs
    args.lr = DEFAULT_LR[args.optimizer] if args.lr is None else args.lr
    data = load_data(args)

    runs = [("LeNet", False, args.lr)] if args.no_bn else [("LeNet-BN", True, args.lr)]
    if args.compare_bn:
        runs = [("LeNet-BN", True, args.lr), ("LeNet", False, args.plain_lr or DEFAULT_PLAIN_LR)]
    histories, curves = {}, {}
    for name, batch_norm, lr in runs:
        model, optimizer, scheduler, train_loader, test_loader = build(args, batch_norm, lr, data, rank, k)
        if checkpoint is None and rank == 0:  # a resumed run printed it when it started
            print(tg.nn.summary(getattr(model, "module", model), (args.batch_size, 1, 28, 28),
                                device=args.device))
        trainer = Trainer(model, optimizer, train_loader, test_loader, scheduler, save=args.save,
                          log=args.log, name=f"[{name}] " if len(runs) > 1 else "",
                          config=settings(args, batch_norm, lr, data), allow_nonfinite=args.allow_nonfinite,
                          group=group)
        if checkpoint is not None:
            resume(trainer, args, checkpoint, say)
        label = f"{name} (lr {lr:g})"
        where = f"{k} processes (SyncBatchNorm, {args.batch_size // k} per process)" if k > 1 else args.device
        say(f"{label}: {sum(p.numel() for p in model.parameters())} parameters, "
            f"{len(data[0][1])} training images, {where}")
        histories[label] = trainer.fit(args.epochs)
        curves[label] = {"history": trainer.history, "batch_losses": trainer.batch_losses}
        say(summary(histories[label], f"{label}: "))
    if args.plot and rank == 0:
        plot(curves, args.plot, title=plot_title(args, runs, len(data[0][1])))
        print(f"plot written to {args.plot}")
    if group is not None:
        dist.destroy_process_group()
    return histories


if __name__ == "__main__":
    main()
