"""onnxruntime sessions for the query path: the question encoder and both readers run through here.

onnxruntime is imported when a session is made, not when this module is, so importing it costs
nothing and pulls in neither torch nor transformers.
"""
from __future__ import annotations

from pathlib import Path


def session_options(threads: int):
    """onnxruntime options for a 2-core machine shared with other requests and processes."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Idle threads sleep instead of spinning: with several processes on two cores, spin-waiting
    # made each embedding ~10x slower (the OpenMP trap measured in the speed issue).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def cpu_session(path: Path | str, threads: int):
    """An onnxruntime inference session over the model at `path`, on the CPU with `threads` threads."""
    import onnxruntime as ort

    return ort.InferenceSession(str(path), session_options(threads), providers=["CPUExecutionProvider"])
