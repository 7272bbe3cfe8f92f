"""Writes tests/fixtures/inbox: a small shop with order numbers and titles, and the e-mails of the inbox tests.

Run once (``python tests/make_inbox_fixtures.py``); the files are committed. The e-mails are in
French and English and cover what arrives in a returns mailbox: replies quoting the shipping
e-mail, HTML-only bodies, messages forwarded by a colleague (inline and as an attachment),
attachments, an order number in the subject only, a message with no order number, an unknown
order, an order whose lines are not named, an order already returned, and the same message twice.
"""

from __future__ import annotations

import base64
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

HERE = Path(__file__).resolve().parent / "fixtures" / "inbox"

PRODUCTS = """product_id,category,brand,price,title,image_url
P10,dresses,Lune,79.90,Robe Lune en viscose,https://cdn.shop.example/p10.jpg
P11,jeans,Nord,69.00,Straight Jeans Nord,
P12,shirts,Lune,39.00,Chemise Oxford,
P13,shoes,Pas,99.00,Sneakers Cuir Blanc,
"""
ORDER_LINES = """line_id,order_id,customer_id,product_id,size,quantity,unit_price,ordered_at,order_number,currency
L100,O100,C1,P10,M,1,79.90,2026-10-01T10:00:00Z,#1001,EUR
L101,O101,C2,P11,W30,1,69.00,2026-10-02T10:00:00Z,#1002,EUR
L102,O101,C2,P12,L,2,39.00,2026-10-02T10:00:00Z,#1002,EUR
L103,O102,C3,P13,42,1,99.00,2026-10-03T10:00:00Z,#1003,EUR
L104,O102,C3,P12,M,1,39.00,2026-10-03T10:00:00Z,#1003,EUR
L105,O103,C4,P10,S,1,79.90,2026-10-04T10:00:00Z,#1004,EUR
L106,O103,C4,P10,M,1,79.90,2026-10-04T10:00:00Z,#1004,EUR
L107,O104,C5,P12,XL,1,39.00,2026-10-05T10:00:00Z,#1005,EUR
L108,O105,C1,P11,W32,1,69.00,2026-10-06T10:00:00Z,#1006,EUR
L109,O106,C6,P13,40,1,99.00,2026-10-07T10:00:00Z,#1007,EUR
L110,O107,C7,P12,S,1,39.00,2026-10-08T10:00:00Z,#1008,EUR
"""
RETURNS = """line_id,returned_at,reason_code,reason_text,refunded_at,return_cost
L110,2026-10-12T09:00:00Z,changed_mind,,,
"""

#: A 1×1 JPEG (an attached photo).
PIXEL = base64.b64decode(
    "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQkKDA8MCgsOCwkJDRENDg8QEBEQCgwSE"
    "xIQEw8QEBD/yQALCAABAAEBAREA/8wABgAQEAX/2gAIAQEAAD8A0s8g/9k=")


