"""The model's features: names, order, kind and human-readable labels (English and French).

The order of :data:`FEATURES` is the column order of every feature matrix, in training and in
serving; the labels are what explanations show to shoppers and merchandisers.
"""

from __future__ import annotations

from dataclasses import dataclass

from returnrisk.taxonomy import RETURN_GROUPS

__all__ = ["Feature", "FEATURES", "FEATURE_NAMES", "CATEGORICAL", "feature_label", "FEATURE_INDEX"]


@dataclass(frozen=True)
class Feature:
    name: str
    en: str
    fr: str
    categorical: bool = False


_GROUP_EN = {"too_small": "too small", "too_large": "too large", "looks_different": "looks different",
             "not_as_described": "not as described", "quality": "quality", "other": "other reasons"}
_GROUP_FR = {"too_small": "trop petit", "too_large": "trop grand", "looks_different": "différent des photos",
             "not_as_described": "non conforme", "quality": "qualité", "other": "autres motifs"}

FEATURES: tuple[Feature, ...] = (
    Feature("category", "category", "catégorie", categorical=True),
    Feature("brand", "brand", "marque", categorical=True),
    Feature("size_system", "size system", "système de tailles", categorical=True),
    Feature("log_price", "price", "prix"),
    Feature("discount", "discount paid", "remise"),
    Feature("quantity", "quantity", "quantité"),
    Feature("has_size_guide", "size guide on the page", "guide des tailles sur la page"),
    Feature("n_photos", "number of photos", "nombre de photos"),
    Feature("description_length", "description length", "longueur de la description"),
    Feature("mentions_material", "description mentions the material", "la description cite la matière"),
    Feature("mentions_dimensions", "description gives dimensions", "la description donne les dimensions"),
    Feature("mentions_fit", "description explains the fit", "la description explique la coupe"),
    Feature("product_age_days", "days since launch", "jours depuis le lancement"),
    Feature("size_position", "position of the size in its range", "position de la taille dans la gamme"),
    Feature("month", "month of the order", "mois de la commande"),
    Feature("shop_rate", "shop's return rate", "taux de retour de la boutique"),
    Feature("category_rate", "category's return rate", "taux de retour de la catégorie"),
    Feature("category_size_rate", "category's wrong-size return rate", "taux de retours taille de la catégorie"),
    Feature("brand_small_rate", "brand's too-small returns", "retours trop petit de la marque"),
    Feature("brand_large_rate", "brand's too-large returns", "retours trop grand de la marque"),
    Feature("product_log_sales", "product's sales so far", "ventes du produit"),
    Feature("product_rate", "product's return rate", "taux de retour du produit"),
    *(Feature(f"product_{g}_rate", f"product's '{_GROUP_EN[g]}' returns", f"retours « {_GROUP_FR[g]} » du produit")
      for g in RETURN_GROUPS),
    Feature("brand_fit_offset", "customers who kept this brand took a different size",
            "les clients qui ont gardé cette marque ont pris une autre taille"),
    Feature("product_fit_offset", "customers who kept it took a different size",
            "les clients qui l'ont gardé ont pris une autre taille"),
    Feature("size_log_sales", "sales in this size", "ventes dans cette taille"),
    Feature("size_rate", "return rate in this size", "taux de retour dans cette taille"),
    Feature("size_small_rate", "too-small returns in this size", "retours trop petit dans cette taille"),
    Feature("size_large_rate", "too-large returns in this size", "retours trop grand dans cette taille"),
    Feature("customer_log_lines", "customer's past orders", "commandes passées du client"),
    Feature("customer_rate", "customer's return rate", "taux de retour du client"),
    Feature("customer_small_rate", "customer's too-small returns", "retours trop petit du client"),
    Feature("customer_large_rate", "customer's too-large returns", "retours trop grand du client"),
    Feature("customer_size_known", "customer's usual size is known", "taille habituelle du client connue"),
    Feature("size_vs_usual", "size ordered vs customer's usual size", "taille commandée vs taille habituelle"),
    Feature("size_vs_fit", "size ordered vs the size that fits this product",
            "taille commandée vs la taille qui convient pour ce produit"),
    Feature("customer_body_known", "customer's sizes known in other ranges",
            "tailles du client connues dans d'autres gammes"),
    Feature("size_vs_body", "size ordered vs the size that fits, from all the customer's purchases",
            "taille commandée vs la taille qui convient, d'après tous les achats du client"),
    Feature("order_lines", "items in the order", "articles dans la commande"),
    Feature("order_same_product", "same item ordered several times", "même article commandé plusieurs fois"),
    Feature("order_sizes_same_product", "same item in several sizes (bracketing)",
            "même article en plusieurs tailles"),
)

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
FEATURE_INDEX: dict[str, int] = {name: i for i, name in enumerate(FEATURE_NAMES)}
CATEGORICAL: tuple[str, ...] = tuple(f.name for f in FEATURES if f.categorical)
_BY_NAME = {f.name: f for f in FEATURES}


def feature_label(name: str, lang: str = "en") -> str:
    feature = _BY_NAME[name]
    return feature.fr if lang == "fr" else feature.en
