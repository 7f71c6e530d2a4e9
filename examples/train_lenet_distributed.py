"""Data-parallel LeNet-BN on Fashion-MNIST over K processes, with synchronized batch norm.

    mpiexec -n 2 python examples/train_lenet_distributed.py                  # global batch 256
    mpiexec -n 2 python examples/train_lenet_distributed.py --schedule cosine --save runs/ddp.npz
    mpiexec -n 2 python examples/train_lenet_distributed.py --schedule cosine --save runs/ddp.npz \\
        --resume runs/ddp.npz                                                # continue a run

(``mpiexec`` is in ``.venv/bin`` once the mpi extra is installed: ``make mpi``.) Every process
builds the same LeNet-BN, turns its BatchNorm layers into SyncBatchNorm, wraps it in
DistributedDataParallel (which copies rank 0's weights to all), and trains on its own shard of
each epoch's permutation (DistributedSampler): with K processes, each one's batch is
--batch-size / K, and the statistics of every batch norm are those of the whole global batch,
so the run follows the same algorithm as one process at batch --batch-size. Each process
evaluates a K-th of the test set; the counts are summed. Rank 0 alone prints, writes the log
and saves the checkpoint (model, optimizer, scheduler, epochs done, history) after every
epoch; --resume continues from it (on any number of processes). Each process uses one BLAS
thread unless OMP_NUM_THREADS says otherwise.
"""
import argparse
import json
import os
import sys
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # before NumPy loads
    os.environ.setdefault(_var, "1")  # K processes share the cores: one thread each

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo

import numpy as np  # noqa: E402

import tinygrad_bn as tg  # noqa: E402
import tinygrad_bn.distributed as dist  # noqa: E402
import tinygrad_bn.nn.functional as F  # noqa: E402
from tinygrad_bn import nn, optim  # noqa: E402
from tinygrad_bn.data import DataLoader, DistributedSampler, FashionMNIST  # noqa: E402
from tinygrad_bn.models import lenet  # noqa: E402

OPTIMIZERS = {"sgd": optim.SGD, "adam": optim.Adam, "adamw": optim.AdamW}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Data-parallel LeNet-BN on Fashion-MNIST (run under mpiexec).",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=256, help="the GLOBAL batch, split over the processes")
    p.add_argument("--lr", type=float, default=1.0)
    p.add_argument("--optimizer", default="sgd", choices=sorted(OPTIMIZERS))
    p.add_argument("--activation", default="sigmoid", choices=["sigmoid", "relu"])
    p.add_argument("--schedule", default="none", choices=["none", "cosine"],
                   help="cosine: cosine annealing of the lr, stepped every batch")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=None, help="folder with the four IDX .gz files")
    p.add_argument("--subset", type=int, default=None, help="train on the first N images (quick runs)")
    p.add_argument("--save", default=None, help="checkpoint path, written by rank 0 every epoch")
    p.add_argument("--resume", default=None, help="continue from this checkpoint")
    p.add_argument("--log", default=None, help="append one JSON object per epoch to this file (rank 0)")
    return p.parse_args(argv)


def load_data(args, rank):
    """Rank 0 first (it may have to download the files), then the others, from its copy."""
    if rank != 0:
        dist.barrier()
    train = FashionMNIST(root=args.data_dir, train=True)
    test = FashionMNIST(root=args.data_dir, train=False)
    if rank == 0:
        dist.barrier()
    if args.subset:
        train = (train.images[:args.subset], train.labels[:args.subset])
    return train, test


def evaluate(model, loader) -> float:
    """Test accuracy: each process counts on its own part of the test set; the counts are summed."""
    model.eval()
    counts = np.zeros(2)
    with tg.no_grad():
        for images, labels in loader:
            counts += [float((model(images).argmax(1) == labels).array.sum()), len(labels)]
    counts = tg.tensor(counts)
    dist.all_reduce(counts)
    correct, total = counts.tolist()
    return correct / total