def mail(name: str, *, subject: str, sender: str, to: str = "returns@shop.example", body: str | None = None,
         html: str | None = None, message_id: str | None = None, date: str = "Thu, 15 Oct 2026 09:30:00 +0200",
         attach: list[tuple[bytes, str, str, str]] | None = None, inner: EmailMessage | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"], message["Date"] = sender, to, subject, date
    message["Message-ID"] = message_id or f"<{name}@mail.example>"
    if body is not None:
        message.set_content(body)
        if html is not None:
            message.add_alternative(html, subtype="html")
    elif html is not None:
        message.set_content(html, subtype="html")
    for data, maintype, subtype, filename in attach or []:
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    if inner is not None:
        message.add_attachment(inner)
    return message


def messages() -> dict[str, EmailMessage]:
    out = {}
    out["01_en_reply_quoted"] = mail(
        "01", subject="Re: Your order #1001 has shipped", sender="Emma <emma@gmail.example>",
        body="Hi,\n\nThe dress is too small for me, it's tight on the shoulders. I would like to return it.\n\n"
             "Thanks,\nEmma\n\nOn Mon, 12 Oct 2026 at 10:00, Shop <hello@shop.example> wrote:\n"
             "> Good news: your order #1001 has shipped!\n> Robe Lune en viscose, size M\n"
             "> Not happy? Too large, wrong colour, damaged: you can return it within 30 days.\n")
    out["02_fr_html_only"] = mail(
        "02", subject="Retour", sender="Claire <claire@orange.example>",
        html="<html><head><style>p{color:red}</style></head><body><p>Bonjour,</p>"
             "<p>Je souhaite retourner la <b>Chemise Oxford</b> de ma commande n° 1005 : la couleur ne ressemble "
             "pas du tout &agrave; la photo du site, elle est beaucoup plus terne.</p><p>Cordialement,<br>Claire</p>"
             "<div class=\"gmail_quote\">Le lun. 12 oct. 2026 à 10:00, Shop &lt;hello@shop.example&gt; a écrit :"
             "<blockquote>Votre commande #1005 est partie ! Trop petit, trop grand, abîmé : retour gratuit."
             "</blockquote></div></body></html>")
    out["03_en_forwarded_by_colleague"] = mail(
        "03", subject="Fwd: Return order #1006", sender="Anna (Shop) <anna@shop.example>",
        body="FYI, for the returns desk.\n\n---------- Forwarded message ---------\n"
             "From: Paul <paul@gmail.example>\nDate: Wed, 14 Oct 2026 at 18:02\nSubject: Return order #1006\n"
             "To: <hello@shop.example>\n\nHello, the jeans arrived with a hole in the leg and a torn seam, they were "
             "damaged when I opened the parcel. Please refund me.\n\nPaul\n")
    out["04_fr_subject_only_attachment"] = mail(
        "04", subject="Retour commande #1007", sender="Luc <luc@free.example>",
        body="Bonjour,\n\nLes baskets sont trop petites, je dois prendre une pointure au-dessus. Je vous joins une "
             "photo de l'étiquette.\n\nEnvoyé de mon iPhone\n",
        attach=[(PIXEL, "image", "jpeg", "etiquette.jpg")])
    out["05_fr_line_by_size"] = mail(
        "05", subject="commande 1004", sender="Ines <ines@laposte.example>",
        body="Bonjour, je renvoie la robe en taille S : elle est beaucoup trop grande, je nage dedans. Je garde la M.\n"
             "-- \nInes D.\n06 12 34 56 78\n")
    out["06_en_lines_not_named"] = mail(
        "06", subject="Return", sender="Sam <sam@yahoo.example>",
        body="Hello, order #1003: I changed my mind and no longer want these items, I'd like a refund please.\n")
    out["07_en_no_order_number"] = mail(
        "07", subject="Return a shirt", sender="Kim <kim@gmail.example>",
        body="Hi, I'd like to return the shirt I bought last week, it's too big. How do I do it?\n")
    out["08_fr_unknown_order"] = mail(
        "08", subject="Retour commande #9999", sender="Zoé <zoe@sfr.example>",
        body="Bonjour, l'article ne correspond pas à la description du site, je souhaite le retourner.\n")
    inner = mail("09-inner", subject="Order #1002 problem", sender="Nora <nora@gmail.example>",
                 to="hello@shop.example", date="Tue, 13 Oct 2026 20:15:00 +0200",
                 body="Hello,\nThe Straight Jeans Nord are of poor quality: the seams came apart after one wash and "
                      "the fabric is pilling. I want to send them back.\nNora\n")
    out["09_en_forwarded_as_attachment"] = mail(
        "09", subject="Fw: Order #1002 problem", sender="Anna (Shop) <anna@shop.example>",
        body="See the customer's e-mail attached.\n", inner=inner)
    out["10_fr_already_returned"] = mail(
        "10", subject="Retour #1008", sender="Eve <eve@gmail.example>",
        body="Bonjour, je voudrais retourner la chemise, j'ai changé d'avis.\n")
    out["11_en_reply_quoted_again"] = mail(
        "01", subject="Re: Your order #1001 has shipped", sender="Emma <emma@gmail.example>",
        body="Hi,\n\nThe dress is too small for me, it's tight on the shoulders. I would like to return it.\n")
    return out


def main() -> None:
    (HERE / "shop").mkdir(parents=True, exist_ok=True)
    (HERE / "mails").mkdir(parents=True, exist_ok=True)
    (HERE / "shop" / "products.csv").write_text(PRODUCTS)
    (HERE / "shop" / "order_lines.csv").write_text(ORDER_LINES)
    (HERE / "shop" / "returns.csv").write_text(RETURNS)
    for name, message in messages().items():
        (HERE / "mails" / f"{name}.eml").write_bytes(message.as_bytes(policy=SMTP))


if __name__ == "__main__":
    main()
