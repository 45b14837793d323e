"""Reading articles from a corpus folder: decoding, title, boilerplate, and what gets skipped."""
from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from rag.ingest.corpus_files import Skipped, assign_ids, entry_problem, linked_gone, walk
from rag.ingest.documents import FORMATS, extract
from rag.ingest.links import read_links

# Embedding costs ~5 minutes per 2 MB of text on 2 cores; bigger files are skipped with a reason.
MAX_ARTICLE_BYTES = 2_000_000
# PDF, HTML and DOCX files may be larger than their text (pictures, markup): up to this, as files.
MAX_UPLOAD_BYTES = 50_000_000

# Site furniture that trails some articles; never article text.
_BOILERPLATE = [
    re.compile(r"^Main areas of activities\s*$"),
    re.compile(r"^Leave a Reply\s*$"),
    re.compile(r"^Your email address will not be published\..*$"),
    re.compile(r"^Required fields are marked \*\s*$"),
]
_LAST_UPDATED = re.compile(r"^Last updated:\s*(?P<date>.+?)\s*$")


@dataclass(frozen=True)
class Article:
    """One article. Offsets index `text`, the whole decoded file."""

    doc_id: str
    title: str
    text: str
    path: Path
    title_start: int
    title_end: int
    body_start: int
    body_end: int
    date: str | None
    sha256: str
    encoding: str
    format: str = "text"  # "text" (.txt/.md) or the document format it was extracted from
    pages: tuple[int, ...] | None = None  # PDFs: where each page starts in `text`

    @property
    def body(self) -> str:
        return self.text[self.body_start : self.body_end]


@dataclass(frozen=True)
class Corpus:
    articles: list[Article]
    skipped: list[Skipped]
    notes: list[str]

    def summary(self) -> str:
        """One line: how many articles were read and skipped, and why."""
        line = f"{len(self.articles)} article(s) indexed, {len(self.skipped)} skipped"
        if self.skipped:
            reasons: dict[str, int] = {}
            for s in self.skipped:
                key = s.reason.split(":")[0]
                reasons[key] = reasons.get(key, 0) + 1
            line += " (" + ", ".join(f"{n} {r}" for r, n in sorted(reasons.items())) + ")"
        return line


