"""Extractive, cited question answering over a folder of articles."""
import os

# Nothing may phone home: set before any Hugging Face or Gradio import reads them.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

__version__ = "0.1.0"

# The public API, imported on first use so `import rag` stays light.
_API = {
    "Assistant": "rag.assistant",
    "Answer": "rag.answer.records",
    "Citation": "rag.answer.records",
    "ShortAnswer": "rag.answer.records",
    "QuestionError": "rag.answer.records",
    "RagError": "rag.errors",
    "Settings": "rag.settings",
    "from_env": "rag.settings",
    "build": "rag.indexing.build",
    "load_index": "rag.indexing.store",
}
__all__ = list(_API)


def __getattr__(name: str):
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
