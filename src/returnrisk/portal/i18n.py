"""The portal's words in English and French (the customer's language: ``?lang=``, else the browser's)."""

from __future__ import annotations

__all__ = ["TEXT", "pick_lang", "translator"]

TEXT: dict[str, dict[str, str]] = {
    "title": {"en": "Return an item", "fr": "Retourner un article"},
    "start_heading": {"en": "Return an item", "fr": "Retourner un article"},
    "start_text": {"en": "To return items, open the return link in the e-mail we sent when your order shipped. "
                         "The link opens your order: no account or password is needed.",
                   "fr": "Pour retourner des articles, ouvrez le lien de retour de l'e-mail envoyé à l'expédition "
                         "de votre commande. Le lien ouvre votre commande : aucun compte ni mot de passe n'est "
                         "nécessaire."},
    "start_help": {"en": "Can't find the e-mail? Check your spam folder, or reply to any e-mail from us with your "
                         "order number and we will send the link again.",
                   "fr": "Vous ne trouvez pas l'e-mail ? Regardez dans vos indésirables, ou répondez à l'un de nos "
                         "e-mails avec votre numéro de commande et nous vous renverrons le lien."},
    "expired_heading": {"en": "This return link has expired", "fr": "Ce lien de retour a expiré"},
    "expired_text": {"en": "Return links are valid for {days} days. Reply to your shipping e-mail with your order "
                           "number to get a new one.",
                     "fr": "Les liens de retour sont valables {days} jours. Répondez à l'e-mail d'expédition avec "
                           "votre numéro de commande pour en recevoir un nouveau."},
    "invalid_heading": {"en": "This return link is not valid", "fr": "Ce lien de retour n'est pas valide"},
    "invalid_text": {"en": "The link may have been cut or changed. Open it again from your shipping e-mail, or "
                           "copy it whole into your browser.",
                     "fr": "Le lien a peut-être été coupé ou modifié. Ouvrez-le à nouveau depuis l'e-mail "
                           "d'expédition, ou copiez-le en entier dans votre navigateur."},
    "unknown_heading": {"en": "We can't find this order yet", "fr": "Nous ne trouvons pas encore cette commande"},
    "unknown_text": {"en": "Please try again in a few hours. If it still doesn't work, reply to your shipping "
                           "e-mail.",
                     "fr": "Réessayez dans quelques heures. Si cela ne fonctionne toujours pas, répondez à "
                           "l'e-mail d'expédition."},
    "busy_heading": {"en": "Too many attempts", "fr": "Trop de tentatives"},
    "busy_text": {"en": "Please wait a minute and try again.", "fr": "Patientez une minute puis réessayez."},
    "down_heading": {"en": "Returns are unavailable for a moment", "fr": "Les retours sont momentanément "
                                                                          "indisponibles"},
    "down_text": {"en": "Nothing was recorded. Please try again in a few minutes.",
                  "fr": "Rien n'a été enregistré. Réessayez dans quelques minutes."},
    "expired_form_heading": {"en": "This form has expired", "fr": "Ce formulaire a expiré"},
    "expired_form_text": {"en": "For your security, please open your return link again and fill in the form once "
                                "more (cookies must be allowed for this site).",
                          "fr": "Pour votre sécurité, rouvrez votre lien de retour et remplissez à nouveau le "
                                "formulaire (les cookies doivent être autorisés pour ce site)."},
    "order": {"en": "Order {number}", "fr": "Commande {number}"},
    "ordered_on": {"en": "ordered on {date}", "fr": "passée le {date}"},
    "intro": {"en": "Choose the items to return, how many, and tell us why. It helps us improve.",
              "fr": "Choisissez les articles à retourner, combien, et dites-nous pourquoi. Cela nous aide à "
                    "nous améliorer."},
    "size": {"en": "Size", "fr": "Taille"},
    "quantity_ordered": {"en": "Ordered: {n}", "fr": "Commandé : {n}"},
    "already_returned": {"en": "Already returned: {n}", "fr": "Déjà retourné : {n}"},
    "nothing_left": {"en": "Already returned", "fr": "Déjà retourné"},
    "how_many": {"en": "How many to return", "fr": "Combien en retourner"},
    "none": {"en": "None", "fr": "Aucun"},
    "reason": {"en": "Why are you returning it?", "fr": "Pourquoi le retournez-vous ?"},
    "choose_reason": {"en": "Choose a reason", "fr": "Choisissez un motif"},
    "comment": {"en": "Comment (optional; required for “Other”)",
                "fr": "Commentaire (facultatif ; obligatoire pour « Autre »)"},
    "photos": {"en": "Photos of the damage (only for “Arrived damaged”; JPEG, PNG or WebP, up to {n}, {mb} MB each)",
               "fr": "Photos du dommage (seulement pour « Arrivé endommagé » ; JPEG, PNG ou WebP, jusqu'à {n}, "
                     "{mb} Mo chacune)"},
    "continue": {"en": "Continue", "fr": "Continuer"},
    "confirm": {"en": "Confirm my return", "fr": "Confirmer mon retour"},
    "errors_heading": {"en": "Please check the form", "fr": "Veuillez vérifier le formulaire"},
    "err_nothing": {"en": "Choose at least one item to return (How many to return).",
                    "fr": "Choisissez au moins un article à retourner (Combien en retourner)."},
    "err_quantity": {"en": "“{title}”: only {left} left to return.",
                     "fr": "« {title} » : il n'en reste que {left} à retourner."},
    "err_reason": {"en": "“{title}”: choose a reason.", "fr": "« {title} » : choisissez un motif."},
    "err_other": {"en": "“{title}”: tell us in a few words why (Comment).",
                  "fr": "« {title} » : dites-nous en quelques mots pourquoi (Commentaire)."},
    "err_comment_long": {"en": "“{title}”: the comment is too long (at most {n} characters).",
                         "fr": "« {title} » : le commentaire est trop long ({n} caractères au plus)."},
    "err_photos_reason": {"en": "“{title}”: photos can only be added for “Arrived damaged”.",
                          "fr": "« {title} » : les photos ne sont possibles que pour « Arrivé endommagé »."},
    "err_photos_count": {"en": "“{title}”: at most {n} photos.", "fr": "« {title} » : {n} photos au plus."},
    "err_photo": {"en": "“{title}”: {file}: {why}. Please attach the photos again.",
                  "fr": "« {title} » : {file} : {why}. Veuillez joindre à nouveau les photos."},
    "why_not_an_image": {"en": "not a JPEG, PNG or WebP photo", "fr": "ce n'est pas une photo JPEG, PNG ou WebP"},
    "why_too_large": {"en": "larger than {mb} MB", "fr": "plus de {mb} Mo"},
    "why_too_many_pixels": {"en": "the image is too large", "fr": "l'image est trop grande"},
    "why_empty": {"en": "the file is empty", "fr": "le fichier est vide"},
    "err_choice": {"en": "“{title}”: choose an exchange or a refund.",
                   "fr": "« {title} » : choisissez un échange ou un remboursement."},
    "err_over_return": {"en": "“{title}”: only {left} of the {ordered} ordered can still be returned ({already} "
                               "already returned). Choose at most {left}.",
                        "fr": "« {title} » : seulement {left} sur les {ordered} commandés peuvent encore être "
                              "retournés ({already} déjà retournés). Choisissez-en {left} au plus."},
    "err_nothing_left": {"en": "“{title}”: this item has already been returned.",
                         "fr": "« {title} » : cet article a déjà été retourné."},
    "all_returned": {"en": "Every item of this order has already been returned.",
                     "fr": "Tous les articles de cette commande ont déjà été retournés."},
    "offer_heading": {"en": "Would an exchange suit you better?", "fr": "Un échange vous conviendrait-il mieux ?"},
    "offer_intro": {"en": "You can get the right size instead of a refund. Your choice does not change the reason "
                          "you gave.",
                    "fr": "Vous pouvez recevoir la bonne taille au lieu d'un remboursement. Votre choix ne change "
                          "pas le motif indiqué."},
    "you_said": {"en": "You said: {reason} (size {size})", "fr": "Vous avez indiqué : {reason} (taille {size})"},
    "exchange_for": {"en": "Exchange for size {size}", "fr": "Échanger contre la taille {size}"},
    "recommended": {"en": "recommended for you", "fr": "conseillée pour vous"},
    "refund_instead": {"en": "No thanks, refund me", "fr": "Non merci, je préfère être remboursé(e)"},
    "your_choice": {"en": "Exchange or refund", "fr": "Échange ou remboursement"},
    "done_heading": {"en": "Your return is recorded", "fr": "Votre retour est enregistré"},
    "return_number": {"en": "Return number: {n}", "fr": "Numéro de retour : {n}"},
    "what_next": {"en": "What to do now", "fr": "Et maintenant"},
    "refund_promise": {"en": "Refunded within {days} days of receipt.",
                       "fr": "Remboursé sous {days} jours après réception."},
    "exchange_promise": {"en": "We will send size {size} as soon as your parcel arrives.",
                         "fr": "Nous enverrons la taille {size} dès réception de votre colis."},
    "resolution_refund": {"en": "Refund", "fr": "Remboursement"},
    "resolution_exchange": {"en": "Exchange for size {size}", "fr": "Échange contre la taille {size}"},
    "item": {"en": "Item", "fr": "Article"},
    "qty": {"en": "Quantity", "fr": "Quantité"},
    "outcome": {"en": "Outcome", "fr": "Résultat"},
    "no_image": {"en": "No picture", "fr": "Pas d'image"},
    "photos_received": {"en": "{n} photo(s) received", "fr": "{n} photo(s) reçue(s)"},
}


def translator(lang: str):
    lang = "fr" if lang == "fr" else "en"

    def t(key: str, **values) -> str:
        text = TEXT.get(key, {}).get(lang) or TEXT.get(key, {}).get("en") or key
        return text.format(**values) if values else text

    return t


def pick_lang(query_lang: str | None, form_lang: str | None, accept_language: str | None) -> str:
    for value in (form_lang, query_lang):
        if value in ("en", "fr"):
            return value
    return "fr" if (accept_language or "").lower().lstrip().startswith("fr") else "en"
