"""Importer mapping rules: sizes, reasons, ids, guests, non-merchandise lines, times."""

from __future__ import annotations

import pandas as pd
import pytest

from returnrisk.importers.customers import guest_id
from returnrisk.importers.merchandise import non_merchandise
from returnrisk.importers.reasons import SHOPIFY_RETURN_REASONS, reason_from_definition, shopify_reason
from returnrisk.importers.settings import ImportSettings
from returnrisk.importers.sizes import normalise_size, size_from_options
from returnrisk.importers.times import parse_times
from returnrisk.importers.values import first_text, plain_id
from returnrisk.sizes import parse_size_label


@pytest.mark.parametrize("raw, label, kind", [
    ("M", "M", "letter"),
    ("EU 38", "38", "number"),
    ("38 EU", "38", "number"),
    ("eu38", "38", "number"),
    ("FR 40", "40", "number"),
    ("W32/L34", "W32/L34", "waist"),
    ("32/34", "W32 L34", "waist"),
    ("10.5", "10.5", "number"),
    ("42,5", "42,5", "number"),
    ("T2", "M", "letter"),
    ("t4", "XL", "letter"),
    ("Taille 38", "38", "number"),
])
def test_size_labels_land_in_the_project_size_systems(raw, label, kind):
    written, placed = normalise_size(raw)
    assert (written, placed) == (label, True)
    assert parse_size_label(written)[0] == kind


@pytest.mark.parametrize("raw", ["One size", "TU", "Taille unique", "", None])
def test_one_size_is_unsized(raw):
    assert normalise_size(raw) == ("", True)


@pytest.mark.parametrize("raw", ["XS/S", "UK 8", "Petite"])
def test_unknown_size_labels_are_kept_as_sold_and_flagged(raw):
    assert normalise_size(raw) == (raw, False)


def test_size_comes_from_the_option_named_size_never_from_colour():
    settings = ImportSettings()
    assert size_from_options([("Color", "M"), ("Taille", "38")], settings.is_size_option) == "38"
    assert size_from_options([("Couleur", "XL"), ("Matière", "Lin")], settings.is_size_option) is None
    for name in ("Size", "size", "TAILLE", "Größe", "GRÖSSE", "Talla", "taglia", "pa_size"):
        assert settings.is_size_option(name), name
    assert not settings.is_size_option("Color")
    custom = ImportSettings(size_option_names=("Pointure",))
    assert size_from_options([("Pointure", "41")], custom.is_size_option) == "41"
    assert size_from_options([("Size", "41")], custom.is_size_option) is None


def test_shopify_reason_enum_table_matches_the_issue():
    assert SHOPIFY_RETURN_REASONS == {
        "SIZE_TOO_SMALL": "too_small", "SIZE_TOO_LARGE": "too_large", "NOT_AS_DESCRIBED": "not_as_described",
        "DEFECTIVE": "poor_quality", "WRONG_ITEM": "wrong_item", "COLOR": "looks_different",
        "STYLE": "looks_different", "UNWANTED": "changed_mind", "OTHER": "other", "UNKNOWN": "other"}
    assert shopify_reason("OTHER", "la fermeture est cassée") == ("other", "la fermeture est cassée")
    assert shopify_reason(None, "texte") == (None, "texte")


@pytest.mark.parametrize("handle, code", [("too-tight", "too_small"), ("too-loose", "too_large"),
                                          ("color-too-bright", "looks_different"), ("quality", "poor_quality"),
                                          ("arrived-late", "late_delivery"), ("wrong-item", "wrong_item")])
def test_return_reason_definitions_map_by_handle(handle, code):
    assert reason_from_definition({"handle": handle, "name": "x"}, None)[0] == code


def test_unknown_reason_definition_is_other_with_its_name_as_text():
    assert reason_from_definition({"handle": "allergic-reaction", "name": "Allergic reaction"}, None) == \
        ("other", "Allergic reaction")


def test_gid_ids_become_plain_numbers_as_strings():
    assert plain_id("gid://shopify/LineItem/123") == "123"
    assert plain_id("gid://shopify/Order/450789469?foo=1") == "450789469"
    assert plain_id(466157049) == "466157049"
    assert plain_id("0") is None and plain_id(None) is None and plain_id(True) is None


def test_guest_id_is_a_stable_pseudonym_of_the_normalised_email():
    one = guest_id("Marie.Dupont@Example.FR")
    assert one == guest_id("  marie.dupont@example.fr ")
    assert one.startswith("guest-") and "marie" not in one and "example" not in one
    assert guest_id("paul@example.fr") != one
    assert guest_id(None, "1001") == "guest-order-1001"


def test_multilingual_texts_pick_the_first_or_the_asked_language():
    value = [{"id": "1", "value": "Robe"}, {"id": "2", "value": "Dress"}]
    assert first_text(value) == "Robe" and first_text(value, "2") == "Dress"


