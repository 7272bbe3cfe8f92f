"""Partitioned loading and validation: the loader's own rules, run part by part on the workers.

Nothing here restates a rule: every check is a function of :mod:`returnrisk.data.checks` /
:mod:`returnrisk.data.loader` / :mod:`returnrisk.data.merchandise`, called on a part or on a
shard of line ids, so a table given in parts is judged exactly as the same rows in one file.

* **Per row** (types, placeholders, out-of-range dates, huge integers, minimums, codes…): each
  part of ``order_lines`` and ``returns`` is read and checked where it lies
  (:func:`~returnrisk.data.checks.parse_and_check_table`), lines against the catalogue too.
* **Across rows** — a line id used twice, a return for a line that is not there (or dated before
  it), a return repeated (same ``return_id`` and line) or taking its line above the units ordered
  (returns of a line counted in date, then file order), late returns — on shards of line ids:
  every row of a line id, from every part, in file order, with what the parts found
  (:func:`~returnrisk.data.checks.check_unique_ids`,
  :func:`~returnrisk.data.checks.check_returns_against_lines`). A shard does not write problems
  itself: its :class:`_ShardRejections` records which rows of which part each rule sets aside;
  every part then replays the verdicts on its own rows in the single-process order, so its
  problems quote its own file and row numbers and carry the loader's messages.
* **Non-merchandise** products (postage, fees, gift cards…: :mod:`returnrisk.data.merchandise`)
  are found in the catalogue; their lines, and the returns of those lines, are set aside, not
  quarantined, as one process does.
* Each part writes its own quarantine file (``quarantine/order_lines/part-00003.csv``; a table
  given as one file keeps ``quarantine/order_lines.csv``).
* Returns become one row per returned line (:func:`~returnrisk.data.loader.line_returns`): on
  their own part when no line came back in several returns, else on shards of customers that
  hold every return of a line. Reason codes missing from returns are inferred with one
  classifier fitted on the labelled phrasings of every part, as one process fits it on the table.

The catalogue (``products``) is small by nature: it is checked as one table. The clean parts stay
on the workers; every clean line carries the shard of its customer and of its product
(``_cshard``, ``_pshard``), every line return the shards of its line.
"""

from __future__ import annotations

import logging
import operator
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from returnrisk.arrow_lookup import positions
from returnrisk.cluster.exchange import concat_frames, exchange, hold, shard_of, split_by, split_on
from returnrisk.cluster.sources import TablePart, find_parts, is_local, read_part
from returnrisk.data.checks import (
    check_order_lines_against_products,
    check_returns_against_lines,
    check_unique_ids,
    parse_and_check_table,
)
from returnrisk.data.contract import TABLES
from returnrisk.data.loader import (
    TableLoad,
    _malformed_problem,
    _structural_problems,
    _with_optional_columns,
    default_quarantine_dir,
    empty_tables,
    line_returns,
    with_line_defaults,
    write_quarantine,
)
from returnrisk.data.merchandise import MerchandiseReport, non_merchandise_products
from returnrisk.data.problems import MAX_EXAMPLES, DataError, Problem
from returnrisk.data.readers import RawTable
from returnrisk.data.rejections import Rejections, example_values

__all__ = ["LoadedShop", "ReadShop", "read_partitioned", "validate_partitioned", "load_partitioned"]

log = logging.getLogger(__name__)


