"""Size labels from platform options: ``EU 38`` → ``38``, ``T2`` → ``M``, ``32/34`` → ``W32 L34``.

The label is kept as sold whenever :func:`returnrisk.sizes.parse_size_label` already places it in
a size system (``M``, ``38``, ``W32/L34``, ``10.5``); otherwise a few common spellings are
rewritten into one it understands. A label that still cannot be placed is kept as it is (the
model treats it as an unknown size) and reported.

French ``T0``…``T6`` sizes follow the usual brand charts: T0 = XS (34), T1 = S (36), T2 = M (38),
T3 = L (40), T4 = XL (42), T5 = XXL (44), T6 = 3XL (46).
"""

from __future__ import annotations

import re

from returnrisk.sizes import parse_size_label

__all__ = ["normalise_size", "size_from_options", "FRENCH_T_SIZES"]

FRENCH_T_SIZES: dict[str, str] = {"0": "XS", "1": "S", "2": "M", "3": "L", "4": "XL", "5": "XXL", "6": "3XL"}

_REGION = r"(?:EU|EUR|FR|US)"
_NUMBER = r"(\d{1,2}(?:[.,]5)?)"
_REGION_NUMBER = re.compile(rf"^(?:{_REGION}\s*{_NUMBER}|{_NUMBER}\s*{_REGION})$", re.IGNORECASE)
_FRENCH_T = re.compile(r"^T\s?([0-6])$", re.IGNORECASE)
_WAIST_LENGTH = re.compile(r"^(\d{2})\s*/\s*(\d{2})$")
_TAILLE_PREFIX = re.compile(r"^(?:taille|size|gr(?:ö|oe)(?:ß|ss)e|talla|taglia)\s*:?\s*", re.IGNORECASE)


def normalise_size(raw: object) -> tuple[str, bool]:
    """``(label, placed)``: the label to write and whether it lands in a known size system.

    An empty label or "one size" gives ``("", True)`` (an unsized line).
    """
    if raw is None:
        return "", True
    text = " ".join(str(raw).split())
    text = _TAILLE_PREFIX.sub("", text)
    kind, _ = parse_size_label(text)
    if kind == "unsized":
        return "", True
    if kind != "unknown":
        return text, True
    match = _REGION_NUMBER.match(text)
    if match:
        number = (match.group(1) or match.group(2)).replace(",", ".")
        return number, parse_size_label(number)[0] != "unknown"
    match = _FRENCH_T.match(text)
    if match:
        return FRENCH_T_SIZES[match.group(1)], True
    match = _WAIST_LENGTH.match(text)
    if match and 24 <= int(match.group(1)) <= 44:
        return f"W{match.group(1)} L{match.group(2)}", True
    return text, False


def size_from_options(options: object, is_size_option) -> str | None:
    """The raw value of the size option in a list of ``(name, value)`` pairs (``None`` if none).

    ``is_size_option`` decides from the option's name (see
    :meth:`~returnrisk.importers.settings.ImportSettings.is_size_option`); a colour option is
    never taken, whatever its values look like.
    """
    if not options:
        return None
    for name, value in options:
        if is_size_option(name) and value not in (None, ""):
            return str(value)
    return None
