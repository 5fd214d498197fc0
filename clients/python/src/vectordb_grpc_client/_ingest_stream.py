"""The machinery of ``Client.ingest_stream``: a resumable bulk load over ``PointService.IngestStream``.

grpcio reads the request iterator of a streaming call on a thread of its own, while the caller's
thread reads the responses. The two share one ``LoadState`` (under its lock): the request side waits
there for the server's first answer (where to resume) before it reads any batch, and records each batch
it sends; the response side settles the batches as they become durable. A ``StallWatchdog`` thread
cancels the call when no acknowledgement arrives for the stall timeout while one is due.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Callable, Deque, Iterable, Iterator, Optional, Tuple

from . import _convert
from .vectordb.v1 import point_service_pb2


class LoadState:
    """What both threads of one stream know; every field is read and written under ``_lock``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._opened = threading.Event()
        self._resumed_after: Optional[int] = None
        self._closed = False
        # (batch_seq, points) of the batches sent and not yet acknowledged, oldest first.
        self._sent: Deque[Tuple[int, int]] = deque()
        self._skipped_points = 0
        self._batches_sent = 0

    def open(self, durable: int) -> None:
        """The server's first answer arrived: the load resumes after batch ``durable``."""
        with self._lock:
            self._resumed_after = durable
        self._opened.set()

    def close(self) -> None:
        """The call is over: a request side still waiting for the first answer gives up."""
        with self._lock:
            self._closed = True
        self._opened.set()

    def wait_opened(self) -> Optional[int]:
        """Blocks until the first answer or the end of the call; the batch to resume after, or None."""
        self._opened.wait()
        with self._lock:
            return None if self._closed else self._resumed_after

    @property
    def closed(self) -> bool:
        with self._lock:
            return self._closed

    def skipped(self, points: int) -> None:
        with self._lock:
            self._skipped_points += points

    def sending(self, batch_seq: int, points: int) -> bool:
        """Records a batch about to be sent; True when it is the only one waiting for its acknowledgement."""
        with self._lock:
            self._sent.append((batch_seq, points))
            self._batches_sent += 1
            return len(self._sent) == 1

    def acknowledge(self, durable: int) -> Tuple[int, bool]:
        """Settles the batches up to ``durable``; returns their points and whether others still wait."""
        points = 0
        with self._lock:
            while self._sent and self._sent[0][0] <= durable:
                points += self._sent.popleft()[1]
            return points, len(self._sent) > 0

    def totals(self) -> Tuple[Optional[int], int, int]:
        """(resumed_after, skipped_points, batches_sent)."""
        with self._lock:
            return self._resumed_after, self._skipped_points, self._batches_sent


class StallWatchdog:
    """Calls ``on_stall`` once when ``timeout`` seconds pass with an acknowledgement due and none coming.

    One daemon thread per stream waits on a condition for the current deadline; ``reset(due)`` moves
    the deadline (``due``: an acknowledgement is awaited) or clears it. ``timeout=None`` disables it.
    """

    def __init__(self, timeout: Optional[float], on_stall: Callable[[], Any]) -> None:
        self._timeout = timeout
        self._on_stall = on_stall
        self._condition = threading.Condition()
        self._deadline: Optional[float] = None
        self._stopped = False
        self.stalled = False
        self._thread: Optional[threading.Thread] = None
        if timeout is not None:
            self._thread = threading.Thread(target=self._run, name="vectordb-ingest-stall-watchdog", daemon=True)
            self._thread.start()

    def reset(self, due: bool) -> None:
        if self._timeout is None:
            return
        with self._condition:
            self._deadline = time.monotonic() + self._timeout if due else None
            self._condition.notify()

    def stop(self) -> None:
        with self._condition:
            self._stopped = True
            self._condition.notify()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        with self._condition:
            while not self._stopped:
                if self._deadline is None:
                    self._condition.wait()
                    continue
                remaining = self._deadline - time.monotonic()
                if remaining > 0:
                    self._condition.wait(remaining)
                    continue
                self.stalled = True
                break
        if self.stalled:
            self._on_stall()


def requests(
    collection: str,
    ingest_id: str,
    items: Iterable[Any],
    batch_size: int,
    state: LoadState,
    watchdog: StallWatchdog,
) -> Iterator[point_service_pb2.IngestStreamRequest]:
    """The request stream: the opening message, then (once the server said where the load stands) the
    batches of ``items`` numbered 1, 2, 3, …, those up to the durable one read but not sent."""
    yield point_service_pb2.IngestStreamRequest(collection=collection, ingest_id=ingest_id)
    resumed_after = state.wait_opened()
    if resumed_after is None:
        return
    batch_seq = 0
    for batch in _convert.ingest_batches(items, batch_size):
        batch_seq += 1
        if batch_seq <= resumed_after:
            state.skipped(len(batch))
            continue
        if state.closed:
            return
        if state.sending(batch_seq, len(batch)):
            watchdog.reset(True)
        yield point_service_pb2.IngestStreamRequest(batch_seq=batch_seq, points=batch)