@dataclass
class LoadedShop:
    """A shop loaded on the cluster: the catalogue here, the lines and returns on the workers.

    ``return_parts`` hold one row per returned line (the single-process ``Shop.returns``);
    ``n_returns`` counts them, ``tables['returns'].rows_kept`` counts the returns as recorded.
    """

    products: pd.DataFrame
    line_parts: list            # futures: clean order lines per part (+ _pos, _cshard, _pshard)
    return_parts: list          # futures: one row per returned line (+ _cshard, _pshard)
    tables: dict[str, TableLoad]
    parts: dict[str, list[TablePart]]
    shards: int
    first_order: pd.Timestamp
    last_order: pd.Timestamp
    last_return: pd.Timestamp
    last_refund: pd.Timestamp
    n_returns: int
    pairs: pd.DataFrame         # distinct (product_id, size) sold
    merchandise: MerchandiseReport = field(default_factory=MerchandiseReport)
    keep: list = field(default_factory=list)   # futures the parts' lineage needs (a lost part is recomputed)

    @property
    def problems(self) -> list[Problem]:
        return [p for t in self.tables.values() for p in t.problems]

    @property
    def warnings(self) -> list[Problem]:
        return [p for t in self.tables.values() for p in t.warnings]

    def last_events(self) -> SimpleNamespace:
        """The last order, line return and refund, shaped as the shop :func:`returnrisk.timeutil.default_as_of`
        reads (the events one process sees in ``Shop.order_lines`` and ``Shop.returns``)."""
        return SimpleNamespace(order_lines=pd.DataFrame({"ordered_at": [self.last_order]}),
                               returns=pd.DataFrame({"returned_at": [self.last_return],
                                                     "refunded_at": [self.last_refund]}))


# ---- a shard's verdicts, replayed by the parts -------------------------------------------------
@dataclass(frozen=True)
class _Call:
    """One ``Rejections.add`` / ``warn`` call of a loader rule, without its rows."""

    kind: str
    rule: str
    column: str | None
    message: str
    fix: str
    reason: str | None


class _ShardRejections(Rejections):
    """The :class:`Rejections` a shard of line ids hands to the loader's checks.

    It records, for every call, the rows of each part it sets aside (positions in the part) and
    the values the part's problem will quote; the rows the parts already set aside (``prior``)
    count in :attr:`mask`, as they do in one process.
    """

    def __init__(self, table: str, frame: pd.DataFrame, prior: np.ndarray):
        super().__init__(table, table, len(frame), np.arange(1, len(frame) + 1))
        self._part = frame["_part"].to_numpy()
        self._pos = frame["_pos"].to_numpy()
        self._prior = np.asarray(prior, dtype=bool)
        self.calls: list[tuple[_Call, dict[int, tuple[np.ndarray, dict[int, object]]]]] = []

    def add(self, mask, *, rule, column, message, fix, values=None, reason=None) -> None:
        mask = np.asarray(mask, dtype=bool)
        self._record("add", mask, rule, column, message, fix, values, reason)
        if mask.any():
            self._reasons.append((np.flatnonzero(mask), rule))

    def warn(self, mask, *, rule, column, message, fix, values=None) -> None:
        self._record("warn", np.asarray(mask, dtype=bool), rule, column, message, fix, values, None)

    @property
    def mask(self) -> np.ndarray:
        return super().mask | self._prior

    def _record(self, kind, mask, rule, column, message, fix, values, reason) -> None:
        rows = np.flatnonzero(mask)
        per_part: dict[int, tuple[np.ndarray, dict[int, object]]] = {}
        if rows.size:
            parts = self._part[rows]
            for part in np.unique(parts):
                mine = rows[parts == part]          # shard order is file order: positions ascend
                shown = mine[:MAX_EXAMPLES]         # the part's first rows here: enough for its examples
                per_part[int(part)] = (self._pos[mine], dict(zip(self._pos[shown].tolist(),
                                                                  example_values(values, shown))))
        self.calls.append((_Call(kind, rule, column, message, fix, reason), per_part))

    def for_part(self, part: int) -> list[tuple[_Call, tuple[np.ndarray, dict] | None]]:
        return [(call, per_part.get(part)) for call, per_part in self.calls]


def _call_order(sequences: list[list[_Call]]) -> list[_Call]:
    """The calls of every shard in the loader's order (a shard may skip a rule with no rows)."""
    order: list[_Call] = []
    for sequence in sequences:
        previous = -1
        for call in sequence:
            if call in order:
                previous = order.index(call)
            else:
                order.insert(previous + 1, call)
                previous += 1
    return order