def test_non_merchandise_reasons_from_platform_flags():
    lines = pd.DataFrame({
        "kind": ["item", "shipping", "item", "fee", "item", "item", "item"],
        "gift_card": [False, None, True, None, False, False, None],
        "shipped": [True, None, False, None, False, None, True],
        "product_id": ["1", None, "2", None, "3", None, None],
    })
    assert non_merchandise(lines).tolist() == [pd.NA, "shipping_line", "gift_card", "tip_or_fee", "not_shipped",
                                                "no_product", "no_product"]


def test_times_with_offsets_go_to_utc_and_naive_times_use_the_shop_zone():
    text = pd.Series(["2024-03-01T10:00:00+01:00", "2024-07-01 10:00:00", "0000-00-00 00:00:00", "garbage",
                      "9999-12-31 00:00:00"])
    out = parse_times(text, "Europe/Paris")
    assert out.iloc[0] == pd.Timestamp("2024-03-01 09:00", tz="UTC")
    assert out.iloc[1] == pd.Timestamp("2024-07-01 08:00", tz="UTC")
    assert out.iloc[2:].isna().all()


def _order_page(returns: list[dict], refunds: list[dict]) -> dict:
    money = {"shopMoney": {"amount": "50.00", "currencyCode": "EUR"},
             "presentmentMoney": {"amount": "50.00", "currencyCode": "EUR"}}
    return {"data": {"orders": {"nodes": [{
        "id": "gid://shopify/Order/1", "name": "#1001", "createdAt": "2025-03-01T10:00:00Z",
        "processedAt": "2025-03-01T10:00:00Z", "cancelledAt": None, "test": False, "currencyCode": "EUR",
        "presentmentCurrencyCode": "EUR", "email": "a@example.com", "displayFulfillmentStatus": "FULFILLED",
        "customer": {"id": "gid://shopify/Customer/7"},
        "lineItems": {"nodes": [
            {"id": "gid://shopify/LineItem/11", "title": "Robe", "quantity": 3, "isGiftCard": False,
             "requiresShipping": True, "product": {"id": "gid://shopify/Product/5"},
             "variant": {"id": "gid://shopify/ProductVariant/51", "selectedOptions": [{"name": "Size", "value": "M"}]},
             "originalUnitPriceSet": money},
            {"id": "gid://shopify/LineItem/12", "title": "Robe", "quantity": 1, "isGiftCard": False,
             "requiresShipping": True, "product": {"id": "gid://shopify/Product/5"},
             "variant": {"id": "gid://shopify/ProductVariant/52", "selectedOptions": [{"name": "Size", "value": "L"}]},
             "originalUnitPriceSet": money}]},
        "refunds": refunds, "returns": {"nodes": returns}}]}}}


def _return(rid: str, day: int, quantity: int, reason: str) -> dict:
    return {"id": f"gid://shopify/Return/{rid}", "status": "CLOSED", "createdAt": f"2025-03-{day:02d}T09:00:00Z",
            "returnLineItems": {"nodes": [{"quantity": quantity, "returnReason": reason, "customerNote": None,
                                           "fulfillmentLineItem": {"lineItem": {"id": "gid://shopify/LineItem/11"}}}]}}


def _refund(fid: str, day: int, line: str, quantity: int, restock: str, return_id: str | None = None) -> dict:
    return {"id": f"gid://shopify/Refund/{fid}", "createdAt": f"2025-03-{day:02d}T12:00:00Z", "note": "n",
            "return": {"id": f"gid://shopify/Return/{return_id}"} if return_id else None,
            "refundLineItems": {"nodes": [{"lineItem": {"id": f"gid://shopify/LineItem/{line}"}, "quantity": quantity,
                                           "restockType": restock}]}}


def test_several_returns_of_one_line_and_refunds_that_are_not_returns(tmp_path):
    import json

    from returnrisk.importers import import_shop

    pages = tmp_path / "pages"
    pages.mkdir()
    page = _order_page(
        returns=[_return("901", 8, 1, "SIZE_TOO_SMALL"), _return("902", 20, 2, "COLOR")],
        refunds=[_refund("71", 10, "11", 1, "RETURN", "901"), _refund("72", 22, "11", 2, "RETURN"),
                 _refund("73", 5, "12", 1, "CANCEL")])
    (pages / "orders.json").write_text(json.dumps(page))
    report = import_shop("shopify", pages, tmp_path / "out")
    returns = pd.read_parquet(tmp_path / "out" / "returns.parquet")
    assert returns[["return_id", "line_id", "quantity", "reason_code"]].values.tolist() == [
        ["901", "11", 1, "too_small"], ["902", "11", 2, "looks_different"]]
    assert returns["refunded_at"].tolist() == [pd.Timestamp("2025-03-10 12:00", tz="UTC"),
                                               pd.Timestamp("2025-03-22 12:00", tz="UTC")]
    assert report.returns.skipped == {"refund_of_a_return": 2, "refund_without_return": 1}
    assert report.refunds_without_return["lines"] == 1 and report.refunds_without_return["units"] == 1
