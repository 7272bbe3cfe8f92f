"""The words of the fix list in English and French: lever names, statuses, dismissal reasons, columns."""

from __future__ import annotations

from returnrisk.fixes.levers import LEVER_SHORT

__all__ = ["DISMISS_LABELS", "LEVER_NAMES", "PHASE_LABELS", "VERDICT_LABELS", "lever_name", "phase_label"]

#: Short lever names for tables (a lever not listed falls back on its code's short name).
LEVER_NAMES: dict[str, dict[str, str]] = {
    "add_size_guide": {"en": "Add a size guide", "fr": "Ajouter un guide des tailles"},
    "runs_small": {"en": "Runs small", "fr": "Taille petit"},
    "runs_large": {"en": "Runs large", "fr": "Taille grand"},
    "improve_photos": {"en": "Improve the photos", "fr": "Améliorer les photos"},
    "improve_description": {"en": "Improve the description", "fr": "Améliorer la description"},
    "quality_review": {"en": "Review quality", "fr": "Revoir la qualité"},
    "packaging_review": {"en": "Review the packaging", "fr": "Revoir l'emballage"},
    "investigate_returns": {"en": "Investigate the returns", "fr": "Analyser les retours"},
}

PHASE_LABELS: dict[str, dict[str, str]] = {
    "open": {"en": "Open", "fr": "À faire"},
    "in_progress": {"en": "In progress", "fr": "En cours"},
    "done": {"en": "Done", "fr": "Fait"},
    "measuring": {"en": "Done · measuring", "fr": "Fait · en mesure"},
    "measured": {"en": "Done · measured", "fr": "Fait · mesuré"},
    "dismissed": {"en": "Dismissed", "fr": "Écarté"},
}

DISMISS_LABELS: dict[str, dict[str, str]] = {
    "wrong": {"en": "Wrong", "fr": "Erroné"},
    "not_worth_it": {"en": "Not worth it", "fr": "Pas rentable"},
    "already_done": {"en": "Already done", "fr": "Déjà fait"},
}

VERDICT_LABELS: dict[str, dict[str, str]] = {
    "reduced": {"en": "reduced", "fr": "en baisse"},
    "no_clear_change": {"en": "no clear change", "fr": "pas de changement net"},
    "increased": {"en": "increased", "fr": "en hausse"},
    "too_early": {"en": "too early", "fr": "trop tôt"},
    "not_measurable": {"en": "not measurable", "fr": "non mesurable"},
}


def _lang(lang: str) -> str:
    return "fr" if lang == "fr" else "en"


def lever_name(lever: str, lang: str = "en") -> str:
    """"Runs small", not ``runs_small``."""
    if lever in LEVER_NAMES:
        return LEVER_NAMES[lever][_lang(lang)]
    return LEVER_SHORT.get(lever, lever.replace("_", " ")).capitalize()


def phase_label(phase: str, lang: str = "en") -> str:
    return PHASE_LABELS.get(phase, {}).get(_lang(lang), phase)
