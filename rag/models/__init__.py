"""The shipped model files (this folder) and how they are stored: xz-compressed (the int8 reader weights shrink by a tenth,
LightGBM's text by two thirds), so both readers and the ranker fit the package's 10 MiB budget.
A file not ending in ".xz" is read as it is (weights passed to `rag train --reader` from older runs)."""
from __future__ import annotations

import lzma
import os
from pathlib import Path

# The folder the fitted models ship in (`rag train --output` by default).
MODELS = Path(__file__).resolve().parent
SUFFIX = ".xz"


def read_model_bytes(path: Path) -> bytes:
    """The content of a model file, decompressed when it is xz."""
    data = Path(path).read_bytes()
    return lzma.decompress(data) if Path(path).name.endswith(SUFFIX) else data


def write_model_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` (compressed when the name ends in ".xz"), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(lzma.compress(data, preset=9) if path.name.endswith(SUFFIX) else data)
    os.replace(tmp, path)


def write_booster(booster, path: Path) -> str:
    """Write a fitted LightGBM booster as its text at `path` (atomically, as `write_model_bytes`);
    returns the file's sha256, which the selector's config records."""
    from rag.embedding.model import sha256_file

    write_model_bytes(path, booster.model_to_string().encode("utf-8"))
    return sha256_file(path)


def copy_model(source: Path, target: Path) -> None:
    """`source`'s content written as `target` (compressing or decompressing as their names say)."""
    if Path(source).resolve() != Path(target).resolve():
        write_model_bytes(target, read_model_bytes(source))
