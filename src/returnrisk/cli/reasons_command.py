"""``returnrisk reasons``: infer the reason code of every row of a file of free-text reasons."""

from __future__ import annotations

import csv
import logging
import os
import tempfile
import time
from pathlib import Path

import typer

from returnrisk.cli import app
from returnrisk.cli.console import console, err_console, print_json_line
from returnrisk.errors import InputError

__all__ = ["OUTPUT_COLUMNS", "read_reasons_file", "reasons", "write_reasons_file"]

log = logging.getLogger(__name__)

SUFFIXES = (".csv", ".parquet")
TEXT_COLUMN = "reason_text"
CODE_COLUMN = "reason_code"
OUTPUT_COLUMNS = ("reason_code_inferred", "reason_confidence", "reason_review")
#: = returnrisk.reasons.DEFAULT_THRESHOLD, written out so that the CLI starts without
#: importing scikit-learn (a test checks that both agree)
DEFAULT_THRESHOLD = 0.5


def _check_suffix(path: Path, role: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(
            f"{role} file {path} has extension '{path.suffix or '(none)'}', which is not supported: "
            f"name it .csv or .parquet (the format is chosen by the extension)"
        )
    return suffix


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


def read_reasons_file(path: Path):
    """Read a CSV (every column as text) or Parquet file as an Arrow table.

    Unlike :func:`returnrisk.io_files.read_table` the table stays in Arrow, so the columns the
    command does not touch are written back exactly (Parquet types included). Raises
    :class:`InputError` naming the problem and the fix.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    suffix = _check_suffix(path, "input")
    if not path.exists():
        raise InputError(f"input file {path} does not exist: check the path given to --input")
    if path.is_dir():
        raise InputError(f"input {path} is a folder: pass the .csv or .parquet file itself to --input")
    kind = "Parquet" if suffix == ".parquet" else "CSV"
    try:
        if suffix == ".parquet":
            return pq.read_table(path)
        with open(path, newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), None)
        if not header:
            raise InputError(f"{path.name} is empty (no header line): "
                             f"export it with a header row that includes '{TEXT_COLUMN}'")
        # every column as text: values are passed through exactly as written
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=1 << 24),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
    except UnicodeDecodeError as exc:
        raise InputError(f"cannot read {path.name}: not UTF-8 text ({exc.reason} at byte {exc.start}); "
                         "save the file as UTF-8 CSV (or export it as Parquet)") from exc
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InputError(
            f"cannot read {path.name} as {kind}: {_first_line(exc)}; check that it is a valid {kind} "
            "file" + (" (UTF-8, comma-separated, with a header row, values with commas or line "
                      "breaks quoted)" if kind == "CSV" else "")
        ) from exc


def _text_column_name(table, path: Path) -> str:
    names = table.column_names
    for name in names:
        if name.lstrip("\ufeff").strip() == TEXT_COLUMN:
            return name
    shown = ", ".join(names[:10]) + (", …" if len(names) > 10 else "")
    raise InputError(
        f"column '{TEXT_COLUMN}' missing in {path.name} (columns found: {shown or 'none'}): "
        f"add a '{TEXT_COLUMN}' column with the customer's words, or rename the column that holds them"
    )


def write_reasons_file(table, path: Path) -> None:
    """Write ``table`` to ``path`` (.csv or .parquet) atomically: a temporary file, then a rename.

    Parquet keeps the Arrow types of the input as they are; CSV is written by pandas (minimal
    quoting, missing values as empty cells). Missing parent folders are created.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    suffix = _check_suffix(path, "output")
    directory = path.parent
    tmp = None
    try:
        directory.mkdir(parents=True, exist_ok=True)  # as returnrisk.io_files.write_table does
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        if suffix == ".parquet":
            pq.write_table(table, tmp)
        else:
            import pandas as pd

            frame = table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get)
            frame.to_csv(tmp, index=False, na_rep="")
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}; "
                         "pass --output to a writable location") from exc
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


