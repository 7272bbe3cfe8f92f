"""A shop folder for the cluster: local or any fsspec URL; each table one file or a folder of parts.

``DIR/order_lines.parquet`` (or ``.csv``) is one part; ``DIR/order_lines/part-*.parquet`` (any
``*.parquet`` / ``*.csv`` in the folder, in name order) are several. Remote folders
(``s3://bucket/shop`` with ``s3fs`` installed on the client and the workers, ``gs://`` with
``gcsfs``, …) are read by the workers themselves: each copies its part to a local temporary file
and reads it with the single-process reader, so the two paths parse files identically.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from returnrisk.data.contract import TABLES
from returnrisk.data.problems import DataError, Problem
from returnrisk.data.readers import SUFFIXES, RawTable, read_table_file

__all__ = ["TablePart", "find_parts", "read_part", "part_digest", "is_local"]


@dataclass(frozen=True)
class TablePart:
    """One file of a table: ``url`` to read, ``label`` as messages show it (``order_lines/part-00003.parquet``)."""

    table: str
    url: str
    label: str
    index: int

    @property
    def stem(self) -> str:
        return PurePosixPath(self.label).name.rsplit(".", 1)[0]


def is_local(url: str) -> bool:
    return "://" not in str(url) or str(url).startswith("file://")


def _fs(url: str):
    import fsspec

    return fsspec.core.url_to_fs(str(url))


def find_parts(data: str) -> dict[str, list[TablePart]]:
    """The parts of every contract table in ``data``; raises :class:`DataError` listing what is missing."""
    fs, root = _fs(data)
    if not fs.isdir(root):
        raise DataError([Problem(
            "-", str(data), "missing_folder", f"data folder {data} does not exist",
            "pass --data with the folder holding products, order_lines and returns "
            "(or run `returnrisk demo-data --out DIR` to make one)", structural=True)])
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    prefix = "" if protocol in ("file", "local") else f"{protocol}://"
    found: dict[str, list[TablePart]] = {}
    problems: list[Problem] = []
    for name in TABLES:
        files = [f"{root}/{name}{suffix}" for suffix in SUFFIXES if fs.isfile(f"{root}/{name}{suffix}")]
        folder = f"{root}/{name}"
        parts = sorted(p for p in fs.ls(folder, detail=False) if p.endswith(SUFFIXES)) \
            if fs.isdir(folder) else []
        if files and parts or len(files) > 1:
            shown = [PurePosixPath(f).name for f in files] + ([f"{name}/"] if parts else [])
            problems.append(Problem(name, shown[0], "ambiguous_file", f"both {shown[0]} and {shown[1]} exist",
                                    f"keep only one of them in {data}", structural=True))
        elif files:
            found[name] = [TablePart(name, prefix + files[0], PurePosixPath(files[0]).name, 0)]
        elif parts:
            found[name] = [TablePart(name, prefix + p, f"{name}/{PurePosixPath(p).name}", i)
                           for i, p in enumerate(parts)]
        else:
            listing = sorted(PurePosixPath(p).name for p in fs.ls(root, detail=False))
            shown = ", ".join(listing[:10]) + (", …" if len(listing) > 10 else "") if listing else "none"
            problems.append(Problem(
                name, f"{name}.csv", "missing_file",
                f"file missing: expected {name}.csv, {name}.parquet or a folder {name}/ of .parquet parts "
                f"in {data} (files found: {shown})",
                f"export the {name} table to {data}/{name}.parquet (see docs/data-contract.md)", structural=True))
    if problems:
        raise DataError(problems)
    return found


class _PartRaw(RawTable):
    """A :class:`RawTable` whose messages name the part as ``order_lines/part-00003.parquet``."""

    label: str = ""

    @property
    def file(self) -> str:
        return self.label or self.path.name


def read_part(part: TablePart) -> RawTable | Problem:
    """Read one part with the single-process reader (a remote part through a local copy)."""
    if is_local(part.url):
        raw = read_table_file(Path(part.url.removeprefix("file://")), part.table)
        return _relabel(raw, part)
    fs, path = _fs(part.url)
    suffix = PurePosixPath(path).suffix
    fd, tmp = tempfile.mkstemp(suffix=suffix, prefix="returnrisk-part-")
    os.close(fd)
    try:
        fs.get(path, tmp)
        raw = read_table_file(Path(tmp), part.table)
        return _relabel(raw, part)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _relabel(raw, part: TablePart):
    if isinstance(raw, Problem):
        raw.file = part.label
        raw.message = raw.message.replace(PurePosixPath(part.url).name, part.label, 1)
        return raw
    out = _PartRaw(raw.name, raw.path, raw.frame, raw.malformed, raw.row_numbers)
    out.label = part.label
    return out


def part_digest(part: TablePart) -> str:
    """SHA-256 of a part's bytes (the run's input fingerprint combines them)."""
    fs, path = _fs(part.url)
    digest = hashlib.sha256()
    with fs.open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
