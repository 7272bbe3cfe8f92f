"""The merchandiser dashboard under ``/dashboard`` (merchant key: login form → session cookie, or a
``Authorization: Bearer`` header). Pages are rendered on the server with inline SVG charts."""

from __future__ import annotations

import logging
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from returnrisk.dashboard.capture_pages import capture_section, review_page
from returnrisk.dashboard.i18n import translator
from returnrisk.dashboard.model_health import monitoring_panel
from returnrisk.dashboard.pages import fixes_page, model_page, overview_page, product_page
from returnrisk.dashboard.sessions import COOKIE
from returnrisk.serving.deps import ServicesDep
from returnrisk.serving.security import bearer_key
from returnrisk.serving.services import Services
from returnrisk.timeutil import DAY

__all__ = ["router"]

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
_LANG_COOKIE = "returnrisk_lang"
_templates = Environment(loader=PackageLoader("returnrisk.dashboard", "templates"),
                         autoescape=select_autoescape(["html"]))


def _lang(request: Request) -> str:
    lang = request.query_params.get("lang") or request.cookies.get(_LANG_COOKIE)
    if lang not in ("en", "fr"):
        lang = "fr" if request.headers.get("accept-language", "").lower().startswith("fr") else "en"
    return lang


async def _role(request: Request, services: Services) -> str | None:
    role = services.keys.role_of(bearer_key(request))
    if role in ("merchant", "admin"):
        return role
    token = request.cookies.get(COOKIE)
    return await run_in_threadpool(services.sessions.role, token) if token else None


def _render(request: Request, template: str, *, status: int = 200, nav: str = "", logged_in: bool = True,
            **context) -> HTMLResponse:
    lang = _lang(request)
    other = "fr" if lang == "en" else "en"
    params = {k: v for k, v in request.query_params.items() if k != "lang"}
    switch_url = f"{request.url.path}?{urlencode({**params, 'lang': other})}"
    html = _templates.get_template(template).render(
        t=translator(lang), lang=lang, other_lang=other, switch_url=switch_url, nav=nav, logged_in=logged_in,
        page_title=context.pop("page_title", "returnrisk"), **context)
    response = HTMLResponse(html, status_code=status)
    if request.query_params.get("lang") in ("en", "fr"):
        response.set_cookie(_LANG_COOKIE, lang, max_age=365 * DAY, samesite="lax")
    return response


def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/dashboard/login?next={quote(target)}&lang={_lang(request)}", status_code=303)


def _problem(request: Request, exc: Exception, heading: str, status: int = 503) -> HTMLResponse:
    text = str(exc)
    log.warning("dashboard: %s", text)
    return _render(request, "message.html", status=status, heading=heading,
                   text=translator(_lang(request))("unavailable", why=text), page_title=heading)


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/dashboard") and "//" not in target else "/dashboard"


@router.get("/dashboard/login")
async def login_form(request: Request, services: ServicesDep, next: str = "/dashboard"):
    if await _role(request, services):
        return RedirectResponse(_safe_next(next), status_code=303)
    t = translator(_lang(request))
    keys_configured = bool(services.keys.merchant)
    return _render(request, "login.html", logged_in=False, next=_safe_next(next), page_title=t("login"),
                   error=None if keys_configured else t("no_keys"), status=200 if keys_configured else 403)


@router.post("/dashboard/login")
def login(request: Request, services: ServicesDep, key: str = Form(""), next: str = Form("/dashboard")):
    t = translator(_lang(request))
    if not services.keys.merchant:
        return _render(request, "login.html", logged_in=False, next=_safe_next(next), error=t("no_keys"),
                       status=403, page_title=t("login"))
    client = request.client.host if request.client else "unknown"
    throttled = services.login_throttle.check(client)
    if throttled is not None:
        response = _render(request, "login.html", logged_in=False, next=_safe_next(next), status=429,
                           error=t("too_many_logins", minutes=max(1, round(throttled.retry_after / 60))),
                           page_title=t("login"))
        response.headers["Retry-After"] = str(throttled.retry_after)
        return response
    role = services.keys.role_of(key.strip())
    if role not in ("merchant", "admin"):
        services.login_throttle.failed(client)
        # the form again, with the message (200: a re-displayed form, not a failed resource)
        return _render(request, "login.html", logged_in=False, next=_safe_next(next), error=t("wrong_key"),
                       page_title=t("login"))
    services.login_throttle.succeeded(client)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(COOKIE, services.sessions.issue(role), httponly=True,
                        secure=services.settings.secure_cookies, samesite="strict", path="/dashboard",
                        max_age=services.sessions.lifetime_s)
    return response


