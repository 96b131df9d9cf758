"""Very large demo sets, written in chunks of accounts with bounded memory.

Each chunk is an independent draw of :func:`features.demo_data.generate_demo_data` (its own
seed, derived from the set's seed and the chunk's number), its ids prefixed with the chunk
(``c0003-A001234``) so they stay unique, written as one Parquet part per table:
``<out>/<table>.parquet/part-00003.parquet``. A folder of parts is read as one table by
pandas (:func:`features.io.load_tables`) and by Spark, so 1M accounts x 18 months (about
100M sessions) can be generated on a laptop, one chunk in memory at a time.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from features.contract import ID_COLUMNS
from features.demo_data import generate_demo_data
from features.io import write_frame

#: Accounts per chunk: about 1 GB of memory with 18 months of history.
DEFAULT_CHUNK = 50_000


def chunk_seed(seed: int, chunk: int) -> int:
    """The seed of one chunk: independent draws, the same for the same set seed.

    Examples
    --------
    >>> chunk_seed(7, 0) == chunk_seed(7, 0) != chunk_seed(7, 1)
    True
    """
    return int(np.random.SeedSequence([seed, chunk]).generate_state(1)[0])


def write_demo_chunks(
    out: str | os.PathLike, *, accounts: int, chunk: int = DEFAULT_CHUNK, months: int = 18,
    seed: int = 7, start: str = "2025-01-01",
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Path]:
    """Write ``accounts`` demo accounts in chunks of ``chunk`` as partitioned Parquet.

    Parameters
    ----------
    out : path
        Folder to write into; a table folder already there is replaced.
    accounts, chunk : int
        Accounts in all, and per chunk (at least 1 each).
    months, seed, start
        As :func:`features.demo_data.generate_demo_data`.
    progress : callable, optional
        Called as ``progress(chunks_done, chunks)`` after each chunk.

    Returns
    -------
    dict of str to Path
        The folder of parts of each table.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     paths = write_demo_chunks(folder, accounts=30, chunk=20, months=2)
    ...     parts = sorted(p.name for p in paths["accounts"].iterdir())
    ...     ids = pd.read_parquet(paths["accounts"])["account_id"]
    >>> parts, len(ids), ids.is_unique, ids.iloc[-1]
    (['part-00000.parquet', 'part-00001.parquet'], 30, True, 'c0001-A000010')
    """
    if int(accounts) < 1 or int(chunk) < 1:
        raise ValueError(f"accounts and chunk must be at least 1, got {accounts} and {chunk}")
    out = Path(out)
    chunks = -(-int(accounts) // int(chunk))
    paths: dict[str, Path] = {}
    for number in range(chunks):
        size = min(int(chunk), int(accounts) - number * int(chunk))
        tables = generate_demo_data(accounts=size, months=months,
                                    seed=chunk_seed(seed, number), start=start)
        for name, frame in tables.items():
            folder = out / f"{name}.parquet"
            if number == 0 and folder.exists():
                shutil.rmtree(folder) if folder.is_dir() else folder.unlink()
            folder.mkdir(parents=True, exist_ok=True)
            prefix = f"c{number:04d}-"
            frame = frame.assign(**{c: prefix + frame[c].astype(str) for c in ID_COLUMNS[name]
                                    if c in frame and frame[c].notna().all()})
            write_frame(frame, folder / f"part-{number:05d}.parquet", "parquet")
            paths[name] = folder
        del tables
        if progress is not None:
            progress(number + 1, chunks)
    return paths
