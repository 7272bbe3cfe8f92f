"""The dependencies routes declare: who may call, and the parts of :class:`~returnrisk.serving.services.Services`.

Routes take what they need as annotated parameters (``model: ModelDep``, ``services: ServicesDep``…)
and never read ``app.state``: this module is the only one that does (``app.state.services``, set
by ``create_app``).

All are ``async def``: they never block, and FastAPI would run a plain ``def`` dependency in its
thread pool — two thread hops per storefront request, a quarter of its cost (measured).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from returnrisk.operations.store import ReturnStore
from returnrisk.operations.widget_events import WidgetEvents
from returnrisk.serving.capture_desk import CaptureDesk
from returnrisk.serving.customers import Shopper
from returnrisk.serving.figures import ReturnsFigures
from returnrisk.serving.fix_lifecycle import FixLifecycle
from returnrisk.serving.fix_reports import FixReports
from returnrisk.serving.portal_desk import PortalDesk
from returnrisk.serving.returns_desk import ReturnsDesk
from returnrisk.serving.security import Identity
from returnrisk.serving.services import Services
from returnrisk.serving.settings import Settings
from returnrisk.serving.shops import ServiceShop
from returnrisk.serving.state import LoadedModel
from returnrisk.serving.storefront import Storefront

__all__ = [
    "get_services", "current_model", "merchant", "merchant_identity", "admin", "storefront", "customer_token",
    "shopper", "ServicesDep", "SettingsDep", "ModelDep", "ShopDep", "StoreDep", "ReturnsDep", "FixReportsDep",
    "FiguresDep", "LifecycleDep", "IdentityDep", "StorefrontDep", "CustomerTokenDep", "ShopperDep", "EventsDep",
    "PortalDep", "CapturedDep",
]


async def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


async def current_model(services: ServicesDep) -> LoadedModel:
    """The served model, taken once per request (a reload meanwhile does not change it); 503 if none."""
    return services.model()


#: Declares bearer auth in the OpenAPI document (``securitySchemes.bearer``: Swagger's *Authorize*); the
#: key itself is checked by :class:`~returnrisk.serving.security.KeyChecker` (constant time, every key).
_bearer = HTTPBearer(auto_error=False, scheme_name="bearer",
                     description="A merchant key (business data, dashboard) or an admin key (reload): "
                                 "`Authorization: Bearer <key>`.")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def merchant(request: Request, services: ServicesDep, _declared: BearerDep) -> str:
    return services.keys.merchant_access(request)


async def merchant_identity(request: Request, services: ServicesDep) -> Identity:
    """A merchant (or admin) key's role and label: the author recorded for a change."""
    return services.keys.merchant_identity(request)


async def admin(request: Request, services: ServicesDep, _declared: BearerDep) -> str:
    return services.keys.admin_access(request)


async def storefront(request: Request, services: ServicesDep) -> None:
    services.keys.storefront_access(request)


async def _settings(services: ServicesDep) -> Settings:
    return services.settings


async def _shop(services: ServicesDep) -> ServiceShop:
    return services.shop


async def _store(services: ServicesDep) -> ReturnStore:
    return services.store


async def _returns(services: ServicesDep) -> ReturnsDesk:
    return services.returns


async def _fix_reports(services: ServicesDep) -> FixReports:
    return services.fix_reports


async def _figures(services: ServicesDep) -> ReturnsFigures:
    return services.figures


async def _portal(services: ServicesDep) -> PortalDesk:
    return services.portal


async def _captured(services: ServicesDep) -> CaptureDesk:
    return services.captured


async def _lifecycle(services: ServicesDep) -> FixLifecycle:
    return services.lifecycle


SettingsDep = Annotated[Settings, Depends(_settings)]
ModelDep = Annotated[LoadedModel, Depends(current_model)]
#: The shop history (one resolver, one cache); ``.get(model)`` loads on first use (blocking).
ShopDep = Annotated[ServiceShop, Depends(_shop)]
StoreDep = Annotated[ReturnStore, Depends(_store)]
ReturnsDep = Annotated[ReturnsDesk, Depends(_returns)]
FixReportsDep = Annotated[FixReports, Depends(_fix_reports)]
FiguresDep = Annotated[ReturnsFigures, Depends(_figures)]
PortalDep = Annotated[PortalDesk, Depends(_portal)]
CapturedDep = Annotated[CaptureDesk, Depends(_captured)]
#: Fix statuses, measured effects and alerts.
LifecycleDep = Annotated[FixLifecycle, Depends(_lifecycle)]
IdentityDep = Annotated[Identity, Depends(merchant_identity)]


async def _storefront(services: ServicesDep) -> Storefront:
    return services.storefront


async def customer_token(
    customer_token: Annotated[str | None, Query(
        max_length=4096, description="The shopper's customer token: an HS256 JWT the shop's backend signs with "
                                     "RETURNRISK_CUSTOMER_TOKEN_SECRET (sub = customer id, exp ≤ 24 h).")] = None,
    x_customer_token: Annotated[str | None, Header(
        max_length=4096, description="The customer token, as a header (keeps it out of URLs and logs).")] = None,
) -> str | None:
    return customer_token or x_customer_token


StorefrontDep = Annotated[Storefront, Depends(_storefront)]
CustomerTokenDep = Annotated[str | None, Depends(customer_token)]


async def shopper(
    request: Request, services: ServicesDep, token: CustomerTokenDep,
    customer_id: Annotated[str | None, Query(
        max_length=200, description="A raw customer id: only with a merchant key (server to server).")] = None,
) -> Shopper:
    """Who is shopping (:mod:`returnrisk.serving.customers`): a visitor, or a customer vouched for by a
    token, a Shopify App Proxy signature or a merchant key; 401 otherwise."""
    return services.storefront.shopper(request, customer_id, token)


ShopperDep = Annotated[Shopper, Depends(shopper)]


async def _events(services: ServicesDep) -> WidgetEvents:
    return services.events


EventsDep = Annotated[WidgetEvents, Depends(_events)]
