"""Downloading a dataset's files: each fetched into a staging folder, checked against its
published MD5, and moved into place only when every file is good.

One piece for every downloadable source (CIFAR's archive, the idx files of MNIST and its
siblings): an interrupted or damaged download leaves nothing that looks like a dataset, and
the staging folders of killed downloads are cleared by the next one
(:func:`~hybridnas.store.staging_folder`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from pathlib import Path
from typing import Dict, Sequence

from ..errors import UserError
from ..progress import say

LOG = logging.getLogger("hybridnas.data")


def md5sum(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download_file(urls: Sequence[str], dest: Path, md5: str, fix: str) -> None:
    """Fetch ``dest`` from the first of ``urls`` that serves a file with MD5 ``md5``.

    Every URL is tried in turn; when none works, the error names the last problem and ``fix``
    (what the user can do instead, e.g. where to put the file by hand).
    """
    import urllib.error
    import urllib.request

    problem = ""
    for url in urls:
        say(f"downloading {url} ...", logging.INFO, LOG)
        try:
            with urllib.request.urlopen(url, timeout=60) as src, open(dest, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
            problem = f"could not download {url} ({reason}); {fix}"
            continue
        digest = md5sum(dest)
        if digest == md5:
            return
        problem = (f"{dest.name} from {url} has MD5 {digest}, not the published {md5}: the download is damaged; "
                   "run the command again to download it again")
    raise UserError(problem)


def fetch_files(mirrors: Sequence[str], files: Dict[str, str], target: Path, title: str) -> None:
    """Download ``files`` (name -> MD5) from the first mirror that has each into ``target``."""
    from ..store import staging_folder

    if not files:
        return
    try:
        stage = staging_folder(target)
    except OSError as exc:
        raise UserError(f"cannot write to '{target.parent}' ({exc.strerror}); "
                        "set data.path to a writable folder") from None
    try:
        for name, md5 in files.items():
            fix = f"fetch {title}'s {name} by hand into '{target.absolute()}'"
            download_file([m.rstrip("/") + "/" + name for m in mirrors], stage / name, md5, fix)
        try:
            target.mkdir(parents=True, exist_ok=True)
            for name in files:
                os.replace(stage / name, target / name)
        except OSError as exc:
            raise UserError(f"cannot move the downloaded files into '{target}' ({exc.strerror}); "
                            "free space or fix the permissions there and run the command again") from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)
