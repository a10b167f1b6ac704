"""The reference a user would write instead: a plain PyTorch eager training loop of the same models."""

from __future__ import annotations

import itertools
import time

import numpy as np

from keraslab.bench.keras_impl import BATCH, EPOCHS_PER_UNIT


def build(model: str):
    import torch
    from torch import nn

    if model == "mlp":
        net = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
        return net, torch.optim.Adam(net.parameters(), lr=1e-3), nn.CrossEntropyLoss()
    if model == "churn":
        from keraslab.models import CHURN_HIDDEN

        sizes = [26, *CHURN_HIDDEN, 1]  # the churn notebook's network, as keraslab.bench.keras_impl builds it
        layers = [m for a, b in itertools.pairwise(sizes) for m in (nn.Linear(a, b), nn.ReLU())][:-1]
        net = nn.Sequential(*layers)
        return net, torch.optim.Adam(net.parameters(), lr=1e-3), nn.BCEWithLogitsLoss()
    if model == "ann":
        net = nn.Sequential(
            nn.Flatten(), nn.Linear(3072, 3000), nn.ReLU(), nn.Linear(3000, 1000), nn.ReLU(), nn.Linear(1000, 10)
        )
        return net, torch.optim.SGD(net.parameters(), lr=0.01), nn.CrossEntropyLoss()
    if model == "cnn":
        net = nn.Sequential(
            nn.Conv2d(3, 32, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * 6 * 6, 64),
            nn.ReLU(),
            nn.Linear(64, 10),
        )
        return net, torch.optim.Adam(net.parameters(), lr=1e-3), nn.CrossEntropyLoss()
    raise ValueError(f"Unknown benchmark model {model!r}")


def time_units(model: str, x, y, *, device: str, repeats: int, seed: int = 0) -> list[float]:
    import torch

    torch.manual_seed(seed)
    dev = torch.device("cuda" if device.startswith("gpu") else "cpu")
    net, opt, loss_fn = build(model)
    net.to(dev)
    if x.ndim == 4:  # NHWC -> NCHW, once
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    xt = torch.from_numpy(x).to(dev)
    yt = torch.from_numpy(np.asarray(y)).to(dev)
    if model == "churn":
        yt = yt.float().reshape(-1, 1)
    gen = torch.Generator(device="cpu").manual_seed(seed)

    def epoch():
        order = torch.randperm(len(xt), generator=gen).to(dev)
        for start in range(0, len(xt), BATCH):
            idx = order[start : start + BATCH]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        return loss

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    # warm-up: a few hundred steps
    order = torch.randperm(len(xt), generator=gen)[: 64 * BATCH].to(dev)
    for start in range(0, len(order), BATCH):
        idx = order[start : start + BATCH]
        opt.zero_grad(set_to_none=True)
        loss_fn(net(xt[idx]), yt[idx]).backward()
        opt.step()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(EPOCHS_PER_UNIT[model]):
            loss = epoch()
        float(loss.item())
        sync()
        times.append(time.perf_counter() - t0)
    return times
