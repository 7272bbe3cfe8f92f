"""Partitioned loading and validation: the loader's own rules, run part by part on the workers.

Each part of ``order_lines`` and ``returns`` is read and checked where it lies with the
single-process functions (:func:`~returnrisk.data.checks.parse_and_check_table`,
:func:`~returnrisk.data.checks.check_order_lines_against_products`). The rules that span parts —
an id used twice, a return for a line that is not there (or dated before it) — are checked on
shards of line ids with the same functions (:func:`~returnrisk.data.checks.check_returns_against_lines`),
and their verdicts sent back to the parts. Every part then writes its own quarantine file
(``quarantine/order_lines/part-00003.csv``; a table given as one file keeps today's
``quarantine/order_lines.csv``). The catalogue (``products``) is small by nature: it is checked
as one table. Reason codes missing from returns are inferred with one classifier fitted on the
labelled phrasings of every part, as the single-process loader fits it on the whole table.

The clean parts stay on the workers; every clean line carries the shard of its customer and of
its product (``_cshard``, ``_pshard``), every clean return the shards of its line.
"""

from __future__ import annotations

import copy
import logging
import operator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from returnrisk.arrow_lookup import positions
from returnrisk.cluster.exchange import shard_of, split_by
from returnrisk.cluster.sources import TablePart, find_parts, read_part
from returnrisk.data.checks import (
    check_order_lines_against_products,
    check_returns_against_lines,
    parse_and_check_table,
)
from returnrisk.data.contract import TABLES
from returnrisk.data.loader import (
    TableLoad,
    _clean_returns,
    _malformed_problem,
    _structural_problems,
    _with_optional_columns,
    _write_quarantine,
    default_quarantine_dir,
)
from returnrisk.data.problems import DataError, Problem
from returnrisk.data.readers import RawTable
from returnrisk.data.rejections import Rejections

__all__ = ["LoadedShop", "ReadShop", "read_partitioned", "validate_partitioned", "load_partitioned"]

log = logging.getLogger(__name__)


@dataclass
class LoadedShop:
    """A shop loaded on the cluster: the catalogue here, the lines and returns on the workers."""

    products: pd.DataFrame
    line_parts: list            # futures: clean order lines per part (+ _cshard, _pshard, _part, _pos)
    return_parts: list          # futures: clean returns per part (+ _cshard, _pshard)
    tables: dict[str, TableLoad]
    parts: dict[str, list[TablePart]]
    shards: int
    first_order: pd.Timestamp
    last_order: pd.Timestamp
    last_return: pd.Timestamp
    pairs: pd.DataFrame         # distinct (product_id, size) sold
    digests: dict[str, str] = field(default_factory=dict)
    keep: list = field(default_factory=list)   # futures the parts' lineage needs (a lost part is recomputed)

    @property
    def problems(self) -> list[Problem]:
        return [p for t in self.tables.values() for p in t.problems]


# ---- on the workers ---------------------------------------------------------------------------
@dataclass
class _PartState:
    part: TablePart
    raw: RawTable | None
    typed: pd.DataFrame | None
    rejections: Rejections | None
    structural: list[Problem]


def _check_part(part: TablePart, product_ids: pd.Index | None) -> _PartState:
    """Read one part and apply the per-row rules (and, for lines, the catalogue)."""
    spec = TABLES[part.table]
    raw = read_part(part)
    if isinstance(raw, Problem):
        return _PartState(part, None, None, None, [raw])
    structural = _structural_problems(raw, spec)
    if structural:
        return _PartState(part, None, None, None, structural)
    rejections = Rejections(part.table, raw.file, len(raw.frame), raw.row_numbers)
    typed = _with_optional_columns(parse_and_check_table(raw.frame, spec, rejections), spec)
    if product_ids is not None:
        check_order_lines_against_products(typed, product_ids, rejections)
    return _PartState(part, raw, typed, rejections, [])


def _problems_of(state: _PartState) -> tuple[list[Problem], list[Problem]]:
    if state.structural:
        return state.structural, []
    malformed = _malformed_problem(state.raw)
    return [], ([malformed] if malformed else []) + list(state.rejections.problems)


