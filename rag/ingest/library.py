"""The collection as files: adding documents to the corpus folder, removing indexed articles'
files, and listing what the index holds. `rag add`, `rag remove`, `rag list` and the page's
Articles panel are built on it, so a file the CLI refuses the page refuses too, for the same reason.

Every check runs before anything is written (`rag.ingest.intake.check_file`). Adding never
overwrites: a file whose name (or id: its name without the extension) is taken gets a new name,
so existing articles keep their ids.

`rag add --link` indexes files in place: the same checks, then a symlink in the corpus folder
recorded in its link registry (`rag.ingest.links`), the only links out of the folder the reader follows.
Removing a linked article removes the link and its record, never the file it leads to.
"""
from __future__ import annotations

import hashlib
import os
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rag.indexing.manifest import ArticleEntry
from rag.indexing.store import Index
from rag.ingest.corpus_files import ARTICLE_SUFFIXES, article_files, safe_name, walk
from rag.ingest.intake import Limits, check_file
from rag.ingest.links import read_links, register, unregister


@dataclass
class Added:
    """What `add_files` did: (source, copy in the corpus) per copied file, (source, link in the corpus)
    per linked one (`--link`), and (source, reason) per refused one."""

    copied: list[tuple[Path, Path]] = field(default_factory=list)
    refused: list[tuple[Path, str]] = field(default_factory=list)
    linked: list[tuple[Path, Path]] = field(default_factory=list)


@dataclass(frozen=True)
class Listed:
    """One row of `rag list`."""

    doc_id: str
    title: str
    format: str
    pages: int | None
    chunks: int
    added: str | None  # the file's modification date (a copy made by `rag add` gets the day it was added)
    size: int | None = None  # the file's bytes (None: removed since the index was built)
    linked: str | None = None  # `rag add --link`: the file indexed in place (None: a file in the corpus folder)


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


def place(source: Path, corpus_dir: Path, name: str) -> Path:
    """Copy `source` into `corpus_dir` under a free name for `name`, never overwriting; the new path.

    The copy is written as a hidden file (the corpus reader and a running app ignore those), then
    linked under its name, which fails rather than replaces if another writer took the name meanwhile.
    """
    part = corpus_dir / f".upload-{secrets.token_hex(8)}.part"
    try:
        with source.open("rb") as src, part.open("xb") as dst:
            while block := src.read(1 << 20):
                dst.write(block)
        for _ in range(100):
            dest = free_name(corpus_dir, name)
            try:
                os.link(part, dest)  # atomic, and never replaces an existing file
                return dest  # a new file, so its mtime is the day it was added
            except FileExistsError:
                continue
            except OSError:  # no hard links on this file system: an exclusive create instead
                try:
                    with part.open("rb") as src, dest.open("xb") as dst:
                        while block := src.read(1 << 20):
                            dst.write(block)
                    return dest
                except FileExistsError:
                    continue
        raise OSError(f"no free name for {name} in {corpus_dir}")
    finally:
        part.unlink(missing_ok=True)


def place_link(source: Path, corpus_dir: Path, name: str) -> Path:
    """Index `source` in place: a symlink to it in `corpus_dir` under a free name for `name`,
    recorded in the link registry; the new link. The user's file is never written or moved.

    The record is written before the link, so a running app that sees the link sees it allowed;
    a record whose link could not be made is taken back.
    """
    target = Path(source).resolve(strict=True)  # the file itself, wherever the path given went through
    for _ in range(100):
        dest = free_name(corpus_dir, name)
        register(corpus_dir, dest.name, target)
        try:
            os.symlink(target, dest)  # fails rather than replaces when the name was taken meanwhile
            return dest
        except FileExistsError:
            unregister(corpus_dir, [dest.name])
            continue
        except OSError as exc:
            unregister(corpus_dir, [dest.name])
            raise OSError(f"cannot make a link in {corpus_dir} ({exc.strerror or exc}); "
                          f"add the file without --link to copy it") from None
    raise OSError(f"no free name for {name} in {corpus_dir}")


def _contents(corpus_dir: Path) -> dict[str, str]:
    """sha256 of each file's bytes -> its name relative to the corpus folder (what duplicates are found by).

    Only files the corpus reader reads: a stray link to /dev/zero or out of the folder is not opened.
    """
    out = {}
    for f in article_files(corpus_dir):
        try:
            out.setdefault(hashlib.sha256(f.read_bytes()).hexdigest(), f.relative_to(corpus_dir).as_posix())
        except OSError:
            continue  # unreadable: the index skips it too
    return out