def _replay(rejections: Rejections, verdicts: list[list[tuple[_Call, tuple | None]]]) -> None:
    """Apply the shards' verdicts on one part's rows, each rule once, in the loader's order."""
    for call in _call_order([[c for c, _ in shard] for shard in verdicts]):
        found = [rows for shard in verdicts for c, rows in shard if c == call and rows is not None]
        if not found:
            continue
        mask = np.zeros(rejections.n_rows, dtype=bool)
        examples: dict[int, object] = {}
        for where, values in found:
            mask[where] = True
            examples.update(values)

        def quoted(shown, examples=examples):
            return [examples.get(int(p)) for p in shown]

        if call.kind == "add":
            rejections.add(mask, rule=call.rule, column=call.column, message=call.message, fix=call.fix,
                           values=quoted, reason=call.reason)
        else:
            rejections.warn(mask, rule=call.rule, column=call.column, message=call.message, fix=call.fix,
                            values=quoted)


# ---- on the workers: one part ------------------------------------------------------------------
def _without_unique(spec):
    """The table's contract with its unique-id rule left to the shards (ids are unique across parts)."""
    return replace(spec, columns=tuple(replace(c, unique=False) for c in spec.columns))


_PART_SPECS = {name: _without_unique(spec) for name, spec in TABLES.items()}


@dataclass
class _PartState:
    part: TablePart
    raw: RawTable | None
    typed: pd.DataFrame | None
    rejections: Rejections | None
    structural: list[Problem]
    clean: np.ndarray | None = None      # rows no per-row rule (nor the catalogue) set aside
    other: np.ndarray | None = None      # lines of products that are not merchandise


def _check_part(part: TablePart, catalogue: pd.Index | None, other: pd.Index | None) -> _PartState:
    """Read one part and apply the per-row rules (lines: and whether the catalogue knows them)."""
    spec = TABLES[part.table]
    raw = read_part(part)
    if isinstance(raw, Problem):
        return _PartState(part, None, None, None, [raw])
    # a part without rows is no error: the table's rows are counted over all its parts
    structural = [p for p in _structural_problems(raw, spec) if p.rule != "empty_table"]
    if structural:
        return _PartState(part, None, None, None, structural)
    rejections = Rejections(part.table, raw.file, len(raw.frame), raw.row_numbers)
    typed = _with_optional_columns(parse_and_check_table(raw.frame, _PART_SPECS[part.table], rejections), spec)
    clean = ~rejections.mask
    state = _PartState(part, raw, typed, rejections, [], clean)
    if catalogue is not None:
        scratch = Rejections(part.table, raw.file, len(raw.frame), raw.row_numbers)
        check_order_lines_against_products(typed, catalogue, scratch)
        state.clean = clean & ~scratch.mask
        state.other = typed["product_id"].isin(other).to_numpy() & state.clean
    return state


def _read_summary(state: _PartState) -> tuple[list[Problem], int]:
    raw = state.raw
    return state.structural, (len(raw.frame) + len(raw.malformed) if raw is not None else 0)


def _id_pieces(state: _PartState, shards: int) -> list[pd.DataFrame]:
    """Every row's line id and what the rules across rows need, cut by shard of the line id."""
    typed = state.typed
    piece = pd.DataFrame({"line_id": typed["line_id"].array, "_part": state.part.index,
                          "_pos": np.arange(len(typed)), "_clean": state.clean})
    if state.part.table == "order_lines":
        for column in ("ordered_at", "quantity"):
            piece[column] = typed[column].array
        piece["_other"] = state.other
        piece["_cshard"] = shard_of(typed["customer_id"], shards)
        piece["_pshard"] = shard_of(typed["product_id"], shards)
    else:
        for column in ("returned_at", "refunded_at", "quantity", "return_id"):
            piece[column] = typed[column].array
    return split_by(piece, shard_of(piece["line_id"], shards), shards)


