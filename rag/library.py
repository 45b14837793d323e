"""The collection as files: adding documents to the corpus folder, removing indexed articles'
files, and listing what the index holds. `rag add`, `rag remove` and `rag list` are built on it.

Adding never overwrites: a file whose name (or id: its name without the extension) is taken gets
a new name, so existing articles keep their ids. Each file is read as an article before it is
copied, so a file the index would skip is refused with the same reason and nothing is written.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rag.corpus import ARTICLE_SUFFIXES, read_article, safe_name, walk
from rag.store import Index


@dataclass
class Added:
    """What `add_files` did: (source, copy in the corpus) per copied file, and (source, reason) per refused one."""

    copied: list[tuple[Path, Path]] = field(default_factory=list)
    refused: list[tuple[Path, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Listed:
    """One row of `rag list`."""

    doc_id: str
    title: str
    format: str
    pages: int | None
    chunks: int
    added: str | None  # the file's modification date (a copy made by `rag add` gets the day it was added)


def _candidates(paths: list[Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The files named by `paths` (folders: every non-hidden file under them) and the names that are not usable."""
    files: list[Path] = []
    refused: list[tuple[Path, str]] = []
    for p in paths:
        if p.is_dir():
            found, skipped = walk(p)
            files += [f for f in found if f.suffix.lower() in ARTICLE_SUFFIXES]
            refused += [(s.path, s.reason) for s in skipped]
        elif p.is_file():
            files.append(p)
        else:
            refused.append((p, "no such file or folder"))
    return files, refused


def free_name(corpus_dir: Path, name: str) -> Path:
    """A path in `corpus_dir` for `name` that overwrites nothing and takes no existing article's id.

    `report.pdf` beside `report.txt` becomes `report-2.pdf`, since both would be the article `report`.
    Leading dots are dropped, so a copy is never a hidden file the corpus reader ignores.
    """
    name = name.lstrip(".") or "document"
    stem, suffix = os.path.splitext(name)
    taken = {p.stem.lower() for p in corpus_dir.iterdir()} | {p.name.lower() for p in corpus_dir.iterdir()}
    candidate, n = name, 1
    while candidate.lower() in taken or os.path.splitext(candidate)[0].lower() in taken:
        n += 1
        candidate = f"{stem}-{n}{suffix}"
    return corpus_dir / candidate


def _contents(corpus_dir: Path) -> dict[str, str]:
    """sha256 of each file's bytes -> its name relative to the corpus folder (what duplicates are found by)."""
    files, _ = walk(corpus_dir)
    out = {}
    for f in files:
        try:
            out.setdefault(hashlib.sha256(f.read_bytes()).hexdigest(), f.relative_to(corpus_dir).as_posix())
        except OSError:
            continue  # unreadable: the index skips it too
    return out


def add_files(paths: list[Path], corpus_dir: Path, max_bytes: int) -> Added:
    """Copy the usable files among `paths` into `corpus_dir`, each under a free name.

    A file is refused, with the reason, when its extension is not an article format, when the
    index would skip it (empty, scanned PDF, zip bomb, too large...) or when the same content is
    already in the corpus folder.
    """
    corpus_dir = Path(corpus_dir)
    corpus_dir.mkdir(parents=True, exist_ok=True)
    files, refused = _candidates([Path(p) for p in paths])
    out = Added(refused=refused)
    seen = _contents(corpus_dir)
    for f in files:
        if f.suffix.lower() not in ARTICLE_SUFFIXES:
            out.refused.append((f, f"unsupported extension: {f.suffix or '(none)'}"))
            continue
        try:
            article = read_article(f, "", max_bytes)  # checked before anything is written
        except (ValueError, OSError) as exc:
            out.refused.append((f, str(exc).split("\n")[0]))
            continue
        if article.sha256 in seen:
            out.refused.append((f, f"already in the collection as {seen[article.sha256]}"))
            continue
        dest = free_name(corpus_dir, f.name)
        shutil.copyfile(f, dest)  # a new file, so its mtime is the day it was added
        seen[article.sha256] = dest.name
        out.copied.append((f, dest))
    return out


def remove_articles(index: Index, corpus_dir: Path, ids: list[str]) -> list[Path]:
    """Delete the files of the indexed articles `ids` from `corpus_dir`; returns the deleted paths.

    Refuses (ValueError, nothing deleted) when any id is not in the index, or when an article's
    recorded path would lead outside the corpus folder.
    """
    unknown = [i for i in ids if index.article(i) is None]
    if unknown:
        raise ValueError(f"not in the index: {', '.join(unknown)} (see `rag list`)")
    root = Path(corpus_dir).resolve()
    paths = []
    for i in dict.fromkeys(ids):
        path = Path(os.path.normpath(root / index.article(i).path))  # the link itself, not where it points
        if not path.is_relative_to(root) or path == root:
            raise ValueError(f"{i}: its file is outside the corpus folder; not deleted")
        paths.append(path)
    removed = []
    for path in paths:
        if path.exists() or path.is_symlink():
            path.unlink()  # a symlinked article: the link goes, the file it points at stays
            removed.append(path)
    return removed


def list_articles(index: Index, corpus_dir: Path) -> list[Listed]:
    """Every indexed article, in id order, with its format, pages, chunks and the date its file was added."""
    chunks = Counter(c.doc_id for c in index.chunks)
    rows = []
    for doc_id in sorted(index.manifest.articles):
        entry = index.manifest.articles[doc_id]
        fmt = entry.format if entry.format != "text" else Path(entry.path).suffix.lstrip(".").lower()
        try:
            added = time.strftime("%Y-%m-%d", time.localtime((Path(corpus_dir) / entry.path).stat().st_mtime))
        except OSError:
            added = None  # removed since the index was built
        rows.append(Listed(doc_id, entry.title, fmt, len(entry.pages) if entry.pages else None, chunks[doc_id], added))
    return rows


def format_table(rows: list[Listed]) -> str:
    """`rag list`'s table: id, title (cut to 50 characters), format, pages, chunks, added."""
    head = ("id", "title", "format", "pages", "chunks", "added")
    cells = [head] + [
        (safe_name(r.doc_id), r.title if len(r.title) <= 50 else r.title[:49] + "…", r.format,
         str(r.pages) if r.pages else "-", str(r.chunks), r.added or "-")
        for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells)