def add_named(files: list[tuple[Path, str]], corpus_dir: Path, limits: Limits, link: bool = False) -> Added:
    """Copy each (file, name it came with) that passes `check_file` into `corpus_dir`, under a
    free name, or with `link` link it there (`place_link`); a refused file writes nothing. The
    page's uploads and `rag add` both come here."""
    corpus_dir = Path(corpus_dir)
    corpus_dir.mkdir(parents=True, exist_ok=True)
    out = Added()
    seen = _contents(corpus_dir)
    for source, name in files:
        try:
            checked = check_file(Path(source), name, limits, seen)
        except (ValueError, OSError) as exc:
            out.refused.append((Path(source), str(exc).split("\n")[0]))
            continue
        if link:
            try:
                dest = place_link(checked.source, corpus_dir, checked.name)
            except OSError as exc:
                out.refused.append((Path(source), str(exc)))
                continue
            out.linked.append((Path(source), dest))
        else:
            dest = place(checked.source, corpus_dir, checked.name)
            out.copied.append((Path(source), dest))
        seen[checked.sha256] = dest.name
    return out


def add_files(paths: list[Path], corpus_dir: Path, limits: Limits = Limits(), link: bool = False) -> Added:
    """`rag add`: copy the usable files among `paths` (folders: the article files under them) into
    `corpus_dir`, or with `link` index them in place, each checked by `check_file` under its own name."""
    files, refused = _candidates([Path(p) for p in paths])
    out = add_named([(f, f.name) for f in files], corpus_dir, limits, link)
    out.refused[:0] = refused
    return out


def _gone_links(corpus_dir: Path) -> dict[str, Path]:
    """id -> link of each `rag add --link` link whose file is gone: no longer indexed, still removable."""
    out = {}
    for name in read_links(corpus_dir):
        link = Path(corpus_dir) / name
        if link.is_symlink() and not link.exists():
            out[link.stem] = out[name] = link
    return out


def remove_articles(index: Index, corpus_dir: Path, ids: list[str]) -> list[Path]:
    """Delete the files of the indexed articles `ids` from `corpus_dir`; returns the deleted paths.

    A linked article (`rag add --link`) loses its link and its record, never the file linked; a
    link whose file is gone (so no longer indexed) can be removed by its id too. Refuses
    (ValueError, nothing deleted) when any id is neither, or when an article's recorded path would
    lead outside the corpus folder.
    """
    root = Path(corpus_dir).resolve()
    gone = _gone_links(root)
    unknown = [i for i in ids if index.article(i) is None and i not in gone]
    if unknown:
        raise ValueError(f"not in the index: {', '.join(unknown)} (see `rag list`)")
    paths = []
    for i in dict.fromkeys(ids):
        if index.article(i) is None:
            paths.append(gone[i])
            continue
        path = Path(os.path.normpath(root / index.article(i).path))  # the link itself, not where it points
        if not path.is_relative_to(root) or path == root:
            raise ValueError(f"{i}: its file is outside the corpus folder; not deleted")
        paths.append(path)
    removed = []
    for path in paths:
        if path.exists() or path.is_symlink():
            path.unlink()  # a symlinked article: the link goes, the file it points at stays
            removed.append(path)
    # Records after links: a record without its link grants nothing, a link without its record is skipped.
    unregister(root, [p.name for p in removed if p.parent == root])
    return removed


def list_articles(index: Index, corpus_dir: Path) -> list[Listed]:
    """Every indexed article, in id order, with its format, pages, chunks, size and the date its file was added."""
    chunks = Counter(c.doc_id for c in index.chunks)
    links = read_links(corpus_dir)
    rows = []
    for doc_id in sorted(index.manifest.articles):
        entry = index.manifest.articles[doc_id]
        path = Path(corpus_dir) / entry.path
        linked = links.get(entry.path) if path.is_symlink() else None
        try:
            size = path.stat().st_size
            # A linked file's own date is the user's edit; the link's is the day `rag add --link` added it.
            added = time.strftime("%Y-%m-%d", time.localtime((path.lstat() if linked else path.stat()).st_mtime))
        except OSError:
            added, size = None, None  # removed since the index was built
        rows.append(Listed(doc_id, entry.title, article_format(entry), page_count(entry), chunks[doc_id], added,
                           size, linked))
    return rows


def article_format(entry: ArticleEntry) -> str:
    """An article's format as `rag list` and the API show it: pdf, html, docx, or its text file's extension."""
    return entry.format if entry.format != "text" else Path(entry.path).suffix.lstrip(".").lower()


def page_count(entry: ArticleEntry) -> int | None:
    """A PDF article's number of pages; None for other formats."""
    return len(entry.pages) if entry.pages else None


def format_table(rows: list[Listed]) -> str:
    """`rag list`'s table: id, title (cut to 50 characters), format, pages, chunks, added, and
    when any article is linked (`rag add --link`) a last column with the file each is read from."""
    head = ("id", "title", "format", "pages", "chunks", "added")
    cells = [head] + [
        (safe_name(r.doc_id), r.title if len(r.title) <= 50 else r.title[:49] + "…", r.format,
         str(r.pages) if r.pages else "-", str(r.chunks), r.added or "-")
        for r in rows
    ]
    if any(r.linked for r in rows):
        cells = [row + (extra,) for row, extra in zip(cells, ["linked to"] + [safe_name(r.linked or "-") for r in rows])]
        head = cells[0]
    widths = [max(len(row[i]) for row in cells) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells)