@app.command("reasons")
def reasons(
    input_file: Path = typer.Option(
        ..., "--input", "-i",
        help="CSV or Parquet file with a 'reason_text' column (other columns are kept as they are).",
    ),
    output_file: Path = typer.Option(
        ..., "--output", "-o",
        help="CSV or Parquet file to write (by extension): the input plus reason_code_inferred, "
             "reason_confidence and reason_review.",
    ),
    threshold: float = typer.Option(
        DEFAULT_THRESHOLD, "--threshold",
        help="Confidence under which the code is 'other' and the row is marked for review (0–1).",
    ),
    refine: bool = typer.Option(
        True, "--refine/--no-refine",
        help="Also learn from the input's rows that have both a reason_code and a reason_text.",
    ),
    as_json: bool = typer.Option(False, "--json", help="End with a JSON line summarising the run."),
) -> None:
    """Infer a reason code from the customer's words, row by row (French or English).

    Rows without a text get no code. Codes whose confidence is under --threshold are written
    'other' with reason_review=true. Exit code 2 when the input cannot be used.
    """
    started = time.perf_counter()
    if not 0.0 <= threshold <= 1.0:
        raise InputError(f"--threshold {threshold} is outside [0, 1]: use e.g. {DEFAULT_THRESHOLD}")
    _check_suffix(input_file, "input")
    _check_suffix(output_file, "output")
    table = read_reasons_file(input_file)
    text_name = _text_column_name(table, input_file)

    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    from returnrisk.reasons.fill import _seed_classifier, fit_for_shop, infer_reasons
    from returnrisk.taxonomy import REASON_CODES

    column = table.column(text_name)
    if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
        column = pc.cast(column, pa.string())
    texts = column.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get)

    code_name = next((n for n in table.column_names if n.lstrip("\ufeff").strip() == CODE_COLUMN), None)
    n_labelled = 0
    if refine and code_name is not None:
        codes = table.column(code_name).cast(pa.string()).to_pandas(
            types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get).str.strip()
        given = codes.notna() & (codes != "")
        unknown = given & ~codes.isin(list(REASON_CODES))
        if unknown.any():
            log.warning("%d rows have a %s outside the taxonomy (e.g. %r): not used to learn",
                        int(unknown.sum()), CODE_COLUMN, codes[unknown].iloc[0])
        labelled = pd.DataFrame({"reason_code": codes.where(given & ~unknown), "reason_text": texts})
        n_labelled = int((labelled["reason_code"].notna() & labelled["reason_text"].notna()).sum())
        classifier = fit_for_shop(labelled, threshold=threshold)
    else:
        classifier = _seed_classifier()
    result = infer_reasons(texts, classifier, threshold)

    for name in OUTPUT_COLUMNS:
        if name in table.column_names:
            log.warning("%s already has a column '%s': it is replaced", input_file.name, name)
            table = table.drop_columns([name])
    confidence = np.round(result.confidence, 4)
    table = table.append_column(OUTPUT_COLUMNS[0], pa.array(result.codes, type=pa.string(), from_pandas=True))
    table = table.append_column(OUTPUT_COLUMNS[1], pa.array(confidence, mask=np.isnan(confidence)))
    table = table.append_column(OUTPUT_COLUMNS[2], pa.array(result.review))
    write_reasons_file(table, output_file)

    n_rows = table.num_rows
    with_text = int((~np.isnan(result.confidence)).sum())
    n_review = int(result.review.sum())
    counts = pd.Series(result.codes).value_counts()
    counts = {code: int(counts.get(code, 0)) for code in REASON_CODES if counts.get(code, 0)}
    out = err_console if as_json else console  # with --json, stdout holds the JSON line only
    out.print(
        f"{n_rows:,} rows read from {input_file}: {with_text:,} with a text "
        f"({result.n_distinct:,} distinct) got a reason code"
        + (f" (classifier refined on {n_labelled:,} rows with code and text)" if n_labelled else "")
    )
    if with_text:
        out.print("  " + " · ".join(f"{code} {n:,}" for code, n in counts.items()))
        out.print(f"  {n_review:,} ({n_review / with_text:.1%}) under the confidence threshold "
                      f"{threshold:.2f}: written 'other' and marked reason_review=true")
    out.print(f"written to {output_file} in {time.perf_counter() - started:.1f} s")
    if as_json:
        print_json_line({
            "input": str(input_file), "output": str(output_file), "rows": n_rows,
            "with_text": with_text, "distinct_texts": result.n_distinct, "review": n_review,
            "threshold": threshold, "refined_on_rows": n_labelled, "codes": counts,
        })