def _id_pieces(state: _PartState, shards: int, line_shards: int) -> list[pd.DataFrame]:
    """Each row's id and what the cross-part rules need, cut by shard of the line id."""
    typed = state.typed
    ids = typed["line_id"]
    keep = ids.notna().to_numpy()
    piece = pd.DataFrame({
        "line_id": ids[keep].to_numpy(),
        "_part": state.part.index,
        "_pos": np.flatnonzero(keep),
        "_clean": ~state.rejections.mask[keep],
        "_first": ~pd.Series(ids[keep].to_numpy()).duplicated().to_numpy(),
    })
    if state.part.table == "order_lines":
        piece["ordered_at"] = typed["ordered_at"][keep].reset_index(drop=True)
        piece["_cshard"] = shard_of(typed["customer_id"][keep], line_shards)
        piece["_pshard"] = shard_of(typed["product_id"][keep], line_shards)
    else:
        piece["returned_at"] = typed["returned_at"][keep].reset_index(drop=True)
        piece["refunded_at"] = typed["refunded_at"][keep].reset_index(drop=True)
    return split_by(piece, shard_of(piece["line_id"], shards), shards)


@dataclass
class _IdVerdicts:
    """What one shard of line ids found, per part: rows to set aside, returns' line shards."""

    lines: dict[int, list[tuple[np.ndarray, str]]]
    returns: dict[int, list[tuple[np.ndarray, str]]]
    routes: dict[int, pd.DataFrame]   # returns part -> _pos, _cshard, _pshard of its matched line
    problems: list[Problem]


def _verdicts(frame: pd.DataFrame, rejections: Rejections) -> dict[int, list[tuple[np.ndarray, str]]]:
    out: dict[int, list] = {}
    for positions, reason in rejections._reasons:  # noqa: SLF001 (positions of the shard frame)
        rows = frame.iloc[positions]
        for part, group in rows.groupby("_part", sort=True):
            out.setdefault(int(part), []).append((group["_pos"].to_numpy(), reason))
    return out


def _check_ids(lines: pd.DataFrame, returns: pd.DataFrame, line_label: str, return_label: str) -> _IdVerdicts:
    """The rules across parts, on one shard of line ids (rows in part order, as one table's)."""
    problems: list[Problem] = []
    verdicts_l: dict[int, list] = {}
    if len(lines):
        # an id repeated in an earlier part (repeats inside a part were set aside by the part)
        first = lines[lines["_first"]].reset_index(drop=True)
        rej = Rejections("order_lines", line_label, len(first), np.arange(1, len(first) + 1))
        parse_and_check_table(first[["line_id"]], TABLES["order_lines"], rej)
        problems += rej.problems
        verdicts_l = _verdicts(first, rej)
        repeated = rej.mask
        known = first[first["_clean"].to_numpy() & ~repeated]
    else:
        known = pd.DataFrame({"line_id": pd.Series([], dtype="string[pyarrow]"),
                              "ordered_at": pd.Series([], dtype="datetime64[ns, UTC]"),
                              "_cshard": pd.Series([], dtype=np.int32), "_pshard": pd.Series([], dtype=np.int32)})
    verdicts_r: dict[int, list] = {}
    routes: dict[int, pd.DataFrame] = {}
    if len(returns):
        first = returns[returns["_first"]].reset_index(drop=True)
        rej = Rejections("returns", return_label, len(first), np.arange(1, len(first) + 1))
        parse_and_check_table(first[["line_id"]], TABLES["returns"], rej)
        problems += rej.problems
        for part, items in _verdicts(first, rej).items():
            verdicts_r.setdefault(part, []).extend(items)
        rej2 = Rejections("returns", return_label, len(returns), np.arange(1, len(returns) + 1))
        check_returns_against_lines(returns.reset_index(drop=True), known.reset_index(drop=True), rej2)
        problems += rej2.problems
        for part, items in _verdicts(returns.reset_index(drop=True), rej2).items():
            verdicts_r.setdefault(part, []).extend(items)
        at = positions(returns["line_id"], known["line_id"])
        found = at >= 0
        route = pd.DataFrame({"_part": returns["_part"].to_numpy()[found], "_pos": returns["_pos"].to_numpy()[found],
                              "_cshard": known["_cshard"].to_numpy()[at[found]],
                              "_pshard": known["_pshard"].to_numpy()[at[found]]})
        routes = {int(p): g.drop(columns="_part").reset_index(drop=True) for p, g in route.groupby("_part")}
    return _IdVerdicts(verdicts_l, verdicts_r, routes, problems)


