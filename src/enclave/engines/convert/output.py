"""Writing a converted model so that a reader never sees half a file: a temporary file beside the target,
flushed to disk, then renamed over it."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

# Called with (bytes of tensor data written so far, bytes in all) as a conversion goes.
ConversionProgress = Callable[[int, int], None]


@contextmanager
def atomic_target(target: Path) -> Iterator[Path]:
    """A temporary path in ``target``'s folder that becomes ``target`` only when the block succeeds.

    Two processes converting at once each write their own temporary file and the last rename wins; both
    files are complete, so either is right. A failed or interrupted conversion leaves no ``target``.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    os.close(fd)
    temporary = Path(name)
    os.chmod(temporary, 0o644)  # mkstemp's 0600 would keep a model file from other users of the data folder
    try:
        yield temporary
        # The rename must not reach the disk before the data does, or a crash could leave a truncated file.
        with temporary.open("rb") as written:
            os.fsync(written.fileno())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
