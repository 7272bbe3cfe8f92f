"""The return portal's work behind ``/returns``: open a signed link, check the form, offer the exchange, record.

:class:`PortalDesk` answers each portal request with a :class:`PortalPage` (template, status,
context) that the route renders; it never returns order data for a link that is not valid. The
order is the shop's (its files), else the one the platform sent by webhook (``orders``: the
:class:`~returnrisk.operations.webhook_orders.WebhookOrderStore`) — the orders of the day, before the
nightly export has them — shown, checked and recorded the same way. The recording goes through
:func:`returnrisk.capture.recording.record_customer_return` (the returns store, channel ``portal``).
Blocking: call from a thread.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field

import pandas as pd

from returnrisk.capture.exchange import ExchangeOffer, exchange_offer
from returnrisk.capture.links import LinkExpired, LinkInvalid, PortalLinks, PortalNotConfigured
from returnrisk.capture.orders import OrderLineLookup, OrderView
from returnrisk.capture.photos import PhotoRejected, save_photo
from returnrisk.capture.reasons import PORTAL_REASONS, SIZE_DIRECTIONS, portal_reason
from returnrisk.capture.recording import CustomerReturn, OverReturn, customer_order, record_customer_return
from returnrisk.capture.records import CaptureRecords
from returnrisk.capture.settings import PortalSettings, photo_dir_for
from returnrisk.config import Economics
from returnrisk.errors import NotFoundError, ReturnRiskError, UnavailableError
from returnrisk.operations.reasoning import ReasonInferrer
from returnrisk.operations.store import ReturnStore
from returnrisk.portal.csrf import PortalCsrf
from returnrisk.portal.forms import LineChoice, StateSigner, read_choices, read_exchange_choices
from returnrisk.portal.i18n import translator
from returnrisk.portal.ratelimit import PortalRateLimits
from returnrisk.serving.shops import ServiceShop
from returnrisk.serving.state import ModelHolder

__all__ = ["FormExpired", "OrderUnknown", "PortalDesk", "PortalPage", "Upload"]

log = logging.getLogger(__name__)

#: A file sent with the form: (position of the line, file name as sent, its bytes — at most the limit + 1).
Upload = tuple[int, str, bytes]


class OrderUnknown(NotFoundError):
    code = "order_not_found"


class FormExpired(ReturnRiskError):
    code = "form_expired"


@dataclass
class PortalPage:
    template: str
    status: int = 200
    context: dict = field(default_factory=dict)
    redirect: str | None = None


class PortalDesk:
    def __init__(self, settings: PortalSettings, economics: Economics, database_url: str, store: ReturnStore,
                 records: CaptureRecords, shop: ServiceShop, holder: ModelHolder, reasons: ReasonInferrer, *,
                 secure_cookies: bool = True, orders: OrderLineLookup | None = None):
        secret = settings.portal_secret.get_secret_value() if settings.portal_secret else None
        self.settings, self.economics = settings, economics
        self.links = PortalLinks(secret, settings.link_seconds)
        self.csrf = PortalCsrf(secret) if secret else None
        self.state = StateSigner(secret) if secret else None
        self.limits = PortalRateLimits(settings.portal_rate_limit, settings.portal_submit_rate_limit)
        self.photo_dir = photo_dir_for(settings, database_url)
        self.secure_cookies = secure_cookies
        self.store, self.records, self._shop, self._holder, self._reasons = store, records, shop, holder, reasons
        self._orders = orders   # the webhook order lines: orders the shop's files do not have yet

    # ---- pages ---------------------------------------------------------------------------------
    def problem(self, exc: Exception, lang: str) -> PortalPage:
        """The page of a failure: no order data, the status of its kind."""
        t = translator(lang)
        kinds = [(LinkExpired, 410, "expired"), (LinkInvalid, 403, "invalid"), (OrderUnknown, 404, "unknown"),
                 (FormExpired, 403, "expired_form"), (ValueError, 400, "expired_form"),
                 (PortalNotConfigured, 503, "down"), (UnavailableError, 503, "down")]
        status, key = next(((s, k) for kind, s, k in kinds if isinstance(exc, kind)), (500, "down"))
        if status >= 500:
            log.warning("return portal: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        days = f"{self.settings.portal_link_days:g}"
        return PortalPage("problem.html", status, {"heading": t(f"{key}_heading"), "text": t(f"{key}_text",
                                                                                           days=days)})

    def busy(self, lang: str, retry_after: int) -> PortalPage:
        t = translator(lang)
        return PortalPage("problem.html", 429, {"heading": t("busy_heading"), "text": t("busy_text"),
                                                "retry_after": retry_after})

    def start(self) -> PortalPage:
        return PortalPage("start.html")

    def order_page(self, token: str, lang: str, cookie: str, *, form_id: str | None = None,
                   values: dict | None = None, errors: list | None = None, order: OrderView | None = None,
                   status: int = 200) -> PortalPage:
        order = order or self.open_order(token)
        form_id = form_id or secrets.token_urlsafe(16)
        return PortalPage("order.html", status, {
            "order": order, "form_id": form_id, "csrf": self._csrf().field(cookie, order.order_id, form_id),
            "reasons": [(r.key, r.label(lang)) for r in PORTAL_REASONS], "values": values or {},
            "errors": errors or [], "error_fields": {f for f, _ in errors or []},
            "max_photos": self.settings.portal_max_photos,
            "photo_mb": f"{self.settings.portal_photo_max_bytes / 1e6:g}", "ordered_on": _date(order.ordered_at)})

    def confirmation(self, token: str, form_id: str, lang: str) -> PortalPage:
        order = self.open_order(token)
        rows = [r for r in self.records.returns_of_request(form_id)
                if r["order_id"] == order.order_id and r["status"] == "recorded"]
        if not rows:
            raise OrderUnknown(f"no return {form_id!r} for this order")
        by_line = {ln.line_id: ln for ln in order.lines}
        photos = self.records.photos_of_requests([form_id])
        items = [{"line": by_line.get(r["line_id"]), "quantity": r["quantity"], "resolution": r["resolution"],
                  "size_asked": r["size_asked"], "reason": _reason_label(r["reason_code"], lang),
                  "photos": sum(1 for p in photos if p["line_id"] == r["line_id"])} for r in rows]
        return PortalPage("done.html", 200, {
            "order": order, "items": items, "return_number": form_id[:8].upper(),
            "instructions": self.settings.instructions(lang),
            "refund_days": f"{self.economics.refund_target_days:g}",
            "any_refund": any(i["resolution"] == "refund" for i in items)})

    # ---- the order -------------------------------------------------------------------------------
    def open_order(self, token: str) -> OrderView:
        """The order of a valid link: the shop's files first, else the webhook order lines (raises
        LinkExpired, LinkInvalid, OrderUnknown, PortalNotConfigured)."""
        order_id = self.links.order_id(token)
        view = customer_order(self.store, self._shop.get(), order_id, self._orders)
        if view is None:
            among = " nor among the order lines received by webhook" if self._orders is not None else ""
            raise OrderUnknown(f"order {order_id!r} is not in the shop's data{among}: make links for the "
                               "order_id of order_lines (or of the platform's order webhook)")
        return view

    def _csrf(self) -> PortalCsrf:
        if self.csrf is None:
            raise PortalNotConfigured()
        return self.csrf

    # ---- the form ------------------------------------------------------------------------------
    def submit(self, token: str, fields: dict[str, str], uploads: list[Upload], lang: str, cookie: str | None,
               base: str) -> PortalPage:
        """Check the form (step 1) or the exchange choice (step 2); record when everything is chosen."""
        order = self.open_order(token)
        form_id = fields.get("form_id") or ""
        if not self._csrf().valid(cookie, order.order_id, form_id, fields.get("csrf")):
            raise FormExpired("the form's CSRF token does not match")
        if self.records.returns_of_request(form_id):   # sent twice: recorded once, the same confirmation
            return PortalPage("", redirect=f"{base}/done/{form_id}")
        t = translator(lang)
        if fields.get("step") == "offer":
            return self._after_offer(token, order, fields, lang, cookie, form_id, base)
        counts: dict[int, int] = {}
        for position, _name, _data in uploads:
            counts[position] = counts.get(position, 0) + 1
        check = read_choices(fields, counts, order, t, self.settings.portal_max_photos)
        if not check.ok:
            return self.order_page(token, lang, cookie, form_id=form_id, values=check.values, errors=check.errors,
                                   order=order, status=422)
        photo_ids, errors = self._save_photos(order, form_id, uploads, t)
        if errors:
            return self.order_page(token, lang, cookie, form_id=form_id, values=check.values, errors=errors,
                                   order=order, status=422)
        offers = self._offers(order, check.choices, lang)
        if offers:
            return self._offer_page(order, check.choices, offers, photo_ids, lang, cookie, form_id)
        return self._record(token, order, check.choices, {}, {}, lang, cookie, form_id, base)

    def _after_offer(self, token: str, order: OrderView, fields: dict, lang: str, cookie: str, form_id: str,
                     base: str) -> PortalPage:
        state = self._state().loads(fields.get("state"), order.order_id, form_id)
        if state is None:
            raise FormExpired("the exchange step's state is missing or altered")
        choices, photo_ids = state
        offers = self._offers(order, choices, lang)
        chosen, errors = read_exchange_choices(fields, offers, order, translator(lang))
        if errors:
            return self._offer_page(order, choices, offers, photo_ids, lang, cookie, form_id, errors=errors)
        return self._record(token, order, choices, offers, chosen, lang, cookie, form_id, base)

    def _state(self) -> StateSigner:
        if self.state is None:
            raise PortalNotConfigured()
        return self.state

    def _offer_page(self, order: OrderView, choices: list[LineChoice], offers: dict[int, ExchangeOffer],
                    photo_ids: list[str], lang: str, cookie: str, form_id: str, errors: list | None = None
                    ) -> PortalPage:
        rows = [{"line": order.line(c.position), "reason": portal_reason(c.reason).label(lang),
                 "offer": offers[c.position]} for c in choices if c.position in offers]
        return PortalPage("offer.html", 422 if errors else 200, {
            "order": order, "rows": rows, "form_id": form_id, "errors": errors or [],
            "csrf": self._csrf().field(cookie, order.order_id, form_id),
            "state": self._state().dumps(order.order_id, form_id, choices, photo_ids)})

    def _offers(self, order: OrderView, choices: list[LineChoice], lang: str) -> dict[int, ExchangeOffer]:
        model = self._holder.current
        if model is None:
            return {}
        offers = {}
        for choice in choices:
            direction = SIZE_DIRECTIONS.get(choice.reason)
            line = order.line(choice.position)
            if direction is None or line is None:
                continue
            try:
                offer = exchange_offer(model.scorer, line.product_id, line.size, order.customer_id, direction, lang)
            except Exception as exc:  # noqa: BLE001 - no offer is better than no return
                log.warning("no exchange offer for %s: %s", line.product_id, exc)
                offer = None
            if offer is not None:
                offers[choice.position] = offer
        return offers

    def _save_photos(self, order: OrderView, form_id: str, uploads: list[Upload], t) -> tuple[list[str], list]:
        saved, errors = [], []
        for position, name, data in uploads:
            line = order.line(position)
            try:
                photo = save_photo(data, self.photo_dir, self.settings.portal_photo_max_bytes)
            except PhotoRejected as exc:
                why = t(f"why_{exc.reason}", mb=f"{self.settings.portal_photo_max_bytes / 1e6:g}")
                errors.append((f"photos-{position}", t("err_photo", title=line.title, file=name[:80] or "?",
                                                       why=why)))
                continue
            self.records.add_photo({**photo.row(), "request_id": form_id, "line_id": line.line_id})
            saved.append(photo.photo_id)
        return saved, errors

    def _record(self, token: str, order: OrderView, choices: list[LineChoice], offers: dict[int, ExchangeOffer],
                chosen: dict[int, tuple[str, str | None]], lang: str, cookie: str, form_id: str,
                base: str) -> PortalPage:
        loaded = self._shop.get()
        now = pd.Timestamp.now(tz="UTC").to_pydatetime()
        errors = []
        for choice in choices:
            line = order.line(choice.position)
            reason = portal_reason(choice.reason)
            offer = offers.get(choice.position)
            resolution, size_asked = chosen.get(choice.position, ("refund", None))
            request = CustomerReturn(
                return_id=f"{form_id}-{choice.position}", request_id=form_id, line_id=line.line_id,
                order_id=order.order_id, quantity=choice.quantity, channel="portal", returned_at=now,
                reason_code=reason.code, reason_text=choice.comment, resolution=resolution,
                exchange_offered=offer is not None, size_ordered=line.size,
                size_offered=offer.recommended if offer else None, size_asked=size_asked,
                offer_source=offer.source if offer else None, product_id=line.product_id,
                unit_price=line.unit_price, currency=line.currency or self.economics.currency, lang=lang)
            try:
                record_customer_return(self.store, self.records, loaded, self._reasons, request, self._orders)
            except OverReturn as refused:
                left = max(refused.ordered - refused.already, 0)
                errors.append((f"qty-{choice.position}", translator(lang)(
                    "err_over_return" if left else "err_nothing_left", title=line.title, left=left,
                    ordered=refused.ordered, already=refused.already)))
        if errors and not self.records.returns_of_request(form_id):
            # returned meanwhile (another tab, the e-mail channel): the order as it is now, a new form
            return self.order_page(token, lang, cookie, errors=errors, status=409)
        return PortalPage("", redirect=f"{base}/done/{form_id}")


def _date(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%d")


def _reason_label(code: str | None, lang: str) -> str:
    reason = next((r for r in PORTAL_REASONS if r.code == code), None) or portal_reason("other")
    return reason.label(lang)