def _verdicts_for(verdict: _IdVerdicts, table: str, part: int):
    items = (verdict.lines if table == "order_lines" else verdict.returns).get(part, [])
    route = verdict.routes.get(part) if table == "returns" else None
    return items, route


def _finish_part_file(part: TablePart, product_ids, found: list, quarantine: str, single: bool,
                      prices: pd.Series | None, line_shards: int):
    """:func:`_finish_part` reading and checking the part again (so that it depends on nothing lost)."""
    return _finish_part(_check_part(part, product_ids), found, quarantine, single, prices, line_shards)


def _finish_part(state: _PartState, found: list, quarantine: str, single: bool, prices: pd.Series | None,
                 line_shards: int):
    """Apply every verdict, write the part's quarantine file, return the clean rows and a summary."""
    rejections = copy.copy(state.rejections)   # the part's state is an input: left as it was
    rejections._reasons = list(rejections._reasons)  # noqa: SLF001
    rejections.problems = list(rejections.problems)
    routes = []
    for items, route in found:
        for positions, reason in items:
            rejections._reasons.append((positions, reason))  # noqa: SLF001 (verdicts of the id shards)
        if route is not None:
            routes.append(route)
    directory = Path(quarantine) if single else Path(quarantine) / state.part.table
    raw = state.raw
    if not single:
        raw = RawTable(state.part.stem, raw.path, raw.frame, raw.malformed, raw.row_numbers)
    target = _write_quarantine(raw, rejections, directory)
    mask = rejections.mask
    clean = state.typed[~mask]
    clean.insert(0, "_pos", np.flatnonzero(~mask))
    if state.part.table == "order_lines":
        clean["quantity"] = clean["quantity"].fillna(1).astype("int64")
        clean["unit_price"] = clean["unit_price"].fillna(clean["product_id"].map(prices)).astype(float)
        clean["_cshard"] = shard_of(clean["customer_id"], line_shards)
        clean["_pshard"] = shard_of(clean["product_id"], line_shards)
        summary = {"pairs": clean[["product_id", "size"]].drop_duplicates(),
                   "first": clean["ordered_at"].min(), "last": clean["ordered_at"].max()}
    else:
        route = pd.concat(routes, ignore_index=True) if routes else pd.DataFrame(
            {"_pos": [], "_cshard": [], "_pshard": []}, dtype=np.int64)
        clean = clean.merge(route, on="_pos", how="left")
        clean["_cshard"] = clean["_cshard"].fillna(-1).astype(np.int32)
        clean["_pshard"] = clean["_pshard"].fillna(-1).astype(np.int32)
        clean = _clean_returns(clean.reset_index(drop=True))
        labelled = clean[clean["reason_code"].notna() & clean["reason_text"].notna()]
        summary = {"pairs": labelled[["reason_text", "reason_code"]].astype("string[pyarrow]").rename(
                       columns={"reason_text": "text", "reason_code": "code"}).value_counts(sort=False)
                       .rename("n").reset_index(),
                   "last": clean["returned_at"].max()}
    summary.update({"rows_read": len(state.raw.frame) + len(state.raw.malformed), "rows_kept": int((~mask).sum()),
                    "quarantine_file": target, "problems": rejections.problems})
    return clean.reset_index(drop=True), summary


def _fill(returns: pd.DataFrame, classifier) -> pd.DataFrame:
    from returnrisk.reasons.fill import fill_reasons

    if classifier is None:
        return returns
    return fill_reasons(returns, classifier=classifier)