@dataclass
class _IdVerdicts:
    """What one shard of line ids found: each table's recorded rules, and per returns part the
    matched line of each kept return (its shards, its units, whether it is set aside as not
    merchandise)."""

    lines: _ShardRejections
    returns: _ShardRejections
    routes: dict[int, pd.DataFrame]
    kept: dict[str, tuple[int, int]]   # table -> rows kept, rows set aside as not merchandise
    several: int      # lines with more than one return kept


def _judge_ids(lines: pd.DataFrame, returns: pd.DataFrame) -> _IdVerdicts:
    """The rules across rows, on every row of one shard of line ids (rows in file order)."""
    lines = lines.sort_values(["_part", "_pos"], kind="stable").reset_index(drop=True) if len(lines) \
        else _empty_lines()
    returns = returns.sort_values(["_part", "_pos"], kind="stable").reset_index(drop=True) if len(returns) \
        else _empty_returns()
    on_lines = _ShardRejections("order_lines", lines, ~lines["_clean"].to_numpy(dtype=bool))
    check_unique_ids(lines[["line_id"]], TABLES["order_lines"], on_lines)
    known = lines[~on_lines.mask].reset_index(drop=True)
    on_returns = _ShardRejections("returns", returns, ~returns["_clean"].to_numpy(dtype=bool))
    checked = returns[["line_id", "returned_at", "refunded_at", "quantity", "return_id"]].copy()
    check_returns_against_lines(checked, known, on_returns)   # fills in quantity: default, the whole line
    at = positions(checked["line_id"], known["line_id"])
    alive = ~on_returns.mask & (at >= 0)
    excluded = alive & (known["_other"].to_numpy(dtype=bool)[np.maximum(at, 0)] if len(known) else False)
    rows = np.flatnonzero(alive)
    route = pd.DataFrame({
        "_part": returns["_part"].to_numpy()[rows], "_pos": returns["_pos"].to_numpy()[rows],
        "quantity": checked["quantity"].to_numpy(dtype=float)[rows],
        "_cshard": known["_cshard"].to_numpy()[at[rows]].astype(np.int32),
        "_pshard": known["_pshard"].to_numpy()[at[rows]].astype(np.int32),
        "_excluded": excluded[rows],
    })
    routes = {int(p): g.drop(columns="_part").reset_index(drop=True) for p, g in route.groupby("_part")}
    kept_returns = alive & ~excluded
    several = int(checked["line_id"][kept_returns].duplicated().sum())
    other = lines["_other"].to_numpy(dtype=bool) & ~on_lines.mask
    return _IdVerdicts(on_lines, on_returns, routes,
                       {"order_lines": (int((~on_lines.mask & ~other).sum()), int(other.sum())),
                        "returns": (int(kept_returns.sum()), int(excluded.sum()))}, several)


def _empty_lines() -> pd.DataFrame:
    return pd.DataFrame({"line_id": pd.Series([], dtype="string[pyarrow]"), "_part": np.array([], np.int64),
                         "_pos": np.array([], np.int64), "_clean": np.array([], bool),
                         "ordered_at": pd.Series([], dtype="datetime64[ns, UTC]"), "quantity": np.array([], float),
                         "_other": np.array([], bool), "_cshard": np.array([], np.int32),
                         "_pshard": np.array([], np.int32)})


def _empty_returns() -> pd.DataFrame:
    return pd.DataFrame({"line_id": pd.Series([], dtype="string[pyarrow]"), "_part": np.array([], np.int64),
                         "_pos": np.array([], np.int64), "_clean": np.array([], bool),
                         "returned_at": pd.Series([], dtype="datetime64[ns, UTC]"),
                         "refunded_at": pd.Series([], dtype="datetime64[ns, UTC]"), "quantity": np.array([], float),
                         "return_id": pd.Series([], dtype="string[pyarrow]")})


def _verdicts_for(verdict: _IdVerdicts, table: str, part: int):
    """One part's share of a shard's verdicts (a small object: it travels with the part's task)."""
    recorded = verdict.lines if table == "order_lines" else verdict.returns
    return recorded.for_part(part), (verdict.routes.get(part) if table == "returns" else None)


