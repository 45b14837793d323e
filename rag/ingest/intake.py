"""What a file must pass before it joins the collection, for `rag add` and the page's uploads
alike (`check_file`), cheapest first, before anything is written: a clean bare name, an article
extension, the size limit, content that is what the extension says (by its bytes), readable as an
article (which refuses zip bombs and scanned PDFs), not already in the collection."""
from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

from rag.ingest.corpus import MAX_ARTICLE_BYTES, MAX_UPLOAD_BYTES, decode, read_article
from rag.ingest.corpus_files import ARTICLE_SUFFIXES
from rag.ingest.documents import FORMATS

MAX_NAME_CHARS = 200
# First bytes of formats that are never articles, or need a closer look (zip: a DOCX or not).
_MAGIC = [(b"PK\x03\x04", "zip"), (b"PK\x05\x06", "zip"), (b"MZ", "exe"), (b"\x7fELF", "elf"),
          (b"\xcf\xfa\xed\xfe", "macho"), (b"\xfe\xed\xfa\xcf", "macho"), (b"\xca\xfe\xba\xbe", "macho")]
_KINDS = {"pdf": "a PDF", "docx": "a Word document", "zip": "a zip archive",
          "exe": "a Windows program", "elf": "a Linux program", "macho": "a macOS program",
          "text": "text", "binary": "binary data"}



@dataclass(frozen=True)
class Checked:
    """A file that passed every check: where it is, the clean name it gets, its sha256."""

    source: Path
    name: str
    sha256: str


@dataclass(frozen=True)
class Limits:
    """How large a new file may be: its text (`max_article_bytes`) and, for PDF/HTML/DOCX, the file."""

    article_bytes: int = MAX_ARTICLE_BYTES
    file_bytes: int = MAX_UPLOAD_BYTES

    @classmethod
    def of(cls, settings) -> "Limits":
        """The limits a `Settings` sets (max_article_bytes, max_upload_bytes)."""
        return cls(settings.max_article_bytes, settings.max_upload_bytes)


def clean_name(name: str) -> str:
    """The bare file name a new article is stored under; ValueError when `name` has path parts.

    A name with `/`, `\\` or `..` is refused rather than trimmed (no browser or `rag add` sends
    one, so it is a crafted request); control characters and surrounding spaces go, and leading
    dots are dropped, so a copy is never a hidden file the corpus reader ignores.
    """
    if "/" in name or "\\" in name or name.strip() in (".", ".."):
        raise ValueError("the file name has path parts (/, \\ or ..): only a bare file name is accepted")
    if not _utf8(name):
        raise ValueError("the file name is not valid UTF-8: rename the file")
    cleaned = "".join(c for c in name if c.isprintable()).strip().lstrip(".").strip()
    stem, suffix = os.path.splitext(cleaned)
    if len(cleaned) > MAX_NAME_CHARS:  # file systems allow 255 bytes; keep the extension
        cleaned = stem[: MAX_NAME_CHARS - len(suffix)] + suffix
    if not os.path.splitext(cleaned)[0]:
        raise ValueError("the file name is empty once cleaned")
    return cleaned


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
        return True
    except UnicodeEncodeError:  # undecodable bytes from the file system (surrogate escapes)
        return False


def content_kind(raw: bytes) -> str:
    """What `raw` is by its bytes, whatever its name: pdf, docx, zip, an executable, text or binary."""
    if b"%PDF-" in raw[:1024]:  # readers accept the header anywhere in the first KB
        return "pdf"
    for magic, kind in _MAGIC:
        if raw.startswith(magic):
            if kind == "zip":
                return "docx" if _zip_has(raw, "word/document.xml") else "zip"
            return kind
    try:
        decode(raw[:65536])  # the head decides: a cut multi-byte character does not fail it
    except (ValueError, UnicodeDecodeError):
        return "binary"
    return "text"


def _zip_has(raw: bytes, member: str) -> bool:
    """Whether the zip `raw` lists `member` (its directory only: nothing is unpacked)."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            return member in z.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


def check_content(raw: bytes, suffix: str) -> None:
    """ValueError unless the bytes are what the extension says: a `.pdf` must be a PDF, a `.docx`
    a zip holding word/document.xml, `.html`/`.htm`/`.txt`/`.md` text."""
    kind = content_kind(raw)
    expected = FORMATS.get(suffix.lower(), "text")
    if expected == "html":
        expected = "text"
    if kind != expected:
        raise ValueError(f"its content is {_KINDS[kind]}, not {_KINDS[expected]} as the name ending {suffix} says")


def check_file(source: Path, name: str, limits: Limits, seen: dict[str, str]) -> Checked:
    """Every check a new file must pass before anything is written, cheapest first; ValueError
    with a one-line reason. `name` is the name it came with; `seen` maps the sha256 of each file
    already in the collection to its name (duplicates are refused)."""
    name = clean_name(name)
    suffix = os.path.splitext(name)[1].lower()
    if suffix not in ARTICLE_SUFFIXES:
        raise ValueError(f"unsupported extension: {suffix or '(none)'} (allowed: {', '.join(ARTICLE_SUFFIXES)})")
    size = source.stat().st_size
    limit = limits.file_bytes if suffix in FORMATS else limits.article_bytes
    if size > limit:
        setting = "max_upload_bytes" if suffix in FORMATS else "max_article_bytes"
        raise ValueError(f"too large ({size:,} bytes; the limit is {limit:,}, setting {setting})")
    check_content(source.read_bytes(), suffix)  # whole: a zip's directory is at its end
    article = read_article(source, "", limits.article_bytes, limits.file_bytes, suffix)
    if article.sha256 in seen:
        raise ValueError(f"already in the collection as {seen[article.sha256]}")
    return Checked(source, name, article.sha256)
