"""Text normalisation applied before vectorising a return reason.

Customers write in French or English, with or without accents, in capitals, with repeated
letters ("tooo small") and with punctuation everywhere. The classifier sees a canonical form:
lowercase, accents stripped (``é`` → ``e``, ``œ`` → ``oe``), anything that is not a letter or a
digit turned into a single space, runs of three or more identical letters cut to two, and
numbers of four digits or more (order and reference numbers) replaced by ``0000``.

The work is done with Arrow compute kernels, so normalising many texts costs no Python loop.
"""

from __future__ import annotations

import string
from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["normalize_text", "normalize_texts"]

_LIGATURES = (("œ", "oe"), ("æ", "ae"), ("ß", "ss"))
_TRIPLES = "|".join(letter * 3 for letter in string.ascii_lowercase)


def normalize_texts(texts: Iterable[str | None] | np.ndarray | pa.Array) -> np.ndarray:
    """Normalise many texts at once; missing values stay ``None``.

    Returns an object array of ``str`` (or ``None``) of the same length as ``texts``.
    """
    if isinstance(texts, pa.ChunkedArray):
        array = texts.combine_chunks()
    elif isinstance(texts, pa.Array):
        array = texts
    else:
        values = texts if isinstance(texts, np.ndarray) else list(texts)
        array = pa.array(values, type=pa.string(), from_pandas=True)
    if not pa.types.is_string(array.type) and not pa.types.is_large_string(array.type):
        array = pc.cast(array, pa.string())
    array = pc.utf8_lower(array)
    array = pc.utf8_normalize(array, form="NFKD")
    array = pc.replace_substring_regex(array, pattern=r"\p{Mn}+", replacement="")
    for ligature, replacement in _LIGATURES:
        array = pc.replace_substring(array, pattern=ligature, replacement=replacement)
    array = pc.replace_substring_regex(array, pattern=r"[^\p{L}\p{N}]+", replacement=" ")
    # order and reference numbers say nothing about the reason: one token for them all
    array = pc.replace_substring_regex(array, pattern=r"\p{N}{4,}", replacement="0000")
    array = pc.utf8_trim_whitespace(array)
    result = np.asarray(array.to_numpy(zero_copy_only=False), dtype=object)
    # "tooo" → "too": RE2 has no back-references, so one pass per letter, on the few texts
    # that have a letter three times in a row
    repeated = pc.fill_null(pc.match_substring_regex(array, pattern=_TRIPLES), False)
    rows = np.flatnonzero(repeated.to_numpy(zero_copy_only=False))
    if len(rows):
        subset = array.take(pa.array(rows))
        for letter in string.ascii_lowercase:
            subset = pc.replace_substring_regex(subset, pattern=letter + "{3,}", replacement=letter * 2)
        result[rows] = subset.to_numpy(zero_copy_only=False)
    return result


def normalize_text(text: str) -> str:
    """Normalise one text (see the module docstring): ``"Trop SERRÉ!!"`` → ``"trop serre"``."""
    return normalize_texts([text])[0] or ""