@dataclass
class _Judged:
    state: _PartState
    rejections: Rejections
    excluded: np.ndarray
    load: TableLoad
    route: pd.DataFrame | None


def _judge_part(part: TablePart, catalogue, other, found: list) -> _Judged:
    """Read and check a part again (so that a clean part depends on its file and its verdicts
    only) and apply the shards' verdicts in the single-process order."""
    state = _check_part(part, catalogue, other)
    if state.structural:   # the file changed since it was read
        raise DataError(state.structural)
    rejections = state.rejections
    _replay(rejections, [calls for calls, _ in found])   # duplicate ids / the rules across returns
    route = None
    if part.table == "order_lines":
        check_order_lines_against_products(state.typed, catalogue, rejections)
        excluded = state.other & ~rejections.mask
    else:
        routes = [r for _, r in found if r is not None and len(r)]
        route = pd.concat(routes, ignore_index=True) if routes else None
        excluded = np.zeros(len(state.typed), dtype=bool)
        if route is not None:
            excluded[route["_pos"].to_numpy()[route["_excluded"].to_numpy()]] = True
            excluded &= ~rejections.mask
    raw = state.raw
    problems = list(rejections.problems)
    malformed = _malformed_problem(raw)
    if malformed:
        problems.insert(0, malformed)
    kept = int((~rejections.mask & ~excluded).sum())
    load = TableLoad(part.table, raw.file, len(raw.frame) + len(raw.malformed), kept, problems,
                     warnings=list(rejections.warnings), rows_excluded=int(excluded.sum()))
    return _Judged(state, rejections, excluded, load, route)


def _part_problems(part: TablePart, catalogue, other, found: list) -> list[Problem]:
    return _judge_part(part, catalogue, other, found).load.problems


def _finish_part(part: TablePart, catalogue, other, found: list, quarantine: str, single: bool,
                 prices: pd.Series | None, shards: int):
    """Judge the part, write its quarantine file, return its clean rows and a summary."""
    judged = _judge_part(part, catalogue, other, found)
    state, rejections, load = judged.state, judged.rejections, judged.load
    raw = state.raw if single else RawTable(part.stem, state.raw.path, state.raw.frame, state.raw.malformed,
                                            state.raw.row_numbers)
    directory = Path(quarantine) if single else Path(quarantine) / part.table
    load.quarantine_file = write_quarantine(raw, rejections, directory, load)
    keep = ~rejections.mask & ~judged.excluded
    clean = state.typed[keep]
    clean.insert(0, "_pos", np.flatnonzero(keep))
    summary = {"load": load}
    if part.table == "order_lines":
        clean = with_line_defaults(clean.reset_index(drop=True), prices)
        clean["_cshard"] = shard_of(clean["customer_id"], shards)
        clean["_pshard"] = shard_of(clean["product_id"], shards)
        summary.update({"pairs": clean[["product_id", "size"]].drop_duplicates(),
                        "first": clean["ordered_at"].min(), "last": clean["ordered_at"].max(),
                        "excluded_lines": int(judged.excluded.sum()),
                        "excluded_units": float(state.typed["quantity"][judged.excluded].fillna(1).sum())})
    else:
        route = judged.route.set_index("_pos") if judged.route is not None else None
        at = clean["_pos"].to_numpy()
        for column, dtype in (("quantity", np.float64), ("_cshard", np.int32), ("_pshard", np.int32)):
            clean[column] = route[column].reindex(at).to_numpy(dtype=dtype) if route is not None \
                else np.zeros(len(clean), dtype=dtype)
        summary["excluded_returns"] = int(judged.excluded.sum())
    return clean.reset_index(drop=True), summary


def _per_line(events: pd.DataFrame):
    """Every return of some lines → one row per line (:func:`~returnrisk.data.loader.line_returns`)
    and what the run needs to know of them."""
    if not len(events):
        return events, {"pairs": None, "last": pd.NaT, "last_refund": pd.NaT, "n": 0}
    returns, _ = line_returns(events)
    from returnrisk.reasons.fill import labelled_pairs

    return returns, {"pairs": labelled_pairs(returns), "last": returns["returned_at"].max(),
                     "last_refund": returns["refunded_at"].max(), "n": len(returns)}


