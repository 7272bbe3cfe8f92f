"""The merchandiser dashboard under ``/dashboard`` (merchant key: login form → session cookie, or a
``Authorization: Bearer`` header). Pages are rendered on the server with inline SVG charts."""

from __future__ import annotations

import logging
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from returnrisk.dashboard.i18n import translator
from returnrisk.dashboard.pages import fixes_page, model_page, overview_page, product_page
from returnrisk.dashboard.sessions import COOKIE, SessionSigner
from returnrisk.serving.errors import ApiError
from returnrisk.serving.security import bearer_key
from returnrisk.timeutil import DAY

__all__ = ["router", "install"]

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
_LANG_COOKIE = "returnrisk_lang"
_templates = Environment(loader=PackageLoader("returnrisk.dashboard", "templates"),
                         autoescape=select_autoescape(["html"]))


def install(app) -> None:
    settings = app.state.settings
    app.state.dashboard_sessions = SessionSigner(settings.session_secret,
                                                 list(settings.merchant_api_keys) + list(settings.admin_api_keys))


def _lang(request: Request) -> str:
    lang = request.query_params.get("lang") or request.cookies.get(_LANG_COOKIE)
    if lang not in ("en", "fr"):
        lang = "fr" if request.headers.get("accept-language", "").lower().startswith("fr") else "en"
    return lang


def _role(request: Request) -> str | None:
    keys = request.app.state.keys
    role = keys.role_of(bearer_key(request))
    if role in ("merchant", "admin"):
        return role
    return request.app.state.dashboard_sessions.role(request.cookies.get(COOKIE))


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
    text = exc.detail if isinstance(exc, ApiError) else str(exc)
    log.warning("dashboard: %s", text)
    return _render(request, "message.html", status=status, heading=heading,
                   text=translator(_lang(request))("unavailable", why=text), page_title=heading)


@router.get("/dashboard/login")
def login_form(request: Request, next: str = "/dashboard"):
    if _role(request):
        return RedirectResponse(_safe_next(next), status_code=303)
    t = translator(_lang(request))
    keys_configured = bool(request.app.state.keys.merchant)
    return _render(request, "login.html", logged_in=False, next=_safe_next(next), page_title=t("login"),
                   error=None if keys_configured else t("no_keys"), status=200 if keys_configured else 403)


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/dashboard") and "//" not in target else "/dashboard"


@router.post("/dashboard/login")
def login(request: Request, key: str = Form(""), next: str = Form("/dashboard")):
    t = translator(_lang(request))
    if not request.app.state.keys.merchant:
        return _render(request, "login.html", logged_in=False, next=_safe_next(next), error=t("no_keys"),
                       status=403, page_title=t("login"))
    role = request.app.state.keys.role_of(key.strip())
    if role not in ("merchant", "admin"):
        # the form again, with the message (200: a re-displayed form, not a failed resource)
        return _render(request, "login.html", logged_in=False, next=_safe_next(next), error=t("wrong_key"),
                       page_title=t("login"))
    response = RedirectResponse(_safe_next(next), status_code=303)
    settings = request.app.state.settings
    response.set_cookie(COOKIE, request.app.state.dashboard_sessions.issue(role), httponly=True,
                        secure=settings.secure_cookies, samesite="strict", path="/dashboard",
                        max_age=request.app.state.dashboard_sessions.lifetime_s)
    return response


@router.get("/dashboard/logout")
def logout(request: Request):
    response = RedirectResponse(f"/dashboard/login?lang={_lang(request)}", status_code=303)
    response.delete_cookie(COOKIE, path="/dashboard")
    return response


def _model(request: Request):
    model = request.app.state.holder.current
    if model is None:
        raise ApiError(503, "model_not_loaded", "no model is loaded yet")
    return model


@router.get("/dashboard")
async def overview(request: Request) -> Response:
    if not _role(request):
        return _login_redirect(request)
    from returnrisk.serving.routes import operations

    t = translator(_lang(request))
    try:
        model = _model(request)
        settings = request.app.state.settings

        def kpis(start, end, by):
            return operations.kpis(request, start=start, end=end, by=by, limit=100)

        def forecast(days):
            return operations.forecast(request, model, days=days, as_of=None)

        data = await run_in_threadpool(overview_page, kpis, forecast, t, _lang(request),
                                       settings.economics.refund_target_days)
    except Exception as exc:  # noqa: BLE001 - the page says what is missing, never a stack trace
        return _problem(request, exc, t("overview"))
    return _render(request, "overview.html", nav="overview", page_title=t("overview"), **data)


@router.get("/dashboard/fixes")
async def fixes(request: Request, category: str = "", brand: str = "", lever: str = "", sort: str = "savings"):
    if not _role(request):
        return _login_redirect(request)
    from returnrisk.serving.routes.fixes import report_for

    t = translator(_lang(request))
    try:
        report = await run_in_threadpool(report_for, request, _model(request))
        data = fixes_page(report, category=category, brand=brand, lever=lever, sort=sort)
    except Exception as exc:  # noqa: BLE001
        return _problem(request, exc, t("fixes"))
    return _render(request, "fixes.html", nav="fixes", page_title=t("fixes"),
                   selected={"category": category, "brand": brand, "lever": lever, "sort": sort}, **data)


@router.get("/dashboard/products/{product_id}")
async def product(request: Request, product_id: str):
    if not _role(request):
        return _login_redirect(request)
    from returnrisk.serving.routes.fixes import report_for

    lang = _lang(request)
    t = translator(lang)
    try:
        model = _model(request)
        if not model.scorer.has_product(product_id):
            return _render(request, "message.html", status=404, heading=t("page_not_found"),
                           text=f"{product_id}", page_title=t("page_not_found"))
        try:
            report = await run_in_threadpool(report_for, request, model)
        except Exception as exc:  # noqa: BLE001 - the page still shows what it can without fixes
            log.warning("dashboard: fixes unavailable for the product page: %s", exc)
            report = None
        data = await run_in_threadpool(product_page, model, product_id, report, t, lang)
    except Exception as exc:  # noqa: BLE001
        return _problem(request, exc, product_id)
    return _render(request, "product.html", page_title=product_id, **data)


@router.get("/dashboard/model")
async def model_info(request: Request):
    if not _role(request):
        return _login_redirect(request)
    from returnrisk.serving.routes.model import describe

    t = translator(_lang(request))
    try:
        model = _model(request)
        versions = await run_in_threadpool(_versions, request)
        data = model_page(model, versions, describe, t, _lang(request))
    except Exception as exc:  # noqa: BLE001
        return _problem(request, exc, t("model"))
    return _render(request, "model.html", nav="model", page_title=t("model"), **data)


def _versions(request: Request) -> list[dict]:
    """Registered versions with their metrics (empty when the model did not come from a registry)."""
    model = request.app.state.holder.current
    if model is None or model.info.get("source") != "mlflow":
        return []
    try:
        from returnrisk.tracking import Tracker

        return Tracker(request.app.state.settings.tracking_uri).model_versions()
    except Exception as exc:  # noqa: BLE001 - comparison is optional
        log.info("dashboard: no registry to compare versions with: %s", exc)
        return []
