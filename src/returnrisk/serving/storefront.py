"""The storefront's answers (risk, size advice, scores) as HTTP responses: what the routes call.

* a visitor gets the answer precomputed at model load (the fast path's bytes, with the same
  ``ETag`` and ``Cache-Control: public``, ``304`` when ``If-None-Match`` names it);
* a known customer (see :mod:`~returnrisk.serving.customers`) gets an answer computed for them,
  ``Cache-Control: private, no-store``. Without an explanation it costs a few hundred
  microseconds and runs on the event loop (a hop to a worker thread would cost as much);
  ``explain=true`` (exact TreeSHAP, milliseconds) and large batches run in the model slots
  (:class:`~returnrisk.serving.slots.ModelSlots`).
"""

from __future__ import annotations

import orjson
from fastapi import Request
from fastapi.responses import Response

from returnrisk.scoring import SizeNotOffered, UnknownProduct
from returnrisk.scoring.basket import BasketLine
from returnrisk.scoring.size_advice import size_advice
from returnrisk.serving.customers import Shopper, ShopperResolver
from returnrisk.serving.errors import ApiError, product_not_found
from returnrisk.serving.http_cache import PRIVATE_HEADERS, VisitorAnswer, etag_matches, visitor_headers
from returnrisk.serving.security import KeyChecker
from returnrisk.serving.metrics import Metrics
from returnrisk.serving.settings import Settings
from returnrisk.serving.slots import ModelSlots
from returnrisk.serving.state import LoadedModel

__all__ = ["Storefront", "INLINE_LINES"]

#: Baskets up to this many lines are scored on the event loop when not explained (≈ 0.1 ms a line).
INLINE_LINES = 50


def _json(payload) -> Response:
    return Response(orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json",
                    headers=PRIVATE_HEADERS)


def size_error(exc: SizeNotOffered) -> ApiError:
    offered = exc.offered
    if not offered:
        return ApiError(422, "size_not_offered",
                        f"product {exc.product_id!r} is not sold in sizes: omit 'size'", sizes=[])
    if not exc.size:
        return ApiError(422, "size_required",
                        f"product {exc.product_id!r} is sold in sizes {', '.join(offered)}: pass ?size=",
                        sizes=offered)
    return ApiError(422, "size_not_offered",
                    f"size {exc.size!r} is not offered for product {exc.product_id!r}: "
                    f"use one of {', '.join(offered)}", sizes=offered)


class Storefront:
    """Answers for the storefront endpoints (built once per app, in :class:`~returnrisk.serving.services.Services`)."""

    def __init__(self, settings: Settings, keys: KeyChecker, slots: ModelSlots, metrics: Metrics):
        self.shoppers = ShopperResolver(settings, keys)
        self.metrics = metrics
        self.max_age = settings.visitor_cache_max_age
        self.max_lines = settings.max_lines
        self.slots = slots

    def shopper(self, request: Request, customer_id: str | None, token: str | None) -> Shopper:
        return self.shoppers.resolve(request, customer_id, token)

    def _visitor(self, answer: VisitorAnswer, request: Request) -> Response:
        headers = visitor_headers(answer.etag, self.max_age)
        if etag_matches(request.headers.get("if-none-match"), answer.etag):
            return Response(status_code=304, headers=headers)
        return Response(answer.body, media_type="application/json", headers=headers)

    # ---- GET /v1/products/{id}/risk -------------------------------------------------------------
    async def risk(self, request: Request, model: LoadedModel, shopper: Shopper, product_id: str,
                   size: str | None, lang: str, explain: bool) -> Response:
        if not shopper.known:   # visitors keep their precomputed drivers, explain or not
            answer = model.visitor_answers.get((product_id, (size or "").strip(), lang))
            if answer is not None:
                return self._visitor(answer, request)
        try:
            model.scorer.check(product_id, size)
        except UnknownProduct:
            raise product_not_found(product_id) from None
        except SizeNotOffered as exc:
            raise size_error(exc) from None
        scorer = model.scorer
        if explain:
            answer = await self.slots.run(lambda: scorer.for_customer(product_id, size, shopper.customer_id, lang,
                                                                      explain=True))
        else:
            answer = scorer.for_customer(product_id, size, shopper.customer_id, lang)
        self.metrics.predicted("risk", (answer,))
        return _json(answer)

    # ---- GET /v1/products/{id}/size-advice ------------------------------------------------------
    def size_advice(self, request: Request, model: LoadedModel, shopper: Shopper, product_id: str,
                    lang: str) -> Response:
        if not shopper.known:
            answer = model.visitor_advice.get((product_id, lang))
            if answer is not None:
                return self._visitor(answer, request)
        try:
            advice = size_advice(model.scorer, product_id, shopper.customer_id, lang)
        except UnknownProduct:
            raise product_not_found(product_id) from None
        except SizeNotOffered:
            raise ApiError(422, "size_not_offered", f"product {product_id!r} is not sold in sizes: "
                                                    "there is no size to advise", sizes=[]) from None
        return _json(advice.to_dict())

    # ---- POST /v1/score -------------------------------------------------------------------------
    async def score(self, request: Request, model: LoadedModel, lines: list, lang: str, token: str | None,
                    explain: bool) -> Response:
        """``lines`` are :class:`~returnrisk.serving.schemas.ScoreLine`; lines without a customer are
        the token's (or the Shopify customer's) if one is sent."""
        if len(lines) > self.max_lines:
            raise ApiError(413, "too_many_lines", f"{len(lines)} lines sent; at most {self.max_lines} per request: "
                                                  "split the batch")
        shopper = self.shopper(request, None, token)
        raw = [i for i, line in enumerate(lines) if line.customer_id]
        if raw:
            self.shoppers.require_raw_ids_allowed(request, f"lines[{raw[0]}].customer_id")
        _check_lines(lines, model)
        basket = [BasketLine(product_id=line.product_id, line_id=line.line_id or str(i + 1),
                             order_id=line.order_id or "basket", customer_id=line.customer_id or shopper.customer_id,
                             size=line.size, quantity=line.quantity, unit_price=line.unit_price,
                             ordered_at=line.ordered_at,
                             product=line.product.model_dump() if line.product is not None else {})
                  for i, line in enumerate(lines)]
        scorer = model.scorer
        if explain or len(basket) > INLINE_LINES:
            scored = await self.slots.run(lambda: scorer.score_lines(basket, lang, explain=explain))
        else:
            scored = scorer.score_lines(basket, lang)
        self.metrics.predicted("score", scored)
        return _json({"model_version": model.version, "lines": scored})


def _check_lines(lines: list, model: LoadedModel) -> None:
    """404 for a product neither known nor described, 422 for a size a known product is not sold in."""
    scorer = model.scorer
    for i, line in enumerate(lines):
        if not scorer.has_product(line.product_id) and line.product is None:
            raise ApiError(404, "product_not_found",
                           f"lines[{i}]: product {line.product_id!r} is not in the model's catalogue; send its "
                           "attributes in 'product' (category, brand, price, …) to score it as a new product")
    for i, line in enumerate(lines):
        if scorer.has_product(line.product_id):
            offered = scorer.offered_sizes(line.product_id)
            if offered and line.size is not None and line.size not in offered:
                raise ApiError(422, "size_not_offered",
                               f"lines[{i}]: size {line.size!r} is not offered for product {line.product_id!r}: "
                               f"use one of {', '.join(offered)}", sizes=offered)