def main(argv=None):
    args = parse_args(argv)
    try:
        dist.init_process_group()
    except RuntimeError as err:
        sys.exit(f"error: {err}")
    rank, k = dist.get_rank(), dist.get_world_size()
    if args.batch_size % k:
        sys.exit(f"error: --batch-size {args.batch_size} must be a multiple of the {k} processes")
    say = print if rank == 0 else (lambda *a, **kw: None)
    train, test = load_data(args, rank)

    tg.manual_seed(args.seed)
    model = nn.SyncBatchNorm.convert_sync_batchnorm(lenet(activation=args.activation))
    ddp = nn.parallel.DistributedDataParallel(model)
    optimizer = OPTIMIZERS[args.optimizer](ddp.parameters(), lr=args.lr)
    sampler = DistributedSampler(train, shuffle=True, seed=args.seed)
    train_loader = DataLoader(train, args.batch_size // k, sampler=sampler)
    test_images, test_labels = test.images[rank::k], test.labels[rank::k]  # a K-th each
    test_loader = DataLoader((test_images, test_labels), 1024)
    scheduler = None
    if args.schedule == "cosine":
        scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs * len(train_loader))

    start, history = 0, []
    if args.resume:  # every process reads the same file, so the replicas stay identical
        state = tg.load(args.resume)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler:
            scheduler.load_state_dict(state["scheduler"])
        start, history = int(state["epoch"]), json.loads(str(state["history"]))
        say(f"resumed from {args.resume} after epoch {start}")
    say(f"LeNet-BN with SyncBatchNorm on {k} processes: global batch {args.batch_size} "
        f"({args.batch_size // k} per process), {sampler.dataset_size} training images")

    for epoch in range(start, args.epochs):
        sampler.set_epoch(epoch)  # the same new permutation on every process
        ddp.train()
        sums = np.zeros(3)  # loss · samples, correct, samples (this process)
        begin = time.perf_counter()
        for images, labels in train_loader:
            logits = ddp(images)
            loss = F.cross_entropy(logits, labels)  # the mean over this process's batch
            optimizer.zero_grad()
            loss.backward()  # gradients averaged over the processes
            optimizer.step()
            if scheduler:
                scheduler.step()
            sums += [loss.item() * len(labels), float((logits.argmax(1) == labels).array.sum()), len(labels)]
        seconds = time.perf_counter() - begin
        totals = tg.tensor(sums)
        dist.all_reduce(totals)
        loss_sum, correct, seen = totals.tolist()
        record = {"epoch": epoch + 1, "train_loss": loss_sum / seen, "train_acc": correct / seen,
                  "test_acc": evaluate(model, test_loader), "seconds": round(seconds, 3),
                  "examples_per_s": round(seen / seconds, 1), "processes": k}
        history.append(record)
        say(f"epoch {record['epoch']:2d}  loss {record['train_loss']:.4f}  train acc "
            f"{record['train_acc']:.4f}  test acc {record['test_acc']:.4f}  {seconds:6.1f} s  "
            f"{record['examples_per_s']:8.0f} examples/s", flush=True)
        if rank == 0:
            if args.log:
                with open(args.log, "a") as f:
                    f.write(json.dumps(record) + "\n")
            if args.save:  # the bare model's keys (no 'module.'): it loads into lenet() as is
                tg.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                         "scheduler": scheduler.state_dict() if scheduler else {},
                         "epoch": epoch + 1, "history": json.dumps(history)}, args.save)
    if history:
        best = max(history, key=lambda r: r["test_acc"])
        say(f"done: final test acc {history[-1]['test_acc']:.4f}, best {best['test_acc']:.4f} "
            f"(epoch {best['epoch']}), median {np.median([r['examples_per_s'] for r in history]):.0f} "
            "examples/s")
    dist.destroy_process_group()
    return history


if __name__ == "__main__":
    main()