def _load_products(parts: list[TablePart], quarantine: str) -> tuple[pd.DataFrame | None, TableLoad | None,
                                                                     list[Problem]]:
    """The catalogue, checked as one table (its parts, if any, concatenated in name order)."""
    spec = TABLES["products"]
    raws = [read_part(p) for p in parts]
    bad = [r for r in raws if isinstance(r, Problem)]
    if bad:
        return None, None, bad
    raw = raws[0] if len(raws) == 1 else RawTable(
        "products", Path("products"), pd.concat([r.frame for r in raws], ignore_index=True),
        [m for r in raws for m in r.malformed])
    structural = _structural_problems(raw, spec)
    if structural:
        return None, None, structural
    rejections = Rejections("products", raw.file, len(raw.frame), raw.row_numbers)
    typed = _with_optional_columns(parse_and_check_table(raw.frame, spec, rejections), spec)
    problems = ([_malformed_problem(raw)] if raw.malformed else []) + list(rejections.problems)
    target = _write_quarantine(raw, rejections, Path(quarantine))
    clean = typed[~rejections.mask].reset_index(drop=True)
    load = TableLoad("products", raw.file, len(raw.frame) + len(raw.malformed), len(clean), problems, target)
    return clean, load, []


# ---- on the client ----------------------------------------------------------------------------
@dataclass
class ReadShop:
    """The parts read and checked row by row (first half of loading; see :func:`read_partitioned`)."""

    data: str
    parts: dict[str, list[TablePart]]
    products: pd.DataFrame
    product_load: TableLoad
    line_states: list
    return_states: list
    quarantine: str
    shards: int
    product_ids: object = None


def read_partitioned(client, data: str, *, quarantine_dir: str | Path | None = None,
                     shards: int | None = None) -> ReadShop:
    """Find the parts, check the catalogue, read and check every part of lines and returns where it lies.

    ``shards`` is the number of customer / product shards the lines are prepared for (default:
    twice the workers' threads).
    """
    parts = find_parts(data)
    local = "://" not in str(data) or str(data).startswith("file://")
    quarantine = str(quarantine_dir) if quarantine_dir else (
        str(default_quarantine_dir(Path(str(data).removeprefix("file://")))) if local else None)
    if quarantine is None:
        raise DataError([Problem("-", str(data), "quarantine_unwritable",
                                 f"no quarantine folder for the remote shop {data}",
                                 "pass --quarantine PATH to a folder every worker can write", structural=True)])
    workers = max(1, sum(client.nthreads().values()))
    shards = shards or max(2, 2 * workers)
    products, product_load, bad = client.submit(_load_products, parts["products"], quarantine,
                                                key="load-products").result()
    if bad:
        raise DataError(bad)
    product_ids = client.scatter(pd.Index(products["product_id"]), broadcast=True)
    line_states = [client.submit(_check_part, p, product_ids, key=f"read-{p.table}-{p.index}-{p.label}")
                   for p in parts["order_lines"]]
    return_states = [client.submit(_check_part, p, None, key=f"read-{p.table}-{p.index}-{p.label}")
                     for p in parts["returns"]]
    summaries = client.gather([client.submit(_problems_of, s) for s in line_states + return_states])
    structural = [p for fatal, _ in summaries for p in fatal]
    if structural:
        raise DataError(structural + [p for _, rows in summaries for p in rows])
    return ReadShop(str(data), parts, products, product_load, line_states, return_states, quarantine, shards,
                    product_ids)


