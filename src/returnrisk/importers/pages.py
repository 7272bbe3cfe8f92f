"""Reading the saved API pages: one JSON document per file, or JSON Lines (bulk exports).

File names are free. A file whose first line is a complete JSON object and that has more
non-empty lines is read as JSON Lines, streamed line by line (Shopify bulk-operation output can
be gigabytes); any other file is one JSON document. Hidden files are skipped. Every problem is an
:class:`~returnrisk.errors.InputError` naming the file (and line) and what to do.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from returnrisk.errors import InputError

__all__ = ["Page", "iter_pages", "page_files", "shape_of"]


@dataclass
class Page:
    """One saved response: ``payload`` for a JSON document, ``records`` for JSON Lines.

    A JSON Lines file is either a bulk export (one node object per line) or several saved
    responses, one per line (e.g. ``curl … >> refunds.jsonl`` for each order): readers of
    platforms without bulk exports treat each line as a page.
    """

    path: Path
    payload: object = None
    records: Iterator[object] | None = None

    @property
    def name(self) -> str:
        return self.path.name


def page_files(folder: Path) -> list[Path]:
    """The page files of ``folder`` (sorted, hidden files left out); an error if there are none."""
    folder = Path(folder)
    if not folder.exists():
        raise InputError(f"--input {folder} does not exist: pass the folder holding the saved API pages")
    if not folder.is_dir():
        raise InputError(f"--input {folder} is a file, not a folder: put the saved API pages in a folder "
                         "and pass that folder")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not any(
        part.startswith(".") for part in p.relative_to(folder).parts))
    if not files:
        raise InputError(f"no files in {folder}: save the platform's API responses there first, one file "
                         "per page (see docs/importing.md)")
    return files


def _decode_error(path: Path, exc: Exception, line: int | None = None) -> InputError:
    where = f"{path.name} line {line}" if line else path.name
    detail = str(exc).split("\n")[0]
    return InputError(
        f"{where} is not valid JSON ({detail}): save the API response again, exactly as the API "
        "returned it (one JSON document per file, or one JSON object per line for bulk exports)"
    )


def _json_lines(path: Path) -> Iterator[object]:
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise _decode_error(path, exc, number) from None
            if not isinstance(record, (dict, list)):
                raise InputError(f"{path.name} line {number}: expected one JSON object or list per line "
                                 f"(found {type(record).__name__}); save the export again")
            yield record


def _is_json_lines(path: Path) -> bool:
    with open(path, "rb") as handle:
        first = handle.readline()
        if not first.strip().startswith((b"{", b"[")):
            return False
        try:
            orjson.loads(first)
        except orjson.JSONDecodeError:
            return False
        return any(line.strip() for line in handle)


def iter_pages(folder: Path) -> Iterator[Page]:
    """Every page of ``folder``, in file-name order."""
    for path in page_files(folder):
        try:
            if _is_json_lines(path):
                yield Page(path, records=_json_lines(path))
                continue
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
        if not data.strip():
            raise InputError(f"{path.name} is empty: save the API response again (or remove the file)")
        try:
            payload = orjson.loads(data.removeprefix(b"\xef\xbb\xbf"))
        except orjson.JSONDecodeError as exc:
            raise _decode_error(path, exc) from None
        yield Page(path, payload=payload)


def shape_of(payload: object) -> str:
    """A short description of a JSON value for error messages: ``object with keys a, b, c``."""
    if isinstance(payload, dict):
        keys = list(payload)[:6]
        return "an object with keys " + (", ".join(map(str, keys)) + (", …" if len(payload) > 6 else "")
                                          if keys else "(none)")
    if isinstance(payload, list):
        inner = shape_of(payload[0]) if payload else "nothing"
        return f"a list of {len(payload)} items (the first is {inner})"
    return f"a {type(payload).__name__}"
