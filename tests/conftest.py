"""Shared fixtures. The suite never touches the network: every socket connection off loopback is refused."""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import socket
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")

REPO = Path(__file__).resolve().parents[1]
_real_connect = socket.socket.connect


def _guarded_connect(self, address, *args, **kwargs):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise RuntimeError(f"tests must not touch the network (tried to connect to {address!r})")
    return _real_connect(self, address, *args, **kwargs)


def pytest_collection_modifyitems(config, items):
    """Tests marked tensorflow or torch run where that backend is installed and are skipped, saying why, elsewhere
    (CI installs neither: they are opt-in, `pip install -e '.[test,tensorflow,torch]'`)."""
    for backend in ("tensorflow", "torch"):
        if importlib.util.find_spec(backend) is not None:
            continue
        skip = pytest.mark.skip(reason=f"the {backend} backend is not installed (pip install 'keraslab[{backend}]')")
        for item in items:
            if item.get_closest_marker(backend):
                item.add_marker(skip)


_real_getaddrinfo = socket.getaddrinfo


def _guarded_getaddrinfo(host, *args, **kwargs):
    """No name lookup off this machine either (a DNS query is network traffic)."""
    name = host.decode() if isinstance(host, bytes) else host
    if name not in (None, "localhost", "") and not _is_loopback(name):
        raise RuntimeError(f"tests must not touch the network (tried to look up {name!r})")
    return _real_getaddrinfo(host, *args, **kwargs)


def _is_loopback(host: str) -> bool:
    """A loopback address, or the unspecified one a server binds to (0.0.0.0, ::)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", _guarded_getaddrinfo)


def real_data_folder() -> Path:
    """Where the real datasets are: $KERASLAB_DATA, else ../shared/datasets beside the repository (absolute:
    KERASLAB_DATA is usually relative and some tests change directory). It may not exist (a fresh clone)."""
    return Path(os.environ.get("KERASLAB_DATA") or REPO.parent / "shared" / "datasets").resolve()


def in_ci() -> bool:
    """CI (the `CI` variable set, as .ci/run and CI services do) tests everything: missing data is a failure there."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing_data(reason: str) -> None:
    """Skip the test, saying why; in CI fail it (CI must test everything)."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set: CI must have every data set; KERASLAB_DATA or ../shared/datasets)")
    pytest.skip(reason)


def pytest_runtest_setup(item):
    """@pytest.mark.full_data("mnist", ...): the test needs those full data sets (not shipped with keraslab), in any
    of their layouts; "mnist/idx": MNIST as its four idx files (as ../shared/datasets has it). Skipped with the
    reason where they are absent, a failure in CI."""
    marker = item.get_closest_marker("full_data")
    if marker is None:
        return

    folder = real_data_folder()
    absent = [name for name in marker.args if not _has(folder, name)]
    if not absent:
        return
    fetch = " && ".join(f"keraslab data fetch {name} --data-dir {folder}" for name in absent if "/" not in name)
    how = "; ".join(
        ([f"to run it: {fetch}"] if fetch else [])
        + (["MNIST's four idx files as ../shared/datasets has them"] if "mnist/idx" in absent else [])
    )
    missing_data(f"needs the full {' and '.join(absent)} data set, not in {folder} ({how})")


def _has(folder: Path, name: str) -> bool:
    from keraslab import datasets

    if name == "mnist/idx":
        return all((folder / f.name).is_file() for f in datasets.get_spec("mnist").alternatives[0])
    return datasets.is_available(name, folder)


@pytest.fixture(scope="session")
def shared_data(tmp_path_factory) -> Path:
    """A folder holding the course's files: the real datasets ($KERASLAB_DATA, else ../shared/datasets), or where
    those are absent (a fresh clone), the copies that ship with keraslab written out as the course has them (the
    small tables and mnist_5k; the full image sets are then absent: tests that need them are marked full_data)."""
    path = real_data_folder()
    if (path / "customer_churn.csv").is_file():
        return path
    if in_ci():
        pytest.fail(f"the shared datasets are not at {path} (CI is set: set KERASLAB_DATA to ../shared/datasets)")
    folder = shipped_as_files(tmp_path_factory.mktemp("shipped-data"))
    for entry in path.iterdir() if path.is_dir() else []:  # what was fetched there (keraslab data fetch mnist ...)
        if not (folder / entry.name).exists():
            (folder / entry.name).symlink_to(entry)
    return folder


def shipped_as_files(dest: Path) -> Path:
    """The files that ship with keraslab, decompressed where the course's file is not compressed, under the names
    the course gives them."""
    import gzip
    import shutil

    from keraslab.datasets import REGISTRY
    from keraslab.datasets.home import SHIPPED

    for spec in REGISTRY.values():
        for f in spec.files:
            if f.shipped is None:
                continue
            target = dest / f.name
            if f.shipped_compressed:
                with gzip.open(SHIPPED / f.shipped, "rb") as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
            else:
                shutil.copyfile(SHIPPED / f.shipped, target)
    return dest


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path_factory):
    """No test reads the user's real cache or a substitute list it did not set up itself."""
    monkeypatch.delenv("KERASLAB_CHECKSUMS", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path_factory.getbasetemp() / "home"))


@pytest.fixture(scope="session")
def small_data_home(tmp_path_factory, shared_data) -> tuple[Path, Path]:
    """A data home with small mnist.npz and CIFAR-10 files in the real formats plus the real shared files."""
    from keraslab.datasets.synthetic import make_small_data_home

    home = tmp_path_factory.mktemp("small-data")
    checksums = make_small_data_home(home, shared_data)
    return home, checksums


@pytest.fixture(scope="session")
def quick_run(small_data_home, tmp_path_factory):
    """`keraslab run LESSON --quick --seed 0 --offline --quiet` on the small data home (the lesson's script executed
    in this process, as the command does), once per session per (lesson, values): (run folder, summary), shared by
    the tests that only read a quick run."""
    home, checksums = small_data_home
    cache = {}

    def run(name: str, **values):
        from keraslab import lessons
        from keraslab.running import one_lesson as runner

        key = (name, tuple(sorted(values.items())))
        if key not in cache:
            lesson = lessons.get_lesson(name)
            defaults = {"seed": 0, "quick": True, "data_dir": str(home)}  # as `run all` gives them: where declared
            values = {**{k: v for k, v in defaults.items() if k in lesson.parameters}, **values}
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("KERASLAB_CHECKSUMS", str(checksums))
                out = tmp_path_factory.mktemp(name) / name
                cache[key] = tuple(runner.run_lesson(lesson, values, out=out, quiet=True, offline=True))
        return cache[key]

    return run


@pytest.fixture(scope="session")
def churn_bundle(tmp_path_factory, shared_data):
    """A bundle trained on the real churn table (5 epochs), shared by the serving tests."""
    from keraslab.bundles import TrainOptions, train_table

    out = tmp_path_factory.mktemp("bundle") / "churn"
    train_table(
        shared_data / "customer_churn.csv",
        TrainOptions(target="Churn", drop=("customerID",), epochs=5, quiet=True),
        out,
        log=lambda m: None,
    )
    return out


@pytest.fixture(scope="session")
def churn_rows(shared_data):
    import pandas as pd

    return pd.read_csv(shared_data / "customer_churn.csv").head(40)


@pytest.fixture(scope="session")
def client(churn_bundle):
    """A TestClient of the churn bundle's service."""
    from fastapi.testclient import TestClient

    from keraslab.bundles import load
    from keraslab.serving.app import create_app

    return TestClient(create_app(load(churn_bundle)))
