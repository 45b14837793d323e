"""Articles indexed in place (`rag add --link`): the allow-list of links that may lead outside the corpus.

The corpus reader refuses symlinks that lead outside the corpus folder, so a link dropped there by
someone else can never make the index read `/etc/passwd` or another user's files. `rag add --link`
puts a symlink in the corpus folder *and* records it in `.links.json` (a hidden file, so never read
as an article): link name -> the absolute, resolved path of the file it was made for. Only a
top-level link whose name is recorded and that still resolves to exactly the recorded file is
followed; a link retargeted since, or one nobody recorded, is skipped as before.

The registry is small JSON, rewritten whole through a temporary file and `os.replace` (a reader
never sees half of it), under a lock on the folder so `rag add` and the page do not lose each other's entries.
A registry that cannot be read grants nothing: every outside link is then skipped, never followed.
"""
from __future__ import annotations

import json
import logging
import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; the page makes one change at a time anyway
    fcntl = None

REGISTRY = ".links.json"
VERSION = 1
log = logging.getLogger(__name__)


def registry_path(corpus_dir: Path) -> Path:
    """Where the allow-list of `corpus_dir` is kept."""
    return Path(corpus_dir) / REGISTRY


def read_links(corpus_dir: Path) -> dict[str, str]:
    """Link name -> absolute target of every link `rag add --link` made in `corpus_dir` ({} when none).

    A damaged registry is logged and treated as empty: it can only ever narrow what is read.
    """
    path = registry_path(corpus_dir)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning(f"warning: {path} cannot be read ({exc}); linked articles are skipped until it is fixed")
        return {}
    links = raw.get("links") if isinstance(raw, dict) else None
    if not isinstance(links, dict):
        log.warning(f"warning: {path} is not a link registry; linked articles are skipped until it is fixed")
        return {}
    return {n: t for n, t in links.items() if isinstance(n, str) and isinstance(t, str) and os.path.isabs(t)}


def allowed(path: Path, real_root: Path, links: dict[str, str]) -> bool:
    """Whether the symlink `path` is one `rag add --link` made: directly in the corpus folder,
    recorded by name, and still leading to the very file recorded (resolved, so no swapped links)."""
    target = links.get(path.name)
    if target is None or path.parent.resolve() != real_root:
        return False
    try:
        return str(path.resolve(strict=True)) == target
    except (OSError, RuntimeError):  # dangling or a loop: nothing to read
        return False


@contextmanager
def _locked(corpus_dir: Path) -> Iterator[None]:
    """Hold the registry's lock while it is changed: an advisory lock on the corpus folder itself,
    so no lock file is left behind in the user's folder."""
    if fcntl is None:
        yield
        return
    fd = os.open(corpus_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _write(corpus_dir: Path, links: dict[str, str]) -> None:
    """Replace the registry by `links` in one step (a temporary file renamed over it); removed when empty."""
    path = registry_path(corpus_dir)
    if not links:
        path.unlink(missing_ok=True)
        return
    part = path.with_name(f"{REGISTRY}.{secrets.token_hex(4)}.part")
    try:
        part.write_text(json.dumps({"version": VERSION, "links": dict(sorted(links.items()))}, indent=1,
                                   ensure_ascii=False), encoding="utf-8")
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)


def register(corpus_dir: Path, name: str, target: Path) -> None:
    """Record that the link `name` in `corpus_dir` may lead to `target` (absolute, resolved)."""
    with _locked(corpus_dir):
        links = read_links(corpus_dir)
        links[name] = str(target)
        _write(corpus_dir, links)


def unregister(corpus_dir: Path, names: list[str]) -> None:
    """Forget the links `names` (their symlinks are gone or going); unknown names are ignored."""
    with _locked(corpus_dir):
        links = read_links(corpus_dir)
        if any(n in links for n in names):
            _write(corpus_dir, {n: t for n, t in links.items() if n not in names})