def _fill(returns: pd.DataFrame, classifier) -> pd.DataFrame:
    from returnrisk.reasons.fill import fill_reasons

    if not len(returns):
        return returns
    return fill_reasons(returns, classifier=classifier)


def _load_products(parts: list[TablePart], flags) -> dict:
    """The catalogue, checked as one table (its parts, if any, concatenated in name order)."""
    spec = TABLES["products"]
    raws = [read_part(p) for p in parts]
    bad = [r for r in raws if isinstance(r, Problem)]
    if bad:
        return {"structural": bad}
    raw = raws[0] if len(raws) == 1 else RawTable(
        "products", Path("products"), pd.concat([r.frame for r in raws], ignore_index=True),
        [m for r in raws for m in r.malformed])
    structural = _structural_problems(raw, spec)
    if structural:
        return {"structural": structural}
    rejections = Rejections("products", raw.file, len(raw.frame), raw.row_numbers)
    typed = _with_optional_columns(parse_and_check_table(raw.frame, spec, rejections), spec)
    clean = typed[~rejections.mask]
    other = non_merchandise_products(clean, flags)
    excluded = (typed["product_id"].isin(other["product_id"]).to_numpy() & ~rejections.mask) if len(other) \
        else np.zeros(len(typed), dtype=bool)
    problems = list(rejections.problems)
    malformed = _malformed_problem(raw)
    if malformed:
        problems.insert(0, malformed)
    load = TableLoad("products", raw.file, len(raw.frame) + len(raw.malformed),
                     int((~rejections.mask & ~excluded).sum()), problems, warnings=list(rejections.warnings),
                     rows_excluded=int(excluded.sum()))
    return {"structural": [], "raw": raw, "rejections": rejections, "load": load,
            "catalogue": pd.Index(clean["product_id"]), "other": other,
            "products": typed[~rejections.mask & ~excluded].reset_index(drop=True)}


def _write_products_quarantine(raw: RawTable, rejections: Rejections, quarantine: str, load: TableLoad):
    return write_quarantine(raw, rejections, Path(quarantine), load)


# ---- on the client ----------------------------------------------------------------------------
@dataclass
class ReadShop:
    """The parts read and checked row by row (first half of loading; see :func:`read_partitioned`)."""

    data: str
    parts: dict[str, list[TablePart]]
    products: dict
    line_states: list
    return_states: list
    rows_read: dict[str, int]
    quarantine: str
    shards: int
    catalogue: object = None
    other: object = None
    #: this run's token in the task keys: two runs on one cluster (or the same folder read again
    #: after its files changed) never share a result
    run: str = ""


def read_partitioned(client, data: str, *, quarantine_dir: str | Path | None = None,
                     shards: int | None = None, merchandise_flags=None) -> ReadShop:
    """Find the parts, check the catalogue, read and check every part of lines and returns where it lies.

    ``shards`` is the number of line-id, customer and product shards (default: twice the workers'
    threads); ``merchandise_flags`` as in :func:`returnrisk.data.loader.load_shop`.
    """
    parts = find_parts(data)
    quarantine = str(quarantine_dir) if quarantine_dir else (
        str(default_quarantine_dir(Path(str(data).removeprefix("file://")))) if is_local(data) else None)
    if quarantine is None:
        raise DataError([Problem("-", str(data), "quarantine_unwritable",
                                 f"no quarantine folder for the remote shop {data}",
                                 "pass --quarantine PATH to a folder every worker can write", structural=True)])
    workers = max(1, sum(client.nthreads().values()))
    shards = shards or max(2, 2 * workers)
    run = uuid.uuid4().hex[:12]
    products = client.submit(_load_products, parts["products"], merchandise_flags,
                             key=f"load-products-{run}").result()
    catalogue = hold(client, products.get("catalogue", pd.Index([])), "catalogue")
    other = hold(client, pd.Index(products["other"]["product_id"]) if "other" in products else pd.Index([]),
                 "not-merchandise")
    line_states = [client.submit(_check_part, p, catalogue, other, key=f"read-{p.table}-{p.index}-{p.label}-{run}")
                   for p in parts["order_lines"]]
    return_states = [client.submit(_check_part, p, None, None, key=f"read-{p.table}-{p.index}-{p.label}-{run}")
                     for p in parts["returns"]]
    summaries = client.gather([client.submit(_read_summary, s) for s in line_states + return_states])
    structural = list(products["structural"]) + [p for ps, _ in summaries for p in ps]
    if structural:
        raise DataError(structural)
    rows_read = {"order_lines": sum(n for _, n in summaries[:len(line_states)]),
                 "returns": sum(n for _, n in summaries[len(line_states):])}
    return ReadShop(str(data), parts, products, line_states, return_states, rows_read, quarantine, shards,
                    catalogue, other, run)


