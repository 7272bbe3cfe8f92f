"""The dashboard's words in English and French."""

from __future__ import annotations

from returnrisk.dashboard.fix_words import FIX_TEXT

__all__ = ["TEXT", "translator"]

TEXT: dict[str, dict[str, str]] = {
    "title": {"en": "returnrisk", "fr": "returnrisk"},
    "overview": {"en": "Overview", "fr": "Vue d'ensemble"},
    "fixes": {"en": "Fix list", "fr": "Corrections"},
    "model": {"en": "Model", "fr": "Modèle"},
    "logout": {"en": "Log out", "fr": "Se déconnecter"},
    "login": {"en": "Log in", "fr": "Se connecter"},
    "login_intro": {"en": "Enter your merchant key to see where returns come from, what to fix first and what is coming.",
                    "fr": "Saisissez votre clé marchand pour voir d'où viennent les retours, quoi corriger d'abord "
                          "et ce qui arrive."},
    "key": {"en": "Merchant key", "fr": "Clé marchand"},
    "wrong_key": {"en": "This key is not valid. Check it and try again.",
                  "fr": "Cette clé n'est pas valide. Vérifiez-la et réessayez."},
    "too_many_logins": {"en": "Too many wrong keys from this address: try again in {minutes} min.",
                        "fr": "Trop de clés erronées depuis cette adresse : réessayez dans {minutes} min."},
    "no_keys": {"en": "No merchant key is configured: set RETURNRISK_MERCHANT_API_KEYS and restart the service.",
                "fr": "Aucune clé marchand n'est configurée : définissez RETURNRISK_MERCHANT_API_KEYS et "
                      "redémarrez le service."},
    "last_4_weeks": {"en": "Last 4 weeks vs the 4 before", "fr": "4 dernières semaines vs les 4 précédentes"},
    "return_rate_units": {"en": "Return rate (units)", "fr": "Taux de retour (unités)"},
    "return_rate_value": {"en": "Return rate (value)", "fr": "Taux de retour (valeur)"},
    "refunds_within": {"en": "Refunds within {days:g} days", "fr": "Remboursés sous {days:g} jours"},
    "median_days_to_return": {"en": "Median days order → return", "fr": "Délai médian commande → retour"},
    "median_days_to_refund": {"en": "Median days return → refund", "fr": "Délai médian retour → remboursement"},
    "return_costs": {"en": "Return costs", "fr": "Coût des retours"},
    "so_far": {"en": "so far: returns are still arriving", "fr": "à ce jour : des retours arrivent encore"},
    "weekly_trend": {"en": "Weekly return rate", "fr": "Taux de retour par semaine"},
    "provisional_note": {"en": "Shaded weeks are provisional: their return window is still open; the dotted line is "
                                 "the model's expected final rate.",
                         "fr": "Les semaines ombrées sont provisoires : leur fenêtre de retour est encore ouverte ; "
                               "la ligne pointillée est le taux final attendu par le modèle."},
    "observed": {"en": "observed", "fr": "observé"},
    "expected_final": {"en": "expected final", "fr": "final attendu"},
    "reason_mix": {"en": "Why items come back", "fr": "Pourquoi les articles reviennent"},
    "forecast": {"en": "Returns expected in the next 14 days", "fr": "Retours attendus dans les 14 prochains jours"},
    "forecast_note": {"en": "Expected per day with a 90 % interval, and the warehouse hours it implies.",
                      "fr": "Attendu par jour avec un intervalle à 90 %, et les heures d'entrepôt nécessaires."},
    "date": {"en": "Date", "fr": "Date"},
    "expected": {"en": "Expected", "fr": "Attendu"},
    "interval": {"en": "Interval", "fr": "Intervalle"},
    "staff_hours": {"en": "Staff hours", "fr": "Heures de personnel"},
    "total": {"en": "Total", "fr": "Total"},
    "vs": {"en": "vs", "fr": "vs"},
    "better": {"en": "better", "fr": "mieux"},
    "worse": {"en": "worse", "fr": "moins bien"},
    "rank": {"en": "#", "fr": "#"},
    "product": {"en": "Product", "fr": "Produit"},
    "category": {"en": "Category", "fr": "Catégorie"},
    "brand": {"en": "Brand", "fr": "Marque"},
    "lever": {"en": "Fix", "fr": "Correction"},
    "size": {"en": "Size", "fr": "Taille"},
    "returns_avoided": {"en": "Returns avoided / month", "fr": "Retours évités / mois"},
    "savings": {"en": "Savings / month", "fr": "Économies / mois"},
    "confidence": {"en": "Confidence", "fr": "Confiance"},
    "flagged_since": {"en": "Flagged since", "fr": "Signalé depuis"},
    "why": {"en": "Why", "fr": "Pourquoi"},
    "all": {"en": "all", "fr": "tous"},
    "shown": {"en": "{shown} of {total} suggestions shown", "fr": "{shown} suggestions affichées sur {total}"},
    "filter": {"en": "Filter", "fr": "Filtrer"},
    "sort": {"en": "Sort by", "fr": "Trier par"},
    "estimates_note": {"en": "Savings are model estimates at current sales, not measured causal effects.",
                       "fr": "Les économies sont des estimations du modèle aux ventes actuelles, pas des effets "
                             "causaux mesurés."},
    "no_fixes": {"en": "No suggestion matches these filters.", "fr": "Aucune suggestion ne correspond à ces filtres."},
    "return_rate": {"en": "Return rate", "fr": "Taux de retour"},
    "reasons_vs_category": {"en": "Return reasons vs its category", "fr": "Motifs de retour vs sa catégorie"},
    "this_product": {"en": "this product", "fr": "ce produit"},
    "its_category": {"en": "its category", "fr": "sa catégorie"},
    "per_size": {"en": "Too small / too large by size", "fr": "Trop petit / trop grand par taille"},
    "too_small": {"en": "too small", "fr": "trop petit"},
    "too_large": {"en": "too large", "fr": "trop grand"},
    "drivers": {"en": "What drives its risk (typical order, exact SHAP)",
                "fr": "Ce qui fait son risque (commande type, SHAP exact)"},
    "suggestions": {"en": "Suggested fixes", "fr": "Corrections suggérées"},
    "shopper_view": {"en": "What a shopper sees", "fr": "Ce que voit un client"},
    "no_message": {"en": "No size message: the evidence does not support one.",
                   "fr": "Pas de message de taille : les données ne le justifient pas."},
    "sales": {"en": "Sales", "fr": "Ventes"},
    "version": {"en": "Version", "fr": "Version"},
    "trained_at": {"en": "Trained at", "fr": "Entraîné le"},
    "data_range": {"en": "Data", "fr": "Données"},
    "validation": {"en": "Validation on the future", "fr": "Validation sur le futur"},
    "previous": {"en": "Previous version", "fr": "Version précédente"},
    "metric": {"en": "Metric", "fr": "Indicateur"},
    "champion": {"en": "Champion", "fr": "Champion"},
    "no_previous": {"en": "No previous version to compare with.", "fr": "Pas de version précédente à comparer."},
    "unavailable": {"en": "Not available: {why}", "fr": "Indisponible : {why}"},
    "page_not_found": {"en": "Product not found", "fr": "Produit introuvable"},
    # ---- capture channels (issue 16) ----
    "capture": {"en": "Where returns are declared", "fr": "Où les retours sont déclarés"},
    "returns_by_channel": {"en": "Returns by channel", "fr": "Retours par canal"},
    "channel_portal": {"en": "Return portal", "fr": "Portail de retour"},
    "channel_email": {"en": "E-mail", "fr": "E-mail"},
    "channel_api": {"en": "API", "fr": "API"},
    "channel_import": {"en": "Import (history)", "fr": "Import (historique)"},
    "channel_webhook": {"en": "Webhook", "fr": "Webhook"},
    "with_reason": {"en": "Returns with a reason", "fr": "Retours avec un motif"},
    "before_portal": {"en": "before: history ({n})", "fr": "avant : historique ({n})"},
    "after_portal": {"en": "since the portal ({n})", "fr": "depuis le portail ({n})"},
    "no_portal_yet": {"en": "no portal return yet", "fr": "aucun retour par le portail"},
    "exchanges_vs_refunds": {"en": "Exchanges vs refunds (size offer)", "fr": "Échanges vs remboursements (offre de "
                                                                           "taille)"},
    "exchanges_line": {"en": "{exchanges} exchanges, {refunds} refunds of {offered} offered ({share})",
                       "fr": "{exchanges} échanges, {refunds} remboursements sur {offered} offres ({share})"},
    "sales_kept": {"en": "Sales kept", "fr": "Ventes conservées"},
    "units_value": {"en": "{units} unit(s) · {value}", "fr": "{units} unité(s) · {value}"},
    "review": {"en": "To review", "fr": "À vérifier"},
    "review_intro": {"en": "E-mails the inbox could not match to an order (nothing recorded), or whose items were not "
                           "named (the whole order recorded): check them and record or correct the returns.",
                     "fr": "E-mails que la boîte de réception n'a pas pu rattacher à une commande (rien n'est "
                           "enregistré), ou dont les articles ne sont pas nommés (toute la commande est enregistrée) : "
                           "vérifiez-les et enregistrez ou corrigez les retours."},
    "review_empty": {"en": "Nothing to review.", "fr": "Rien à vérifier."},
    "received": {"en": "Received", "fr": "Reçu"},
    "subject": {"en": "Subject", "fr": "Objet"},
    "customer_words": {"en": "Customer's words", "fr": "Mots du client"},
    "order_col": {"en": "Order", "fr": "Commande"},
    "reason_guess": {"en": "Reason (confidence)", "fr": "Motif (confiance)"},
    "recorded_returns": {"en": "Recorded", "fr": "Enregistré"},
    # model page: monitoring (returnrisk monitor)
    "monitoring": {"en": "Is the model still right?", "fr": "Le modèle a-t-il toujours raison ?"},
    "monitoring_none": {"en": "This model has not been monitored yet: run `returnrisk monitor` (it scores the lines "
                              "ordered since the model's as-of date and compares them with what happened).",
                        "fr": "Ce modèle n'a pas encore été surveillé : lancez `returnrisk monitor` (il note les lignes "
                              "commandées depuis la date de référence du modèle et les compare à ce qui s'est passé)."},
    "monitoring_as_of": {"en": "{lines} lines since {as_of}, {matured} with a known outcome · report of {at}",
                         "fr": "{lines} lignes depuis le {as_of}, {matured} dont l'issue est connue · rapport du {at}"},
    "verdict_healthy": {"en": "healthy", "fr": "en bonne santé"},
    "verdict_degraded": {"en": "degraded", "fr": "dégradé"},
    "verdict_retrain_recommended": {"en": "retrain recommended", "fr": "réentraînement recommandé"},
    "auc_now": {"en": "AUC since the as-of date", "fr": "AUC depuis la date de référence"},
    "ece_now": {"en": "Calibration error (ECE)", "fr": "Erreur de calibration (ECE)"},
    "chance_up_to": {"en": "chance alone: up to {value}", "fr": "le hasard seul : jusqu'à {value}"},
    "validation_value": {"en": "validation: {value}", "fr": "validation : {value}"},
    "prediction_drift": {"en": "Drift of the predictions (PSI)", "fr": "Dérive des prédictions (PSI)"},
    "predicted_vs_observed": {"en": "Predicted vs observed return rate by week of order",
                              "fr": "Taux de retour prédit vs observé par semaine de commande"},
    "predicted": {"en": "predicted", "fr": "prédit"},
    "weeks_note": {"en": "Shaded weeks are not fully matured: their return window is still open.",
                   "fr": "Les semaines ombrées ne sont pas encore mûres : leur fenêtre de retour est encore ouverte."},
    "drift_table": {"en": "Feature drift against training", "fr": "Dérive des variables par rapport à l'entraînement"},
    "feature": {"en": "Feature", "fr": "Variable"},
    "js_distance": {"en": "Jensen–Shannon", "fr": "Jensen–Shannon"},
    "lines_compared": {"en": "Lines", "fr": "Lignes"},
    "status": {"en": "Status", "fr": "État"},
    "drift_ignored": {"en": "shown, not judged", "fr": "affichée, non jugée"},
    "level_ok": {"en": "ok", "fr": "ok"},
    "level_degraded": {"en": "degraded", "fr": "dégradé"},
    "level_retrain_recommended": {"en": "retrain recommended", "fr": "réentraînement recommandé"},
    "no_data": {"en": "no data", "fr": "aucune donnée"},
}


TEXT.update(FIX_TEXT)   # the fix lifecycle's words (issue 17)


def translator(lang: str):
    lang = "fr" if lang == "fr" else "en"

    def t(key: str, **values) -> str:
        text = TEXT.get(key, {}).get(lang) or TEXT.get(key, {}).get("en") or key
        return text.format(**values) if values else text

    return t
