"""One epoch of keraslab.scratch's NumPy network against a plain PyTorch eager loop, side by side.

784-128-10 ReLU/softmax, Adam (lr 1e-3), batch 32, the 60,000 Fashion-MNIST training images, float32.
Each implementation is warmed up on 2,000 images, then timed over full epochs (median of --repeats).

    KERASLAB_DATA=../shared/datasets python benchmarks/scratch_mlp_epoch.py [--repeats 3]

Target: NumPy epoch / PyTorch epoch <= 1.0.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import numpy as np

from keraslab import datasets
from keraslab.scratch import MLPClassifier


def numpy_epoch(x, y, seed):
    model = MLPClassifier(hidden=(128,), epochs=1, batch_size=32, seed=seed)
    t0 = time.perf_counter()
    model.fit(x, y)
    return time.perf_counter() - t0, model


def torch_epoch(x, y, seed):
    import torch

    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    order = torch.randperm(len(xt), generator=gen)
    for start in range(0, len(xt), 32):
        idx = order[start : start + 32]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xt[idx]), yt[idx])
        loss.backward()
        opt.step()
    return time.perf_counter() - t0, model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    (x, y), (xt, yt) = datasets.load_fashion_mnist(scale=True)
    x, xt = x.reshape(-1, 784), xt.reshape(-1, 784)
    import torch

    numpy_epoch(x[:2000], y[:2000], 0)
    torch_epoch(x[:2000], y[:2000], 0)
    times = {"numpy": [], "torch-eager": []}
    acc = {}
    for r in range(args.repeats):
        t, m = numpy_epoch(x, y, r)
        times["numpy"].append(t)
        acc["numpy"] = m.score(xt, yt)
        t, tm = torch_epoch(x, y, r)
        times["torch-eager"].append(t)
        with torch.no_grad():
            acc["torch-eager"] = float((tm(torch.from_numpy(xt)).argmax(1).numpy() == yt).mean())
    med = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "torch_threads": torch.get_num_threads(),
        },
        "epoch_seconds": times,
        "median": med,
        "test_accuracy_after_1_epoch": acc,
        "ratio_numpy_over_torch": med["numpy"] / med["torch-eager"],
    }
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
