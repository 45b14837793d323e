"""The `rag` logger: where progress and warnings go is the caller's choice, not the library's.

Library code (index building, the live rebuilds) logs to `logging.getLogger("rag...")`; a program
using `rag` sees nothing but warnings unless it configures logging. The command line and the page
call `show_messages`, which prints each message bare, as `print` would, to the stream they have
always used (stderr for the CLI, so stdout stays clean for `--json`; stdout for the page).
"""
from __future__ import annotations

import logging
import sys

logger = logging.getLogger("rag")


class _Print(logging.Handler):
    """Prints each record's message and a newline to sys.<stream> as it is at that moment.

    The stream is looked up per message, not held, so a replaced sys.stderr (pytest's capture, a
    redirect) is honoured; a failed write raises like `print` did instead of being swallowed.
    """

    def __init__(self, stream: str):
        super().__init__(logging.INFO)
        self.stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        print(record.getMessage(), file=getattr(sys, self.stream))


def show_messages(stream: str = "stderr") -> None:
    """Print the `rag` logger's messages (INFO and up) to sys.stdout or sys.stderr; calling again re-targets."""
    if stream not in ("stdout", "stderr"):
        raise ValueError(f"stream must be 'stdout' or 'stderr', not {stream!r}")
    for handler in [h for h in logger.handlers if isinstance(h, _Print)]:
        logger.removeHandler(handler)
    logger.addHandler(_Print(stream))
    logger.setLevel(logging.INFO)
