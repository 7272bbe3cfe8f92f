"""The merchandiser dashboard under ``/dashboard`` (merchant key: login form → session cookie, or a
``Authorization: Bearer`` header). Pages are rendered on the server with inline SVG charts.

Fix statuses are changed with plain HTML forms (``POST /dashboard/fixes/{fix_id}/status``), each
carrying a CSRF token (:class:`~returnrisk.serving.csrf.CsrfGuard`); the change is recorded under
the label of the key that logged in."""

from __future__ import annotations

import logging
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from returnrisk.dashboard.capture_pages import capture_section, review_page
from returnrisk.dashboard.fix_pages import fix_list_page, form_change, product_fixes
from returnrisk.dashboard.i18n import translator
from returnrisk.dashboard.model_health import monitoring_panel
from returnrisk.dashboard.pages import model_page, overview_page, product_page
from returnrisk.dashboard.sessions import COOKIE
from returnrisk.errors import InputError, ReturnRiskError
from returnrisk.lifecycle import FixQuery
from returnrisk.lifecycle.export import fixes_csv
from returnrisk.serving.deps import ServicesDep
from returnrisk.serving.errors import status_of
from returnrisk.serving.security import Identity, bearer_key
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


async def _identity(request: Request, services: Services) -> Identity | None:
    """Who is looking: a merchant/admin bearer key, else the session (its role and key label, kept in
    the session's row of the service database)."""
    found = services.keys.identify(bearer_key(request))
    if found is not None:
        return found
    token = request.cookies.get(COOKIE)
    session = await run_in_threadpool(services.sessions.lookup, token) if token else None
    return None if session is None else Identity(session.role, session.label or session.role)


async def _role(request: Request, services: Services) -> str | None:
    who = await _identity(request, services)
    return None if who is None else who.role


def _render(request: Request, template: str, *, status: int = 200, nav: str = "", logged_in: bool = True,
            services: Services | None = None, **context) -> HTMLResponse:
    lang = _lang(request)
    other = "fr" if lang == "en" else "en"
    params = {k: v for k, v in request.query_params.items() if k != "lang"}
    switch_url = f"{request.url.path}?{urlencode({**params, 'lang': other})}"
    seed = services.csrf.seed(request) if services is not None else None
    html = _templates.get_template(template).render(
        t=translator(lang), lang=lang, other_lang=other, switch_url=switch_url, nav=nav, logged_in=logged_in,
        page_title=context.pop("page_title", "returnrisk"),
        csrf_token=services.csrf.token(seed) if seed else "", **context)
    response = HTMLResponse(html, status_code=status)
    if request.query_params.get("lang") in ("en", "fr"):
        response.set_cookie(_LANG_COOKIE, lang, max_age=365 * DAY, samesite="lax")
    if seed:
        services.csrf.keep(response, seed, secure=services.settings.secure_cookies)
    return response


def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/dashboard/login?next={quote(target)}&lang={_lang(request)}", status_code=303)


