"""Reading articles from a corpus folder: decoding, title, boilerplate, and what gets skipped."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

ARTICLE_SUFFIXES = (".txt", ".md")
# Embedding costs ~5 minutes per 2 MB of text on 2 cores; bigger files are skipped with a reason.
MAX_ARTICLE_BYTES = 2_000_000

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

    @property
    def body(self) -> str:
        return self.text[self.body_start : self.body_end]


@dataclass(frozen=True)
class Skipped:
    """A file that was not indexed, and why."""

    path: Path
    reason: str


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


def read_article(path: Path, doc_id: str, max_bytes: int = MAX_ARTICLE_BYTES) -> Article:
    """Read one article file. Raises ValueError with a one-line reason when it cannot be used."""
    size = path.stat().st_size
    if size > max_bytes:
        raise ValueError(f"too large ({size:,} bytes; the limit is {max_bytes:,}, setting max_article_bytes)")
    raw = path.read_bytes()
    if not raw.strip():
        raise ValueError("empty file")
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
    )


def doc_id_for(path: Path, root: Path) -> str:
    """An article's id: its path under the corpus folder, without the extension."""
    rel = path.relative_to(root)
    return rel.with_suffix("").as_posix()


def load_corpus(corpus_dir: Path, max_bytes: int = MAX_ARTICLE_BYTES) -> Corpus:
    """Read every article under `corpus_dir`; files that cannot be used are listed with a reason."""
    root = Path(corpus_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"corpus folder not found: {root}")
    real_root = root.resolve()
    articles: list[Article] = []
    skipped: list[Skipped] = []
    notes: list[str] = []
    seen: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if path.is_dir() or any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        if path.is_symlink() and not path.resolve().is_relative_to(real_root):
            skipped.append(Skipped(path, "symlink outside the corpus folder: not followed"))
            continue
        if path.suffix.lower() not in ARTICLE_SUFFIXES:
            skipped.append(Skipped(path, f"unsupported extension: {path.suffix or '(none)'}"))
            continue
        doc_id = doc_id_for(path, root)
        try:
            article = read_article(path, doc_id, max_bytes)
        except (ValueError, OSError) as exc:
            skipped.append(Skipped(path, str(exc).split("\n")[0]))
            continue
        if article.sha256 in seen:
            skipped.append(Skipped(path, f"duplicate: same content as {seen[article.sha256]}"))
            continue
        seen[article.sha256] = doc_id
        if article.encoding not in ("utf-8", "utf-8-sig"):
            notes.append(f"{path.name}: read as {article.encoding}")
        articles.append(article)
    return Corpus(articles, skipped, notes)


def source_text(corpus_dir: Path, relpath: str) -> str:
    """The decoded text of an article file, which must lie inside `corpus_dir` (no `..`, no links out)."""
    root = Path(corpus_dir).resolve()
    path = (root / relpath).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise ValueError(f"not an article of this corpus: {relpath}")
    return decode(path.read_bytes())[0]
