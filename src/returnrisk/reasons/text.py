"""Text normalisation applied before vectorising a return reason.

Customers write in French or English, with or without accents, in capitals, with repeated
letters ("tooo small") and with punctuation everywhere. The classifier sees a canonical form:
lowercase, accents stripped (``é`` → ``e``, ``œ`` → ``oe``), anything that is not a letter or a
digit turned into a single space, runs of three or more identical letters cut to two.

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
    # RE2 has no back-references in patterns: one pass per letter ("tooo" → "too")
    for letter in string.ascii_lowercase:
        array = pc.replace_substring_regex(array, pattern=letter + "{3,}", replacement=letter * 2)
    array = pc.utf8_trim_whitespace(array)
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=object)


def normalize_text(text: str) -> str:
    """Normalise one text (see the module docstring): ``"Trop SERRÉ!!"`` → ``"trop serre"``."""
    return normalize_texts([text])[0] or ""