@router.get("/dashboard/logout")
def logout(request: Request, services: ServicesDep):
    services.sessions.revoke(request.cookies.get(COOKIE))   # the cookie stops working on every worker
    response = RedirectResponse(f"/dashboard/login?lang={_lang(request)}", status_code=303)
    response.delete_cookie(COOKIE, path="/dashboard")
    return response


@router.get("/dashboard")
async def overview(request: Request, services: ServicesDep) -> Response:
    if not await _role(request, services):
        return _login_redirect(request)
    t = translator(_lang(request))
    try:
        model = services.model()
        figures = services.figures
        data = await run_in_threadpool(
            overview_page, lambda start, end, by: figures.kpis(start, end, by, limit=100),
            lambda days: figures.forecast(model, days), t, _lang(request), services.settings.economics.refund_target_days)
    except Exception as exc:  # noqa: BLE001 - the page says what is missing, never a stack trace
        return _problem(request, exc, t("overview"))
    try:
        data["capture"] = capture_section(await run_in_threadpool(services.captured.figures), t)
    except Exception as exc:  # noqa: BLE001 - the overview still shows the rest
        log.warning("dashboard: capture figures unavailable: %s", exc)
    return _render(request, "overview.html", nav="overview", page_title=t("overview"), **data)


@router.get("/dashboard/review")
async def review(request: Request, services: ServicesDep):
    if not await _role(request, services):
        return _login_redirect(request)
    t = translator(_lang(request))
    try:
        data = review_page(await run_in_threadpool(lambda: services.captured.review(status="open", limit=200,
                                                                                     offset=0)))
    except Exception as exc:  # noqa: BLE001
        return _problem(request, exc, t("review"))
    return _render(request, "review.html", nav="review", page_title=t("review"), **data)


@router.get("/dashboard/fixes")
async def fixes(request: Request, services: ServicesDep, category: str = "", brand: str = "", lever: str = "",
                sort: str = "savings"):
    if not await _role(request, services):
        return _login_redirect(request)
    t = translator(_lang(request))
    try:
        report = await run_in_threadpool(services.fix_reports.get, services.model())
        data = fixes_page(report, category=category, brand=brand, lever=lever, sort=sort)
    except Exception as exc:  # noqa: BLE001
        return _problem(request, exc, t("fixes"))
    return _render(request, "fixes.html", nav="fixes", page_title=t("fixes"),
                   selected={"category": category, "brand": brand, "lever": lever, "sort": sort}, **data)


@router.get("/dashboard/products/{product_id}")
async def product(request: Request, services: ServicesDep, product_id: str):
    if not await _role(request, services):
        return _login_redirect(request)
    lang = _lang(request)
    t = translator(lang)
    try:
        model = services.model()
        if not model.scorer.has_product(product_id):
            return _render(request, "message.html", status=404, heading=t("page_not_found"),
                           text=f"{product_id}", page_title=t("page_not_found"))
        try:
            report = await run_in_threadpool(services.fix_reports.get, model)
        except Exception as exc:  # noqa: BLE001 - the page still shows what it can without fixes
            log.warning("dashboard: fixes unavailable for the product page: %s", exc)
            report = None
        data = await run_in_threadpool(product_page, model, product_id, report, t, lang)
    except Exception as exc:  # noqa: BLE001
        return _problem(request, exc, product_id)
    return _render(request, "product.html", page_title=product_id, **data)


@router.get("/dashboard/model")
async def model_info(request: Request, services: ServicesDep):
    if not await _role(request, services):
        return _login_redirect(request)
    t = translator(_lang(request))
    try:
        model = services.model()
        versions = await run_in_threadpool(services.model_versions)
        data = model_page(model.describe(), versions, t, _lang(request))
        report = await run_in_threadpool(services.monitor.report)
    except Exception as exc:  # noqa: BLE001
        return _problem(request, exc, t("model"))
    return _render(request, "model.html", nav="model", page_title=t("model"),
                   monitoring=monitoring_panel(report, t, _lang(request)), **data)
