"""The return portal for customers: ``GET /returns``, ``GET|POST /returns/{token}``, the confirmation.

No account: a signed link opens one order. Pages are HTML in the customer's language (FR/EN),
work without JavaScript, and carry the portal's security headers (:mod:`returnrisk.portal.http`);
every failure is a page that shows no order data (403 forged link, 410 expired, 404 unknown
order, 429 too many requests, 503 not configured). The work is
:class:`~returnrisk.serving.portal_desk.PortalDesk`'s.
"""

from __future__ import annotations

import logging
from importlib import resources
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from returnrisk.errors import ReturnRiskError
from returnrisk.portal.csrf import CSRF_COOKIE, PortalCsrf
from returnrisk.portal.http import client_address, read_form, redirect, render, secure
from returnrisk.portal.i18n import pick_lang
from returnrisk.serving.deps import PortalDep
from returnrisk.serving.portal_desk import PortalDesk, PortalPage

__all__ = ["router"]

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
_CSS = resources.files("returnrisk.portal").joinpath("templates/portal.css").read_bytes()


def _lang(request: Request, form_lang: str | None = None) -> str:
    return pick_lang(request.query_params.get("lang"), form_lang, request.headers.get("accept-language"))


async def _answer(portal: PortalDesk, lang: str, work, *args) -> PortalPage:
    """The desk's page, or the page of its failure (never a traceback, never order data)."""
    try:
        return await run_in_threadpool(work, *args)
    except ReturnRiskError as exc:
        return portal.problem(exc, lang)
    except Exception as exc:
        log.exception("return portal: unexpected failure")
        return portal.problem(exc, lang)


def _show(request: Request, portal: PortalDesk, page: PortalPage, lang: str, cookie: str | None = None) -> Response:
    if page.redirect:
        return redirect(page.redirect)
    response = render(request, page.template, lang, status=page.status, shop_name=portal.settings.portal_shop_name,
                      **page.context)
    if cookie:
        response.set_cookie(CSRF_COOKIE, cookie, httponly=True, samesite="strict", path="/returns",
                            secure=portal.secure_cookies)
    return response


@router.get("/returns/assets/portal.css")
def stylesheet() -> Response:
    return secure(Response(_CSS, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"}))


@router.get("/returns")
async def start(request: Request, portal: PortalDep) -> Response:
    lang = _lang(request)
    verdict = portal.limits.page(client_address(request))
    page = portal.start() if verdict.allowed else portal.busy(lang, verdict.retry_after)
    return _show(request, portal, page, lang)


@router.get("/returns/{token}")
async def order(request: Request, portal: PortalDep, token: str) -> Response:
    lang = _lang(request)
    verdict = portal.limits.page(client_address(request))
    if not verdict.allowed:
        return _show(request, portal, portal.busy(lang, verdict.retry_after), lang)
    cookie, new = PortalCsrf.cookie_value(request.cookies.get(CSRF_COOKIE))
    page = await _answer(portal, lang, portal.order_page, token, lang, cookie)
    return _show(request, portal, page, lang, cookie if new and page.template == "order.html" else None)


@router.post("/returns/{token}")
async def submit(request: Request, portal: PortalDep, token: str) -> Response:
    lang = _lang(request)
    verdict = portal.limits.submission(client_address(request))
    if not verdict.allowed:
        return _show(request, portal, portal.busy(lang, verdict.retry_after), lang)
    settings = portal.settings
    try:
        fields, uploads = await read_form(request, max_files=settings.portal_max_photos * 10,
                                          max_file_bytes=settings.portal_photo_max_bytes)
    except ValueError as exc:
        log.info("return portal: %s", exc)
        return _show(request, portal, portal.problem(exc, lang), lang)
    lang = _lang(request, fields.get("lang"))
    base = f"/returns/{quote(token, safe='')}"
    page = await _answer(portal, lang, portal.submit, token, fields, uploads, lang,
                         request.cookies.get(CSRF_COOKIE), base)
    if page.redirect:
        return redirect(f"{page.redirect}?lang={lang}")
    return _show(request, portal, page, lang)


@router.get("/returns/{token}/done/{form_id}")
async def done(request: Request, portal: PortalDep, token: str, form_id: str) -> Response:
    lang = _lang(request)
    verdict = portal.limits.page(client_address(request))
    if not verdict.allowed:
        return _show(request, portal, portal.busy(lang, verdict.retry_after), lang)
    page = await _answer(portal, lang, portal.confirmation, token, form_id, lang)
    return _show(request, portal, page, lang)