def decode(raw: bytes) -> tuple[str, str]:
    """Decode article bytes; returns (text, encoding). Raises ValueError for binary data."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16"), "utf-16"
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw.decode("utf-8-sig"), "utf-8-sig"
    if b"\x00" in raw[:8192]:
        raise ValueError("binary file (NUL bytes)")
    try:
        text, encoding = raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = raw.decode("cp1252", errors="replace"), "cp1252"
    sample = text[:8192]
    control = sum(1 for c in sample if ord(c) < 32 and c not in "\n\r\t\f")
    if sample and control / len(sample) > 0.01:
        raise ValueError("binary file (control bytes)")
    return text, encoding


def parse(text: str) -> tuple[tuple[int, int], tuple[int, int], str | None]:
    """Find the title span, the body span (boilerplate cut off) and the 'Last updated' date."""
    lines = [(m.start(), m.end()) for m in re.finditer(r"[^\n]*", text) if m.group().strip()]
    if not lines:
        raise ValueError("empty file")
    t0, t1 = lines[0]
    title = (t0 + _lstrip_len(text[t0:t1]), t0 + len(text[t0:t1].rstrip()))
    body_lines = lines[1:]
    date = None
    while body_lines:
        s, e = body_lines[-1]
        line = text[s:e].strip()
        m = _LAST_UPDATED.match(line)
        if m:
            date = date or m.group("date")
        elif not any(p.match(line) for p in _BOILERPLATE):
            break
        body_lines.pop()
    if not body_lines:
        raise ValueError("title only, no body text")
    b0, b1 = body_lines[0][0], body_lines[-1][1]
    b0 += _lstrip_len(text[b0:b1])
    b1 = b0 + len(text[b0:b1].rstrip())
    return title, (b0, b1), date


def _lstrip_len(s: str) -> int:
    return len(s) - len(s.lstrip())


def read_article(path: Path, doc_id: str, max_bytes: int = MAX_ARTICLE_BYTES, max_file_bytes: int | None = None,
                 suffix: str | None = None) -> Article:
    """Read one article file. Raises ValueError with a one-line reason when it cannot be used.

    `max_bytes` limits the text; a PDF, HTML or DOCX file itself may be up to `max_file_bytes`
    (default: `max_bytes` too). `suffix` names the format when the file is stored under another
    name than the one it will have (an upload), else the path's own suffix does.
    """
    suffix = (suffix if suffix is not None else path.suffix).lower()
    limit, setting = max_bytes, "max_article_bytes"
    if suffix in FORMATS and max_file_bytes is not None:
        limit, setting = max_file_bytes, "max_upload_bytes"
    size = path.stat().st_size
    if size > limit:
        raise ValueError(f"too large ({size:,} bytes; the limit is {limit:,}, setting {setting})")
    raw = path.read_bytes()
    if not raw.strip():
        raise ValueError("empty file")
    fmt, pages = "text", None
    if suffix in FORMATS:
        doc = extract(raw, suffix)
        text, encoding, fmt = doc.text, "utf-8", doc.format
        pages = tuple(doc.pages) if doc.pages is not None else None
        # The limit is about embedding cost, so it also holds for the text a small file unpacks to.
        if len(text.encode("utf-8")) > max_bytes:
            raise ValueError(f"too large (its text is over {max_bytes:,} bytes, setting max_article_bytes)")
    else:
        text, encoding = decode(raw)
    (t0, t1), (b0, b1), date = parse(text)
    return Article(
        doc_id=doc_id,
        title=text[t0:t1],
        text=text,
        path=path,
        title_start=t0,
        title_end=t1,
        body_start=b0,
        body_end=b1,
        date=date,
        sha256=hashlib.sha256(raw).hexdigest(),
        encoding=encoding,
        format=fmt,
        pages=pages,
    )


def load_corpus(corpus_dir: Path, max_bytes: int = MAX_ARTICLE_BYTES, max_file_bytes: int | None = None) -> Corpus:
    """Read every article under `corpus_dir`; files that cannot be used are listed with a reason.

    `max_bytes` limits each article's text, `max_file_bytes` a PDF/HTML/DOCX file (see read_article)."""
    root = Path(corpus_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"corpus folder not found: {root}")
    real_root = root.resolve()
    links = read_links(root)
    paths, skipped = walk(root)
    notes: list[str] = []
    read: list[Article] = []
    first_with: dict[str, Path] = {}
    duplicates: list[tuple[Path, Path]] = []
    for path in paths:
        reason = linked_gone(path, links) or entry_problem(path, real_root, links)
        if reason:
            skipped.append(Skipped(path, reason))
            continue
        try:
            article = read_article(path, "", max_bytes, max_file_bytes)
        except (ValueError, OSError) as exc:
            skipped.append(Skipped(path, str(exc).split("\n")[0]))
            continue
        if article.sha256 in first_with:
            duplicates.append((path, first_with[article.sha256]))
            continue
        first_with[article.sha256] = path
        read.append(article)
    ids = assign_ids([a.path for a in read], root)
    articles = [dataclasses.replace(a, doc_id=ids[a.path]) for a in read]
    for path, original in duplicates:
        skipped.append(Skipped(path, f"duplicate: same content as {ids[original]}"))
    for a in articles:
        if a.encoding not in ("utf-8", "utf-8-sig"):
            notes.append(f"{a.path.name}: read as {a.encoding}")
    return Corpus(articles, skipped, notes)


def source_text(corpus_dir: Path, relpath: str) -> str:
    """The decoded text of an article file, which must lie inside `corpus_dir` (no `..`, no links out)."""
    root = Path(corpus_dir).resolve()
    path = (root / relpath).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise ValueError(f"not an article of this corpus: {relpath}")
    if path.suffix.lower() in FORMATS:
        return extract(path.read_bytes(), path.suffix).text
    return decode(path.read_bytes())[0]
