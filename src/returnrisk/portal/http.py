"""The portal's HTTP side: reading the form, rendering a page with the portal's security headers.

Every portal response — pages, errors, redirects, its stylesheet — carries
``Content-Security-Policy`` (nothing but the portal's own stylesheet, https images and forms to
itself; ``frame-ancestors 'none'``: never inside another site's frame), ``X-Content-Type-Options:
nosniff``, ``Referrer-Policy: no-referrer`` (the signed link in the address never leaks to an image
host) and ``Cache-Control: no-store`` (an order's page is not kept by shared caches). The portal
sets them on its own responses, so the service's global headers may add to them without conflict.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from returnrisk.portal.i18n import translator

__all__ = ["CSP", "SECURITY_HEADERS", "STYLESHEET", "client_address", "read_form", "redirect", "render", "secure"]

CSP = ("default-src 'none'; style-src 'self'; img-src 'self' https:; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
STYLESHEET = "/returns/assets/portal.css"

_templates = Environment(loader=PackageLoader("returnrisk.portal", "templates"), autoescape=select_autoescape(["html"]))


def secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    return response


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def render(request: Request, template: str, lang: str, *, status: int = 200, shop_name: str = "",
           **context) -> HTMLResponse:
    other = "fr" if lang == "en" else "en"
    params = {k: v for k, v in request.query_params.items() if k != "lang"}
    switch_url = f"{request.url.path}?{urlencode({**params, 'lang': other})}" if request.method == "GET" else ""
    t = translator(lang)
    html = _templates.get_template(template).render(t=t, lang=lang, other_lang=other, switch_url=switch_url,
                                                     shop_name=shop_name, stylesheet=STYLESHEET, **context)
    response = HTMLResponse(html, status_code=status)
    if status == 429 and context.get("retry_after"):
        response.headers["Retry-After"] = str(context["retry_after"])
    return secure(response)


def redirect(url: str) -> Response:
    return secure(RedirectResponse(url, status_code=303))


async def read_form(request: Request, *, max_files: int, max_file_bytes: int
                    ) -> tuple[dict[str, str], list[tuple[int, str, bytes]]]:
    """The form's text fields (first value of each) and its photos ``(line position, file name, bytes)``.

    Each file is read up to ``max_file_bytes + 1`` bytes (enough to know it is too large).
    Raises ``ValueError`` when the body is not a readable form.
    """
    try:
        form = await request.form(max_files=max_files, max_fields=500)
    except Exception as exc:  # noqa: BLE001 - starlette raises several kinds for a broken multipart body
        raise ValueError(f"the form could not be read: {exc}") from None
    fields: dict[str, str] = {}
    uploads: list[tuple[int, str, bytes]] = []
    try:
        for key, value in form.multi_items():
            if isinstance(value, str):
                fields.setdefault(key, value)
                continue
            position = key.removeprefix("photos-")
            if not key.startswith("photos-") or not position.isdigit() or not value.filename:
                continue
            data = await value.read(max_file_bytes + 1)
            if data:
                uploads.append((int(position), value.filename, data))
    finally:
        await form.close()
    return fields, uploads
