"""The runner's events as Textual messages: an EventSink that never floods the screen.

Why batches: the runner calls the sink from its threads, sometimes thousands of output
lines a second (docker pulls, install.sh). Posting one message per event would queue
faster than the screen paints. Here at most one batch is in flight: events arriving
meanwhile join the next batch, which is posted when the screen has drawn the previous one,
so the screen is as up to date as it can draw and never behind by more than one batch.
"""

from __future__ import annotations

import threading

from textual.message import Message
from textual.message_pump import MessagePump

from harbor_wizard.events import Event


class RunEvents(Message):
    """A batch of runner events, in the order the runner emitted them."""

    def __init__(self, events: list[Event], sink: TuiSink) -> None:
        super().__init__()
        self.events = events
        self.sink = sink


class TuiSink:
    """Thread-safe: call it from any thread; the target receives ``RunEvents`` messages.

    The target calls ``drained()`` once it has handled a batch.
    """

    def __init__(self, target: MessagePump) -> None:
        self._target = target
        self._lock = threading.Lock()
        self._pending: list[Event] = []
        self._in_flight = False

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._pending.append(event)
            if self._in_flight:
                return
            self._in_flight = True
            batch, self._pending = self._pending, []
        self._target.post_message(RunEvents(batch, self))

    def drained(self) -> None:
        with self._lock:
            if not self._pending:
                self._in_flight = False
                return
            batch, self._pending = self._pending, []
        self._target.post_message(RunEvents(batch, self))