def validate_partitioned(client, read: ReadShop, *, strict: bool = False, reason_filler: bool = True) -> LoadedShop:
    """The rules across rows, the quarantine files, the clean parts, returns per line, inferred reasons."""
    parts, shards = read.parts, read.shards
    line_pieces = client.map(_id_pieces, read.line_states, shards=shards)
    return_pieces = client.map(_id_pieces, read.return_states, shards=shards)
    verdicts = []
    for j in range(shards):
        lj = client.submit(concat_frames, [client.submit(operator.getitem, p, j) for p in line_pieces])
        rj = client.submit(concat_frames, [client.submit(operator.getitem, p, j) for p in return_pieces])
        verdicts.append(client.submit(_judge_ids, lj, rj))
    del line_pieces, return_pieces
    kept = client.gather([client.submit(operator.attrgetter("kept"), v) for v in verdicts])
    several = sum(client.gather([client.submit(operator.attrgetter("several"), v) for v in verdicts]))
    # the verdicts travel inside the tasks that finish the parts: a clean part's lineage is then
    # its file, these verdicts and the broadcast catalogue, so Dask can always recompute it
    found = {table: [client.gather([client.submit(_verdicts_for, v, table, part.index) for v in verdicts])
                     for part in parts[table]] for table in ("order_lines", "returns")}
    del verdicts
    read.line_states = read.return_states = []
    products = read.products
    catalogue, other = read.catalogue, read.other

    def arguments(table):
        return (catalogue, other) if table == "order_lines" else (None, None)

    counted = {"products": products["load"]}
    for table in ("order_lines", "returns"):
        counted[table] = TableLoad(table, _table_label(parts[table]), read.rows_read[table],
                                   sum(k[table][0] for k in kept), rows_excluded=sum(k[table][1] for k in kept))
    empty = empty_tables(counted)
    if strict or empty:   # nothing is written: the problems are the parts' own, found without writing
        problems = list(products["load"].problems) + [
            p for table in ("order_lines", "returns")
            for ps in client.gather([client.submit(_part_problems, part, *arguments(table), found[table][i])
                                     for i, part in enumerate(parts[table])]) for p in ps]
        if problems or empty:
            raise DataError(problems + empty)

    product_load = products["load"]
    product_load.quarantine_file = client.submit(_write_products_quarantine, products["raw"], products["rejections"],
                                                 read.quarantine, product_load).result()
    prices = hold(client, products["products"].set_index("product_id")["price"], "prices")
    finished = {}
    for table in ("order_lines", "returns"):
        single = len(parts[table]) == 1 and "/" not in parts[table][0].label
        finished[table] = [
            client.submit(_finish_part, part, *arguments(table), found[table][i], read.quarantine, single,
                          prices if table == "order_lines" else None, shards,
                          key=f"clean-{table}-{part.index}-{part.label}-{read.run}")
            for i, part in enumerate(parts[table])]
    line_parts = [client.submit(operator.getitem, f, 0) for f in finished["order_lines"]]
    events = [client.submit(operator.getitem, f, 0) for f in finished["returns"]]
    line_sums = client.gather([client.submit(operator.getitem, f, 1) for f in finished["order_lines"]])
    event_sums = client.gather([client.submit(operator.getitem, f, 1) for f in finished["returns"]])
    del finished
    # only the small shared values are held; every part is recomputed from its lineage (its file, its
    # verdicts, the catalogue) if the worker holding it dies — holding the intermediates as well
    # doubled what a worker had to keep or spill at 30M lines
    keep = [prices, catalogue, other]
    if several:   # some lines came back in several returns: gather each line's returns on one shard
        events = exchange(client, events, split_on, shards, name="returns-by-line", column="_cshard")
    per_line = [client.submit(_per_line, e) for e in events]
    del events
    return_parts = [client.submit(operator.getitem, f, 0) for f in per_line]
    return_sums = client.gather([client.submit(operator.getitem, f, 1) for f in per_line])
    del per_line

    if reason_filler:
        from returnrisk.reasons.fill import classifier_for_examples, examples_from_counts

        pairs = [s["pairs"] for s in return_sums if s["pairs"] is not None and len(s["pairs"])]
        counts = pd.concat(pairs, ignore_index=True).groupby(["text", "code"], sort=False, observed=True)["n"] \
            .sum().reset_index() if pairs else None
        classifier = classifier_for_examples(*examples_from_counts(counts)) if counts is not None \
            else classifier_for_examples(np.array([], object), np.array([], object), np.array([], float))
        classifier = hold(client, classifier, "reason-classifier")
        keep.append(classifier)
        return_parts = [client.submit(_fill, r, classifier) for r in return_parts]

    tables = {"products": product_load}
    for table, sums in (("order_lines", line_sums), ("returns", event_sums)):
        loads = [s["load"] for s in sums]
        files = [t.quarantine_file for t in loads if t.quarantine_file]
        tables[table] = TableLoad(table, _table_label(parts[table]), sum(t.rows_read for t in loads),
                                  sum(t.rows_kept for t in loads), [p for t in loads for p in t.problems],
                                  files[0] if files else None, [w for t in loads for w in t.warnings],
                                  sum(t.rows_excluded for t in loads))
    merchandise = MerchandiseReport(products["other"])
    if len(products["other"]):
        merchandise.lines = sum(s["excluded_lines"] for s in line_sums)
        merchandise.units = float(sum(s["excluded_units"] for s in line_sums))
        merchandise.returns = sum(s["excluded_returns"] for s in event_sums)
    pairs = pd.concat([s["pairs"] for s in line_sums], ignore_index=True).drop_duplicates(ignore_index=True)
    return LoadedShop(
        products=products["products"], line_parts=line_parts, return_parts=return_parts, tables=tables,
        parts=parts, shards=shards,
        first_order=min(s["first"] for s in line_sums if pd.notna(s["first"])),
        last_order=max(s["last"] for s in line_sums if pd.notna(s["last"])),
        last_return=max((s["last"] for s in return_sums if pd.notna(s["last"])), default=pd.NaT),
        last_refund=max((s["last_refund"] for s in return_sums if pd.notna(s["last_refund"])), default=pd.NaT),
        n_returns=sum(s["n"] for s in return_sums), pairs=pairs, merchandise=merchandise,
        keep=keep,
    )


def load_partitioned(client, data: str, *, quarantine_dir=None, strict: bool = False, reason_filler: bool = True,
                     shards: int | None = None, merchandise_flags=None) -> LoadedShop:
    """:func:`read_partitioned` then :func:`validate_partitioned`."""
    read = read_partitioned(client, data, quarantine_dir=quarantine_dir, shards=shards,
                            merchandise_flags=merchandise_flags)
    return validate_partitioned(client, read, strict=strict, reason_filler=reason_filler)


def _table_label(parts: list[TablePart]) -> str:
    return parts[0].label if len(parts) == 1 and "/" not in parts[0].label else f"{parts[0].table}/"
