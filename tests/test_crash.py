"""Builds killed at any moment, and builds racing each other, never leave a partial index live."""
import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest

from rag.indexing.build import build
from rag.indexing.store import IndexBusy, IndexMissing, build_lock, live_folder, load_index
from rag.settings import ROOT, from_env


def start_index(corpus, index):
    return subprocess.Popen([sys.executable, "-m", "rag", "index", "--force", "--quiet", "--corpus", str(corpus),
                             "--index", str(index)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(predicate, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def check_intact(index_dir, corpus):
    index = load_index(index_dir)  # verifies every file's checksum
    assert set(index.manifest.articles) == {p.stem for p in corpus.glob("*.txt")}
    assert len(index.chunks) == index.vectors.ntotal > 0
    return index


def test_sigkill_at_any_point_never_leaves_a_partial_index(corpus_copy, tmp_path):
    index_dir = tmp_path / "index"
    # A kill before the first build completes leaves no index at all, never a partial one.
    proc = start_index(corpus_copy, index_dir)
    time.sleep(1.0)
    proc.kill()
    proc.wait()
    with pytest.raises(IndexMissing):
        load_index(index_dir)
    build(from_env(env={}, corpus_dir=corpus_copy, index_dir=index_dir), progress=False)
    live = check_intact(index_dir, corpus_copy).folder
    moments = {
        "at start-up": lambda: True,
        "while writing": lambda: any(p.name.startswith(".tmp-") for p in index_dir.iterdir()),
        "after the switch": lambda: live_folder(index_dir) != live,
    }
    for label, moment in moments.items():
        proc = start_index(corpus_copy, index_dir)
        reached = wait_for(moment)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        index = check_intact(index_dir, corpus_copy)
        print(f"killed {label} (reached={reached}): live index {index.folder.name}, {len(index.chunks)} chunks")
        live = index.folder
    # Then at random moments of a whole run (seeded, so a failure can be replayed).
    t0 = time.monotonic()
    assert start_index(corpus_copy, index_dir).wait(timeout=300) == 0
    whole = time.monotonic() - t0
    rng = random.Random(20261125)
    for _ in range(3):
        delay = rng.uniform(0, whole)
        proc = start_index(corpus_copy, index_dir)
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        index = check_intact(index_dir, corpus_copy)
        print(f"killed after {delay:.2f}s of a {whole:.2f}s run: live index {index.folder.name}")
    # The next successful run leaves no leftovers of the killed ones.
    build(from_env(env={}, corpus_dir=corpus_copy, index_dir=index_dir), progress=False, force=True)
    check_intact(index_dir, corpus_copy)
    assert not [p for p in index_dir.iterdir() if p.name.startswith(".tmp-")]


def test_a_second_build_waits_for_the_first(corpus_copy, tmp_path):
    index_dir = tmp_path / "index"
    release = threading.Event()
    held = threading.Event()

    def hold():
        with build_lock(index_dir):
            held.set()
            release.wait(120)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    proc = start_index(corpus_copy, index_dir)
    waited = ""
    deadline = time.monotonic() + 120
    while "Another `rag index` is building" not in waited and time.monotonic() < deadline:
        waited += proc.stderr.readline()
    release.set()
    holder.join()
    out, err = proc.communicate(timeout=300)
    assert "Another `rag index` is building" in waited
    assert proc.returncode == 0, err
    check_intact(index_dir, corpus_copy)


def test_lock_gives_up_with_a_clear_message(tmp_path):
    with build_lock(tmp_path):
        result = {}

        def contender():
            try:
                with build_lock(tmp_path, wait_seconds=0.3):
                    result["got"] = True
            except IndexBusy as exc:
                result["error"] = str(exc)

        t = threading.Thread(target=contender)
        t.start()
        t.join(10)
    assert "another process is still building" in result["error"]
