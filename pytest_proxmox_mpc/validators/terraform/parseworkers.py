"""python-hcl2 across the machine's cores: many ``.tf`` texts parsed by worker processes, one a core.

python-hcl2 is pure Python (lark), a few milliseconds a file: a 10,000-guest workspace is a minute of one core.
The workers are this file run by the same interpreter (as ``__main__``, by path: no package is imported but
python-hcl2, and this folder's modules shadow nothing), fed a pickled list of texts on stdin, answering a pickled
list of ``(True, parse)`` or ``(False, first line of the error)`` on stdout; they are not ``multiprocessing``'s,
whose start methods re-run the caller's main module (a user's script) or fork a process that may hold threads. The
texts are shared out largest first to the worker with the least so far. A worker that fails has its texts parsed
here.
"""

from __future__ import annotations

import atexit
import gc
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

MIN_TEXTS = 200  # fewer are parsed in the caller's process: starting a worker costs about what 50 parses do
TEXTS_A_WORKER = 100  # no worker for fewer than this many texts
Answer = tuple[bool, Any]  # (True, the parse) or (False, the first line of python-hcl2's error)
WORKER = ["-c", f"import runpy; runpy.run_path({__file__!r}, run_name='__main__')"]  # a worker's arguments


def cores() -> int:
    """The cores this process may run on."""
    getter = getattr(os, "sched_getaffinity", None)
    return len(getter(0)) if getter is not None else os.cpu_count() or 1


def worth_workers(texts: Sequence[str]) -> bool:
    return len(texts) >= MIN_TEXTS and cores() > 1


def parse(text: str) -> dict[str, Any]:
    """python-hcl2's parse of ``text`` as the Terraform checks read it (quotes stripped, blocks marked)."""
    import hcl2
    from hcl2.utils import SerializationOptions

    options = SerializationOptions(strip_string_quotes=True, with_comments=False, explicit_blocks=True)
    return dict(hcl2.loads(text, serialization_options=options))


def _answer(text: str) -> Answer:
    try:
        return True, parse(text)
    except Exception as exc:  # lark's errors share no base class worth naming
        return False, (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def shares(texts: Sequence[str], workers: int) -> list[list[int]]:
    """The indexes of ``texts`` for each worker: largest first, each to the one with the least text so far."""
    loads = [0] * workers
    out: list[list[int]] = [[] for _ in range(workers)]
    for index in sorted(range(len(texts)), key=lambda i: -len(texts[i])):
        least = loads.index(min(loads))
        out[least].append(index)
        loads[least] += len(texts[index])
    return out


def parse_in_workers(texts: Sequence[str]) -> list[Answer]:
    """The answer for each of ``texts``, in order, from one worker process a core."""
    workers = max(1, min(cores(), len(texts) // TEXTS_A_WORKER))
    parts = [part for part in shares(texts, workers) if part]
    answers: list[Answer | None] = [None] * len(texts)

    def run(part: list[int]) -> None:
        got: list[Answer] | None = None
        try:
            worker = subprocess.Popen([sys.executable, *WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL)
            with _guard:
                _running.add(worker)
            try:
                out, _ = worker.communicate(pickle.dumps([texts[i] for i in part]))
            finally:
                with _guard:
                    _running.discard(worker)
            if worker.returncode == 0:
                got = pickle.loads(out)
        except (OSError, pickle.UnpicklingError, EOFError):
            got = None
        if got is None or len(got) != len(part):  # the worker failed: its texts are parsed here
            got = [_answer(texts[i]) for i in part]
        for index, answer in zip(part, got, strict=True):
            answers[index] = answer

    with ThreadPoolExecutor(len(parts)) as pool:
        list(pool.map(run, parts))
    return [answer for answer in answers if answer is not None]


_running: set[subprocess.Popen[bytes]] = set()
_guard = threading.Lock()


@atexit.register
def _stop_all() -> None:  # a run that ends while parses run in the background leaves no worker behind
    with _guard:
        for worker in list(_running):
            worker.kill()


def serve() -> None:
    """A worker: a pickled list of texts on stdin, their answers pickled on stdout."""
    texts = pickle.load(sys.stdin.buffer)
    gc.set_threshold(20_000, 50, 50)  # lark leaves cycles behind, but full collections over the parses kept are waste
    pickle.dump([_answer(text) for text in texts], sys.stdout.buffer, protocol=pickle.HIGHEST_PROTOCOL)
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    serve()
