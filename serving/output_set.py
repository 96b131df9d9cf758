"""Writing several files of one folder as one unit: all replaced, or none.

A batch run leaves three files (scores, alerts, metadata) that only make sense together.
Renaming them one by one is not atomic, so :func:`write_set` commits them through a
journal, under a lock on their folder:

1. every file is written to a hidden temporary file beside its target and synced;
2. the journal ``.<first>.commit`` naming each (temporary, target) pair is written
   atomically: from here on the new set *is* the committed one;
3. the temporary files are renamed onto their targets and the journal is removed.

A kill between two renames leaves the journal; whoever comes next (the next run, or a
reader through :func:`recover`) finishes the renames, so nobody ever sees a mixed set.
The next run also removes the temporary files of runs killed before they committed.
Files are created with the permissions the umask allows, like any other file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from features.io import file_mode

Writer = Callable[[Path], None]


def journal_path(first: Path) -> Path:
    """The journal of the set whose first file is ``first``."""
    return first.with_name(f".{first.name}.commit")


def _temporary(target: Path) -> Path:
    return target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (one writer at a time; waits for the other)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock, also when the process is killed


def recover(first: Path) -> None:
    """Finish a commit that was interrupted between its renames (nothing to do otherwise).

    Renames are idempotent, so a reader and the next writer may both do it.
    """
    journal = journal_path(first)
    try:
        pairs = json.loads(journal.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return
    except (ValueError, OSError):
        journal.unlink(missing_ok=True)  # a journal is written atomically: never half
        return
    for tmp, target in pairs:
        with contextlib.suppress(FileNotFoundError):
            os.replace(first.parent / tmp, first.parent / target)
    journal.unlink(missing_ok=True)


def remove_stale_temporaries(targets: Sequence[Path]) -> list[Path]:
    """Remove the temporary files that killed runs left for ``targets``; return them.

    Call it holding :func:`folder_lock`: no live writer has temporary files then.
    """
    removed = []
    for target in targets:
        for stale in target.parent.glob(f".{target.name}.*.tmp"):
            stale.unlink(missing_ok=True)
            removed.append(stale)
    return removed


def _sync(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def write_set(files: Sequence[tuple[Path, Writer]]) -> None:
    """Write ``files`` (target, ``write(tmp_path)``) of one folder as one unit.

    A failure before the commit leaves the previous files as they were and no temporary
    file; from the commit on, the new set is completed even if this process dies.
    """
    folder = files[0][0].parent
    if any(target.parent != folder for target, _ in files):
        raise ValueError("the files of one set must share a folder")
    folder.mkdir(parents=True, exist_ok=True)
    mode = file_mode()
    with folder_lock(folder):
        first = files[0][0]
        recover(first)
        remove_stale_temporaries([target for target, _ in files])
        staged: list[tuple[Path, Path]] = []
        try:
            for target, write in files:
                tmp = _temporary(target)
                staged.append((tmp, target))
                write(tmp)
                os.chmod(tmp, mode)
                _sync(tmp)
            _commit(first, staged, mode)
        except BaseException:
            if not journal_path(first).exists():
                for tmp, _ in staged:
                    tmp.unlink(missing_ok=True)
            raise
        finally:
            # Committed: finish the renames even on Ctrl-C (recover() is idempotent).
            recover(first)


def _commit(first: Path, staged: list[tuple[Path, Path]], mode: int) -> None:
    journal = journal_path(first)
    pending = journal.with_name(journal.name + f".{secrets.token_hex(4)}.tmp")
    pending.write_text(json.dumps([[t.name, f.name] for t, f in staged]), encoding="utf-8")
    os.chmod(pending, mode)
    _sync(pending)
    os.replace(pending, journal)  # the commit point
    for tmp, target in staged:
        os.replace(tmp, target)
    journal.unlink()