def _problem(request: Request, exc: Exception, heading: str, status: int = 503, *, back: str | None = None
             ) -> HTMLResponse:
    text = str(exc)
    log.warning("dashboard: %s", text)
    shown = text if back else translator(_lang(request))("unavailable", why=text)
    return _render(request, "message.html", status=status, heading=heading, text=shown, page_title=heading,
                   back=back)


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
    who = services.keys.identify(key.strip())
    if who is None:
        services.login_throttle.failed(client)
        # the form again, with the message (200: a re-displayed form, not a failed resource)
        return _render(request, "login.html", logged_in=False, next=_safe_next(next), error=t("wrong_key"),
                       page_title=t("login"))
    services.login_throttle.succeeded(client)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(COOKIE, services.sessions.issue(who.role, label=who.label), httponly=True,
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
    try:
        alerts = await run_in_threadpool(services.lifecycle.alerts, limit=10)
    except Exception as exc:  # noqa: BLE001 - the overview still shows its figures
        log.warning("dashboard: alerts unavailable: %s", exc)
        alerts = []
    return _render(request, "overview.html", nav="overview", page_title=t("overview"), alerts=alerts, **data)


def _fix_query(request: Request) -> tuple[FixQuery, str]:
    """The list's view from the query string (``InputError`` for a bad value)."""
    p = request.query_params
    status = p.get("status", "")
    order = p.get("order", "")
    try:
        offset, limit = int(p.get("offset") or 0), int(p.get("limit") or 50)
    except ValueError:
        raise InputError("offset and limit must be whole numbers") from None
    query = FixQuery(status=FixQuery.parse_status(status), lever=p.get("lever") or None,
                     category=p.get("category") or None, brand=p.get("brand") or None, search=p.get("q") or None,
                     sort=p.get("sort") or "rank", descending=None if order not in ("asc", "desc") else order == "desc",
                     offset=offset, limit=min(limit, 500))
    return query, status


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
async def fixes(request: Request, services: ServicesDep):
    if not await _role(request, services):
        return _login_redirect(request)
    lang = _lang(request)
    t = translator(lang)
    try:
        query, status = _fix_query(request)
        state, page = await run_in_threadpool(services.lifecycle.page, services.model(), query)
        data = fix_list_page(state, page, query, status, lang, t, services.lifecycle.currency)
    except Exception as exc:  # noqa: BLE001
        return _problem(request, exc, t("fixes"), status=status_of(exc) if isinstance(exc, ReturnRiskError) else 503)
    selected = {"status": status, "lever": query.lever or "", "category": query.category or "",
                "brand": query.brand or "", "q": query.search or ""}
    return _render(request, "fixes.html", nav="fixes", page_title=t("fixes"), services=services, selected=selected,
                   next_url=str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""), **data)


@router.get("/dashboard/fixes.csv")
async def fixes_export(request: Request, services: ServicesDep):
    """Exactly the rows and columns the list shows for the same query string."""
    if not await _role(request, services):
        return _login_redirect(request)
    lang = _lang(request)
    try:
        query, _ = _fix_query(request)
        _, page = await run_in_threadpool(services.lifecycle.page, services.model(), query)
    except Exception as exc:  # noqa: BLE001
        return _problem(request, exc, translator(lang)("fixes"),
                        status=status_of(exc) if isinstance(exc, ReturnRiskError) else 503)
    return Response(fixes_csv(page.rows, lang), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="fixes.csv"'})


@router.post("/dashboard/fixes/{fix_id}/status")
async def change_status(request: Request, services: ServicesDep, fix_id: str, status: str = Form(""),
                        live_at: str = Form(""), note: str = Form(""), dismiss_reason: str = Form(""),
                        next: str = Form("/dashboard/fixes"), csrf_token: str = Form("")):
    who = await _identity(request, services)
    if who is None:
        return _login_redirect(request)
    t = translator(_lang(request))
    back = _safe_next(next)
    problem = services.csrf.valid(request, csrf_token)
    if problem is not None:
        return _problem(request, Exception(problem), t("cannot_change"), status=403, back=back)
    try:
        change = form_change(fix_id, status, live_at, note, dismiss_reason)
        await run_in_threadpool(services.lifecycle.change, services.model(), fix_id, change, who.label)
    except ReturnRiskError as exc:
        return _problem(request, exc, t("cannot_change"), status=status_of(exc), back=back)
    return RedirectResponse(back, status_code=303)


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
        data.update(await run_in_threadpool(_product_fixes, services, model, product_id, t, lang))
    except Exception as exc:  # noqa: BLE001
        return _problem(request, exc, product_id)
    return _render(request, "product.html", page_title=product_id, services=services,
                   next_url=str(request.url.path) + f"?lang={lang}", **data)


def _product_fixes(services: Services, model, product_id: str, t, lang: str) -> dict:
    """The product's fixes with their buttons and the measured effects (``dashboard.fix_pages``)."""
    lifecycle = services.lifecycle
    try:
        state = lifecycle.state(model)
    except Exception as exc:  # noqa: BLE001 - the page still shows what it can without fixes
        log.warning("dashboard: fix statuses unavailable for the product page: %s", exc)
        return product_fixes(None, product_id, lambda fix_id: None, lang, t, lifecycle.currency)
    return product_fixes(state, product_id, lambda fix_id: lifecycle.chart(model, fix_id), lang, t,
                         lifecycle.currency)


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