def validate_partitioned(client, read: ReadShop, *, strict: bool = False, reason_filler: bool = True) -> LoadedShop:
    """The rules across parts, the quarantine files, the clean parts and the inferred reasons."""
    parts, shards = read.parts, read.shards
    row_problems = list(read.product_load.problems)
    row_problems += [p for _, rows in client.gather([client.submit(_problems_of, s)
                                                      for s in read.line_states + read.return_states])
                     for p in rows]
    line_pieces = client.map(_id_pieces, read.line_states, shards=shards, line_shards=shards)
    return_pieces = client.map(_id_pieces, read.return_states, shards=shards, line_shards=shards)
    line_label, return_label = _table_label(parts["order_lines"]), _table_label(parts["returns"])
    verdicts = []
    for j in range(shards):
        lj = client.submit(_concat_pieces, [client.submit(operator.getitem, p, j) for p in line_pieces])
        rj = client.submit(_concat_pieces, [client.submit(operator.getitem, p, j) for p in return_pieces])
        verdicts.append(client.submit(_check_ids, lj, rj, line_label, return_label))
    del line_pieces, return_pieces
    row_problems += [p for ps in client.gather([client.submit(operator.attrgetter("problems"), v) for v in verdicts])
                     for p in ps]
    if strict and row_problems:
        raise DataError(row_problems)

    prices = client.scatter(read.products.set_index("product_id")["price"], broadcast=True)
    # the verdicts travel inside the tasks that finish the parts: a clean part's lineage is then
    # its file, these verdicts and the broadcast catalogue, so Dask can always recompute it
    found = client.gather([[client.submit(_verdicts_for, v, table, part.index) for v in verdicts]
                           for table in ("order_lines", "returns") for part in parts[table]])
    del verdicts
    finished = {}
    for table in ("order_lines", "returns"):
        single = len(parts[table]) == 1 and "/" not in parts[table][0].label
        finished[table] = [
            client.submit(_finish_part_file, part, read.product_ids if table == "order_lines" else None,
                          found.pop(0), read.quarantine, single, prices if table == "order_lines" else None, shards,
                          key=f"clean-{table}-{part.index}-{part.label}")
            for part in parts[table]]
    read.line_states = read.return_states = []
    line_parts = [client.submit(operator.getitem, f, 0) for f in finished["order_lines"]]
    return_parts = [client.submit(operator.getitem, f, 0) for f in finished["returns"]]
    line_sums = client.gather([client.submit(operator.getitem, f, 1) for f in finished["order_lines"]])
    return_sums = client.gather([client.submit(operator.getitem, f, 1) for f in finished["returns"]])
    keep = finished["order_lines"] + finished["returns"]   # lineage of the clean parts (same objects, no copy)

    if reason_filler:
        from returnrisk.reasons.fill import _seed_classifier, classifier_for_examples, examples_from_counts

        pairs = [s["pairs"] for s in return_sums if len(s["pairs"])]
        if pairs:
            counts = pd.concat(pairs, ignore_index=True).groupby(["text", "code"], sort=False,
                                                                 observed=True)["n"].sum().reset_index()
            classifier = classifier_for_examples(*examples_from_counts(counts))
        else:
            classifier = _seed_classifier()
        classifier = client.scatter(classifier, broadcast=True)
        keep += return_parts + [classifier]
        return_parts = [client.submit(_fill, r, classifier) for r in return_parts]

    tables = {"products": read.product_load}
    for table, sums in (("order_lines", line_sums), ("returns", return_sums)):
        label = _table_label(parts[table])
        files = [s["quarantine_file"] for s in sums if s["quarantine_file"]]
        tables[table] = TableLoad(table, label, sum(s["rows_read"] for s in sums),
                                  sum(s["rows_kept"] for s in sums), [p for p in row_problems if p.table == table],
                                  files[0] if files else None)
        for s in sums:
            if s["quarantine_file"]:
                log.warning("%s: rows set aside in %s", label, s["quarantine_file"])
    empty = [Problem(name, t.file, "empty_table",
                     f"no usable rows left in {t.file} after setting aside {t.rows_quarantined} bad rows",
                     "fix the problems listed above", structural=True)
             for name, t in tables.items() if t.rows_kept == 0]
    if empty:
        raise DataError(row_problems + empty)
    pairs = pd.concat([s["pairs"] for s in line_sums], ignore_index=True).drop_duplicates(ignore_index=True)
    return LoadedShop(
        products=read.products, line_parts=line_parts, return_parts=return_parts, tables=tables, parts=parts,
        shards=shards,
        first_order=min(s["first"] for s in line_sums if pd.notna(s["first"])),
        last_order=max(s["last"] for s in line_sums if pd.notna(s["last"])),
        last_return=max((s["last"] for s in return_sums if pd.notna(s["last"])), default=pd.NaT),
        pairs=pairs, keep=keep + line_parts + [prices, read.product_ids],
    )


def load_partitioned(client, data: str, *, quarantine_dir=None, strict: bool = False, reason_filler: bool = True,
                     shards: int | None = None) -> LoadedShop:
    """:func:`read_partitioned` then :func:`validate_partitioned`."""
    return validate_partitioned(client, read_partitioned(client, data, quarantine_dir=quarantine_dir, shards=shards),
                                strict=strict, reason_filler=reason_filler)


def _concat_pieces(pieces: list[pd.DataFrame]) -> pd.DataFrame:
    pieces = [p for p in pieces if len(p)]
    return pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame()


def _table_label(parts: list[TablePart]) -> str:
    return parts[0].label if len(parts) == 1 and "/" not in parts[0].label else f"{parts[0].table}/"
