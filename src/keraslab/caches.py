"""keraslab's cache folder: what a run would otherwise redo every time it starts.

    xla/       JAX's persistent compilation cache: each compiled program, keyed by JAX on the program, the
               compiler's options and versions (a second run of a lesson compiles nothing new); at most
               COMPILE_CACHE_BYTES, the least recently used programs removed first (JAX's own eviction)
    decoded/   a data set's decoded arrays (keraslab.datasets.decoded), keyed by the source file's sha256
    hashes/    each data file's sha256, keyed by the file's path, size, times and inode (keraslab.datasets.home)

The folder is $KERASLAB_CACHE, else ~/.cache/keraslab (beside the default data home, never inside a data home
given by $KERASLAB_DATA, which may be read-only). KERASLAB_CACHE=off, or `keraslab run ... --no-cache`, turns
them all off. A cache never changes a result: a compiled program read back is the program a compile would make, and
decoded arrays are checked against their sha256 before they are used. A cache that cannot be written (a read-only
home, a full disk) is skipped: the run goes on without it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

ENV_VAR = "KERASLAB_CACHE"
OFF = ("0", "off", "no", "false", "none")
COMPILE_CACHE_BYTES = 1 << 30  # 1 GiB: every lesson's programs take about 30 MB

_compile_cache: Path | bool | None = False  # False: not set up yet in this process


def cache_root() -> Path | None:
    """The cache folder, or None when caching is off."""
    env = os.environ.get(ENV_VAR, "").strip()
    if env.lower() in OFF:
        return None
    return Path(env).expanduser() if env else Path.home() / ".cache" / "keraslab"


def turn_off() -> None:
    """No caches in this process or the processes it starts (`--no-cache`)."""
    os.environ[ENV_VAR] = "off"


def writable_folder(name: str) -> Path | None:
    """cache_root()/name, created; None when caching is off or the folder cannot be made or written."""
    root = cache_root()
    if root is None:
        return None
    folder = root / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return folder if os.access(folder, os.W_OK | os.X_OK) else None


def enable_compile_cache() -> Path | None:
    """Point JAX's persistent compilation cache at cache_root()/xla (once per process, before JAX's first compile:
    through JAX's environment variables while JAX is not imported yet, which the processes a run starts inherit,
    else through jax.config). Every program is cached, however quick its compile (JAX's default keeps only those
    over a second, and most of the lessons' programs compile in less). Returns the folder, or None when off. A cache
    folder set through JAX's own configuration (JAX_COMPILATION_CACHE_DIR) is left as it is."""
    global _compile_cache
    if _compile_cache is not False:
        return _compile_cache or None
    jax = sys.modules.get("jax")
    given = os.environ.get("JAX_COMPILATION_CACHE_DIR") or (jax and jax.config.jax_compilation_cache_dir)
    if given:
        _compile_cache = Path(given)
        return _compile_cache
    folder = writable_folder("xla")
    _compile_cache = folder
    if folder is None:
        return None
    settings = {
        "jax_compilation_cache_dir": str(folder),
        # no XLA sub-cache under the folder: its path would enter every program's key, and a cache moved, copied
        # or restored elsewhere (a CI cache, another $HOME) would compile everything again
        "jax_persistent_cache_enable_xla_caches": "none",
        "jax_persistent_cache_min_compile_time_secs": 0.0,
        "jax_persistent_cache_min_entry_size_bytes": 0,
    }
    if importlib.util.find_spec("filelock") is not None:  # JAX evicts under a file lock; without one, no bound
        settings["jax_compilation_cache_max_size"] = COMPILE_CACHE_BYTES
    for name, value in settings.items():
        if jax is None:
            os.environ[name.upper()] = str(value)
        else:
            jax.config.update(name, value)
    _report_damaged_programs(folder)
    return folder


# JAX's warning for a cached program it cannot read (it compiles the program again, and never rewrites the entry)
_DAMAGED = "Error reading persistent compilation cache entry"


def _report_damaged_programs(folder: Path) -> None:
    """Instead of JAX's two-line warning per damaged program: at the first one, every damaged file is removed (so
    that the programs JAX compiles again are written afresh), and one line says so when the command ends."""
    import atexit
    import warnings

    removed: list[int] = []
    original = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if _DAMAGED not in str(message):
            original(message, category, filename, lineno, file, line)
        elif not removed:
            removed.append(remove_damaged_programs(folder))

    def report():
        if removed:
            print(
                f"keraslab: warning: compiled programs in {folder} could not be read: {removed[0]} damaged file(s) "
                "removed, their programs compiled again",
                file=sys.stderr,
            )

    warnings.showwarning = show
    atexit.register(report)


def remove_damaged_programs(folder: Path) -> int:
    """Remove the cached programs that cannot be decompressed (truncated, overwritten); returns how many."""
    decompress = _jax_decompressor()
    removed = 0
    for path in Path(folder).glob("*-cache"):
        try:
            decompress(path.read_bytes())
        except Exception:  # whatever cannot be decompressed is damage
            path.unlink(missing_ok=True)
            path.with_name(path.name.removesuffix("-cache") + "-atime").unlink(missing_ok=True)
            removed += 1
    return removed


def _jax_decompressor():
    """How JAX compresses its cache entries, chosen as JAX chooses it: Python's zstd (3.14), else the zstandard
    package, else zlib."""
    try:
        from compression import zstd

        return zstd.decompress
    except ImportError:
        pass
    try:
        import zstandard

        return zstandard.ZstdDecompressor().decompress
    except ImportError:
        import zlib

        return zlib.decompress
