"""What demo customers write when they return something, in French and English.

Phrases are assembled from fragments and then roughened the way real messages are: lower
case, missing accents, typos, a greeting, a mix of languages. The pool is built once per seed
and sampled by index, so millions of returns cost no per-row Python work.

These phrasings are deliberately *not* the reason classifier's seed set: the classifier is
evaluated on text it was not written from.
"""

from __future__ import annotations

import unicodedata

import numpy as np

__all__ = ["PHRASES", "build_pool"]

PHRASES: dict[str, dict[str, list[str]]] = {
    "too_small": {
        "en": ["it's {adv} too small", "way too tight around the {part}", "size runs small, I need one size up",
               "couldn't even zip it up", "too small, ordered my usual size", "tight on the {part}, doesn't fit",
               "smaller than expected", "need the next size up please", "the {part} is too narrow"],
        "fr": ["{adv_fr} trop petit", "trop serré au niveau des {part_fr}", "taille petit, il me faut la taille au-dessus",
               "impossible de le fermer", "trop petit alors que j'ai pris ma taille habituelle",
               "ça serre trop", "plus petit que prévu", "je voudrais la taille au dessus", "taille trop juste"],
    },
    "too_large": {
        "en": ["{adv} too big", "too loose around the {part}", "runs large, need a size down", "swimming in it",
               "far too baggy", "too large even in my normal size", "the {part} is too wide", "bigger than expected"],
        "fr": ["{adv_fr} trop grand", "trop large au niveau des {part_fr}", "taille grand, il me faut une taille en dessous",
               "je flotte dedans", "beaucoup trop ample", "trop grand alors que c'est ma taille", "plus grand que prévu"],
    },
    "looks_different": {
        "en": ["colour is nothing like the photos", "looks different from the picture", "the colour is much darker in real life",
               "not the same shade as online", "photos are misleading", "looks cheap compared to the pictures"],
        "fr": ["la couleur ne correspond pas aux photos", "différent de la photo", "la couleur est beaucoup plus foncée en vrai",
               "pas la même teinte que sur le site", "les photos sont trompeuses", "rendu décevant par rapport aux photos"],
    },
    "not_as_described": {
        "en": ["not as described", "the description said cotton but it's polyester", "description is wrong about the length",
               "not what the listing said", "material is not the one described", "features listed are missing"],
        "fr": ["pas conforme à la description", "la description indiquait du coton mais c'est du polyester",
               "la longueur ne correspond pas à la description", "ce n'est pas ce qui était annoncé",
               "la matière n'est pas celle décrite", "non conforme au descriptif"],
    },
    "poor_quality": {
        "en": ["poor quality", "fabric feels cheap", "seams came apart after one wear", "pilling after the first wash",
               "bad stitching", "quality is really disappointing", "thin see-through fabric"],
        "fr": ["mauvaise qualité", "le tissu fait bon marché", "les coutures ont lâché après un port",
               "bouloche dès le premier lavage", "finitions bâclées", "qualité vraiment décevante", "tissu trop fin et transparent"],
    },
    "damaged": {
        "en": ["arrived damaged", "there was a hole in it", "box was crushed and the item torn", "stain on the front when it arrived",
               "broken zip on arrival", "heel was broken in the box"],
        "fr": ["reçu abîmé", "il y avait un trou", "colis écrasé et article déchiré", "tache sur le devant à la réception",
               "fermeture éclair cassée à la réception", "talon cassé dans la boîte"],
    },
    "wrong_item": {
        "en": ["wrong item sent", "received a different product", "you sent the wrong size", "not the colour I ordered",
               "this is not what I ordered"],
        "fr": ["mauvais article envoyé", "j'ai reçu un autre produit", "vous m'avez envoyé la mauvaise taille",
               "pas la couleur commandée", "ce n'est pas ce que j'ai commandé"],
    },
    "late_delivery": {
        "en": ["arrived too late", "delivery took three weeks", "came after the event, no longer needed",
               "too late for christmas", "parcel was delayed"],
        "fr": ["arrivé trop tard", "livraison beaucoup trop longue", "reçu après l'événement, plus besoin",
               "trop tard pour noël", "colis en retard"],
    },
    "changed_mind": {
        "en": ["changed my mind", "don't need it anymore", "not for me after all", "ordered by mistake",
               "found something else I prefer", "don't like it on me", "just not my style"],
        "fr": ["j'ai changé d'avis", "je n'en ai plus besoin", "finalement ça ne me plaît pas", "commandé par erreur",
               "j'ai trouvé autre chose", "ne me va pas au teint", "pas mon style finalement"],
    },
    "other": {
        "en": ["other", "personal reasons", "gift, the person didn't want it", "see my email", "no comment"],
        "fr": ["autre", "raisons personnelles", "cadeau qui n'a pas plu", "voir mon mail", "sans commentaire"],
    },
}

_FILL = {
    "adv": ["really", "a bit", "way", "much", "slightly", "definitely"],
    "part": ["waist", "shoulders", "hips", "chest", "toes", "calves", "arms"],
    "adv_fr": ["vraiment", "un peu", "beaucoup", "nettement", "légèrement", "franchement"],
    "part_fr": ["hanches", "épaules", "cuisses", "orteils", "bras", "mollets"],
}
_GREETING = {"en": ["Hi, ", "Hello, ", "", "", "Dear team, "], "fr": ["Bonjour, ", "Bonjour ", "", "", "Madame, Monsieur, "]}
_CLOSING = {"en": ["", "", " thanks", ". Thank you!", ", please refund"], "fr": ["", "", " merci", ". Merci !", ", merci de me rembourser"]}


def _strip_accents(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFD", text) if unicodedata.category(ch) != "Mn")


def _typo(rng: np.random.Generator, text: str) -> str:
    if len(text) < 6:
        return text
    i = int(rng.integers(1, len(text) - 2))
    kind = rng.integers(0, 3)
    if kind == 0:
        return text[:i] + text[i + 1] + text[i] + text[i + 2:]
    if kind == 1:
        return text[:i] + text[i + 1:]
    return text[:i] + text[i] + text[i:]


def _render(rng: np.random.Generator, template: str, lang: str) -> str:
    text = template
    for key, options in _FILL.items():
        if "{" + key + "}" in text:
            text = text.replace("{" + key + "}", str(rng.choice(options)))
    text = str(rng.choice(_GREETING[lang])) + text + str(rng.choice(_CLOSING[lang]))
    roll = rng.random()
    if roll < 0.25:
        text = text.lower()
    elif roll < 0.35:
        text = text.upper()
    if lang == "fr" and rng.random() < 0.3:
        text = _strip_accents(text)
    if rng.random() < 0.2:
        text = _typo(rng, text)
    return text


def build_pool(rng: np.random.Generator, per_reason: int = 60) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(texts, reason_codes, languages)``: ``per_reason`` variants per reason and language."""
    texts, codes, langs = [], [], []
    for code, by_lang in PHRASES.items():
        for lang, templates in by_lang.items():
            for _ in range(per_reason):
                texts.append(_render(rng, str(rng.choice(templates)), lang))
                codes.append(code)
                langs.append(lang)
    return np.array(texts, dtype=object), np.array(codes, dtype=object), np.array(langs, dtype=object)
