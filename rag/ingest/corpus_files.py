"""Which files of a corpus folder may be articles, and their ids: walking the folder (never
through symlinked folders), the reasons an entry is skipped before it is read, links that
`rag add --link` made (the only links out of the folder that are followed), unique ids."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rag.ingest.documents import FORMATS
from rag.ingest.links import allowed as links_allowed, read_links

TEXT_SUFFIXES = (".txt", ".md")
# Documents are turned into text by rag.ingest.documents; that text is what is indexed and cited.
ARTICLE_SUFFIXES = TEXT_SUFFIXES + tuple(FORMATS)


@dataclass(frozen=True)
class Skipped:
    """A file that was not indexed, and why."""

    path: Path
    reason: str

    @property
    def name(self) -> str:
        """The file name, printable even when it is not valid UTF-8."""
        return safe_name(self.path.name)


def safe_name(path: Path | str) -> str:
    """A path for messages and the manifest: bytes that are not UTF-8 shown as \\xNN escapes."""
    return os.fsencode(str(path)).decode("utf-8", "backslashreplace")


def _valid_name(rel: str) -> bool:
    """Whether a relative path is valid UTF-8 (the index stores ids and paths as UTF-8 JSON)."""
    try:
        rel.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def doc_id_for(path: Path, root: Path) -> str:
    """An article's id: its path under the corpus folder, without the extension."""
    rel = path.relative_to(root)
    return rel.with_suffix("").as_posix()


def assign_ids(paths: list[Path], root: Path) -> dict[Path, str]:
    """Unique, deterministic ids: the path without its extension, or with it when that would collide.

    `report.txt` alone keeps the id `report`; beside `report.md` the two become `report.txt` and
    `report.md`. Repeats until no two files share an id (`a.txt.md` vs a disambiguated `a.txt`).
    """
    full = {p: p.relative_to(root).as_posix() for p in paths}
    ids = {p: doc_id_for(p, root) for p in paths}
    while True:
        owners: dict[str, list[Path]] = {}
        for p, i in ids.items():
            owners.setdefault(i, []).append(p)
        clashing = [p for group in owners.values() if len(group) > 1 for p in group if ids[p] != full[p]]
        if not clashing:
            return ids
        for p in clashing:
            ids[p] = full[p]


def walk(root: Path) -> tuple[list[Path], list[Skipped]]:
    """Every non-hidden file under `root` (sorted), and the entries that could not be looked at.

    Never follows a symlinked folder (no loops through /proc), and an unreadable folder, an entry
    that cannot be stat'ed or a name that is not UTF-8 becomes a skip reason instead of an error.
    """
    files: list[Path] = []
    skipped: list[Skipped] = []

    def unreadable(exc: OSError) -> None:
        where = Path(exc.filename) if exc.filename else root
        skipped.append(Skipped(where, f"unreadable folder: {exc.strerror or exc}"))

    for folder, dirnames, filenames in os.walk(root, onerror=unreadable, followlinks=False):
        here = Path(folder)
        keep = []
        for d in sorted(dirnames):
            path = here / d
            if d.startswith("."):
                continue
            if not _valid_name(d):
                skipped.append(Skipped(path, "folder name is not valid UTF-8: not read"))
            elif path.is_symlink():
                skipped.append(Skipped(path, "symlinked folder: not followed"))
            else:
                keep.append(d)
        dirnames[:] = keep
        for name in filenames:
            if not name.startswith("."):
                files.append(here / name)
    return sorted(files), skipped


def entry_problem(path: Path, real_root: Path, links: dict[str, str]) -> str | None:
    """Why a file cannot be an article before it is read (name, link, extension), or None.

    A symlink leading outside the corpus folder is followed only when `rag add --link` made it
    (`links`, see rag.ingest.links); any other is skipped, so nobody can make the index read elsewhere.
    """
    if not _valid_name(path.name):
        return "file name is not valid UTF-8: rename the file to index it"
    try:
        if path.is_symlink() and not path.resolve(strict=True).is_relative_to(real_root):
            if not links_allowed(path, real_root, links):
                return _outside_reason(path, links)
        if not path.is_file():
            return "not a regular file"
    except (OSError, RuntimeError) as exc:  # unreadable target, dangling link, link loop
        return f"cannot be read: {getattr(exc, 'strerror', None) or exc}"
    if path.suffix.lower() not in ARTICLE_SUFFIXES:
        return f"unsupported extension: {path.suffix or '(none)'}"
    return None


def _outside_reason(path: Path, links: dict[str, str]) -> str:
    """Why a symlink leading outside is skipped: nobody linked it, or it no longer leads to the linked file."""
    if path.name in links:
        return (f"linked file changed place: the link no longer leads to {links[path.name]}: not followed "
                f"(`rag remove` it, then `rag add --link` the file again)")
    return "symlink outside the corpus folder: not followed"


def linked_gone(path: Path, links: dict[str, str]) -> str | None:
    """The reason for a link `rag add --link` made whose file is gone (deleted or moved), else None."""
    if path.name in links and path.is_symlink() and not path.exists():
        return f"linked file is gone: {links[path.name]} (`rag remove` its id to drop the link)"
    return None


def article_files(corpus_dir: Path) -> list[Path]:
    """The files under `corpus_dir` the corpus reader would read (links out only when `rag add --link` made them)."""
    root = Path(corpus_dir)
    real_root, links = root.resolve(), read_links(root)
    return [p for p in walk(root)[0] if entry_problem(p, real_root, links) is None]
