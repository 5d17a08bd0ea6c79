"""Reading an input file a user names (an exclusion list, a profile, a scenario, a schema, a secret file) without
trusting it: a FIFO, a device or a directory is refused at once instead of hanging or filling memory, and a file
larger than its kind needs is refused before it is read whole."""

from __future__ import annotations

import os
import stat

from ..errors import UnreadableInput

KIB, MIB = 1024, 1024 * 1024
LIMITS = {  # the largest file of each kind anyone needs, with room to spare
    "exclusion list": MIB,
    "profile": MIB,
    "scenario": 64 * MIB,
    "API schema": 64 * MIB,
    "secret file": 64 * KIB,
    "cassette": 256 * MIB,  # one answer lists every guest of a big cluster
}


def read_input(path: str | os.PathLike[str], kind: str) -> bytes:
    """The bytes of the ``kind`` file at ``path`` (a key of ``LIMITS``). ``UnreadableInput``, one line naming the file,
    when it cannot be opened, is not a regular file, or is larger than its kind allows."""
    name, limit = os.fspath(path), LIMITS[kind]
    try:
        # O_NONBLOCK: opening a FIFO nobody writes to returns at once (a plain open would wait for a writer).
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise UnreadableInput(name, None, f"cannot read: {exc.strerror or exc}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        what = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
        article = "an" if kind[0] in "aeiouAEIOU" else "a"
        raise UnreadableInput(name, None, f"cannot read: {what}, not {article} {kind} file")
    with os.fdopen(fd, "rb") as file:
        data = file.read(limit + 1)
    if len(data) > limit:
        raise UnreadableInput(name, None, f"cannot read: larger than {limit // KIB} KiB (no {kind} needs that much)")
    return data


def read_text_input(path: str | os.PathLike[str], kind: str) -> str:
    """``read_input`` as UTF-8 text; ``UnreadableInput`` naming the file and the byte where it is not UTF-8."""
    data = read_input(path, kind)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableInput(os.fspath(path), None, f"cannot read: not UTF-8 text (byte {exc.start})") from None

