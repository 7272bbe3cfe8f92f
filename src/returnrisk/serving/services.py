"""Everything the routes use, built once per app by ``create_app(settings)``: :class:`Services`.

The app holds one ``Services`` (``app.state.services``, read only by :mod:`returnrisk.serving.deps`);
routes receive its parts through the dependencies of ``deps.py`` and never build or share state
themselves. Its lifespan (:meth:`Services.start` / :meth:`Services.stop`, run by the app's one
lifespan) checks the service database's schema, then loads the model; the service refuses to
start if either fails.

===================  ==============================================================================
part                 what it holds
===================  ==============================================================================
``settings``         the service settings (``RETURNRISK_*``)
``holder``           the served model (:class:`~returnrisk.serving.state.ModelHolder`); each
                     :class:`~returnrisk.serving.state.LoadedModel` carries its scorer and the
                     precomputed visitor answers (``visitor_answers``: the fast path's bytes)
``metrics``          Prometheus metrics of requests and model loads
``keys``             who may call what (:class:`~returnrisk.serving.security.KeyChecker`)
``sessions``         dashboard sessions in the service database (revocable)
``login_throttle``   failed dashboard logins per address and in all (429 beyond)
``watch``            the registry alias watch: a new champion reaches every worker
``slots``            first-come-first-served limit on model computations
``storefront``       the storefront's answers: who the shopper is (customer tokens, Shopify App
                     Proxy, merchant keys), visitor answers with their HTTP caching, customers'
                     answers computed (:class:`~returnrisk.serving.storefront.Storefront`)
``shop``             the shop history: one resolver, one cache (:class:`~returnrisk.serving.shops.ServiceShop`)
``store``            the returns table of the service database
``events``           the widget's event counts (``POST /v1/events``), same database
``reasons``          the reason inferrer of text-only returns
``fix_reports``      the fix report of each loaded model, computed once
``figures``          KPIs and forecast, cached
``returns``          recording returns (line checks, reasons, store)
``csrf``             CSRF tokens of the dashboard's forms (:class:`~returnrisk.serving.csrf.CsrfGuard`)
``lifecycle``        fix statuses, measured effects and alerts (:class:`~returnrisk.serving.fix_lifecycle.FixLifecycle`)
``orders``           the order lines received by webhook (service database): where the returns desk
                     and the portal find the orders the shop's files do not have yet
``webhooks``         ``POST /v1/webhooks/shopify`` (signature, orders, returns, refunds)
``capture``          the capture tables (portal and e-mail returns, photos, inbox, review list)
``portal``           the return portal behind ``/returns`` (links, form, exchange offer)
``captured``         customer returns, review list and channel figures for the merchant
``monitor``          the served model's last monitoring report, cached, and its ``/metrics`` gauges
                     (:mod:`~returnrisk.serving.monitor_gauges`; registered on ``metrics.registry``)
===================  ==============================================================================
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

from returnrisk.capture.records import CaptureRecords
from returnrisk.dashboard.sessions import SessionStore
from returnrisk.errors import InputError, ReturnRiskError, UnavailableError
from returnrisk.operations.reasoning import ReasonInferrer
from returnrisk.operations.shopify_webhooks import ShopifyWebhooks
from returnrisk.operations.store import ReturnStore
from returnrisk.operations.webhook_orders import WebhookOrderStore
from returnrisk.operations.widget_events import WidgetEvents
from returnrisk.serving.capture_desk import CaptureDesk
from returnrisk.serving.csrf import CsrfGuard
from returnrisk.serving.figures import ReturnsFigures
from returnrisk.serving.fix_lifecycle import FixLifecycle
from returnrisk.serving.fix_reports import FixReports
from returnrisk.serving.login_throttle import LoginThrottle
from returnrisk.serving.metrics import Metrics
from returnrisk.serving.model_watch import AliasWatch, VersionResolver
from returnrisk.serving.monitor_gauges import MonitorGauges, tracker_reader
from returnrisk.serving.portal_desk import PortalDesk
from returnrisk.serving.returns_desk import ReturnsDesk
from returnrisk.serving.security import KeyChecker
from returnrisk.serving.settings import Settings
from returnrisk.serving.shops import ServiceShop
from returnrisk.serving.slots import ModelSlots
from returnrisk.serving.state import LoadedModel, ModelHolder, ModelLoader
from returnrisk.serving.storefront import Storefront

__all__ = ["Services", "ReloadFailed"]

log = logging.getLogger(__name__)


class ReloadFailed(UnavailableError):
    """The new model could not be loaded; the previous one is still served."""

    code = "reload_failed"


@dataclass
class Services:
    settings: Settings
    holder: ModelHolder
    metrics: Metrics
    keys: KeyChecker
    sessions: SessionStore
    slots: ModelSlots
    storefront: Storefront
    shop: ServiceShop
    store: ReturnStore
    events: WidgetEvents
    reasons: ReasonInferrer
    fix_reports: FixReports
    figures: ReturnsFigures
    returns: ReturnsDesk
    lifecycle: FixLifecycle
    csrf: CsrfGuard
    orders: WebhookOrderStore
    webhooks: ShopifyWebhooks
    capture: CaptureRecords
    portal: PortalDesk
    captured: CaptureDesk
    monitor: MonitorGauges
    login_throttle: LoginThrottle
    watch: AliasWatch | None = None

    @classmethod
    def build(cls, settings: Settings, loader: ModelLoader, resolver: VersionResolver | None = None) -> Services:
        """Every part, wired; nothing is loaded or connected until :meth:`start`.

        ``resolver`` (the version the model URI designates now) turns on the alias watch."""
        holder = ModelHolder(loader)
        try:
            store = ReturnStore(settings.database_url)
        except ValueError as exc:
            raise InputError(f"RETURNRISK_DATABASE_URL: {exc}") from None
        shop = ServiceShop(settings, holder)
        reasons = ReasonInferrer()
        keys = KeyChecker(settings)
        fix_reports = FixReports(settings, shop)
        orders = WebhookOrderStore(store.engine)
        returns = ReturnsDesk(store, shop, reasons, orders)
        capture = CaptureRecords(store.engine)
        try:
            portal = PortalDesk(settings.portal, settings.economics, settings.database_url, store, capture, shop,
                                holder, reasons, secure_cookies=settings.secure_cookies, orders=orders)
        except ValueError as exc:
            raise InputError(f"RETURNRISK_PORTAL_RATE_LIMIT: {exc}") from None
        metrics = Metrics(settings.metrics_dir)
        slots = ModelSlots(settings.model_slots, metrics)
        monitor = MonitorGauges(lambda: holder.current.info if holder.current else None,
                                tracker_reader(settings.tracking_uri))
        metrics.add_collector(monitor)
        services = cls(
            settings=settings, holder=holder, metrics=metrics, keys=keys,
            sessions=SessionStore(store.engine, settings.session_secret, keys.merchant,
                                  lifetime_s=settings.session_hours * 3600),
            slots=slots, storefront=Storefront(settings, keys, slots, metrics), shop=shop, store=store,
            events=WidgetEvents(store.engine), reasons=reasons,
            fix_reports=fix_reports, figures=ReturnsFigures(settings, holder, shop),
            returns=returns, orders=orders, monitor=monitor,
            webhooks=ShopifyWebhooks(settings.shopify_webhook_secret, orders, returns),
            login_throttle=LoginThrottle(store.engine, max_per_client=settings.login_max_failures,
                                         max_global=settings.login_max_failures_global,
                                         window_s=settings.login_window_seconds),
            capture=capture, portal=portal, captured=CaptureDesk(store, capture, shop, settings.economics),
            lifecycle=FixLifecycle(settings, store.engine, fix_reports, shop),
            csrf=CsrfGuard(settings.session_secret or "\n".join(sorted(keys.merchant)) or "no-keys",
                           purpose="dashboard", path="/dashboard"),
        )
        if resolver is not None and settings.model_poll_seconds > 0:
            services.watch = AliasWatch(resolver, lambda: holder.current.version if holder.current else None,
                                        lambda: services.reload(result="watch"), settings.model_poll_seconds)
        return services

    # ---- lifespan -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Check the database (an empty one is created; one behind refuses to start), load the model."""
        await run_in_threadpool(self.store.prepare)
        loaded = await run_in_threadpool(self.holder.load)
        self.metrics.model_loaded(loaded, "startup")
        if self.watch is not None:
            self.watch.start()

    async def stop(self) -> None:
        if self.watch is not None:
            await self.watch.stop()
        self.store.dispose()

    # ---- the model ------------------------------------------------------------------------------
    def model(self) -> LoadedModel:
        """The served model, or ``ModelNotLoaded`` (503)."""
        return self.holder.require()

    async def reload(self, result: str = "ok") -> dict:
        """Load the current champion and swap it in; on any failure (:class:`ReloadFailed`, 503) the
        previous model keeps serving and ``returnrisk_model_reloads_total{result="failed"}`` counts it."""
        before = self.holder.current.version if self.holder.current else None
        try:
            loaded = await run_in_threadpool(self.holder.load)
        except Exception as exc:  # noqa: BLE001 - whatever broke the new model, the old one serves on
            self.metrics.reloads.labels("failed").inc()
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if not isinstance(exc, ReturnRiskError):
                log.error("model reload failed", exc_info=exc)
                why = f"{type(exc).__name__}: {why}"
            raise ReloadFailed(f"the new model could not be loaded ({why}); the previous model (v{before}) is "
                               "still served") from None
        self.metrics.model_loaded(loaded, result)
        return {"previous_version": before, "version": loaded.version, "load_seconds": round(loaded.load_seconds, 3)}

    def model_versions(self) -> list[dict]:
        """Registered versions with their metrics (empty when the model did not come from a registry)."""
        model = self.holder.current
        if model is None or model.info.get("source") != "mlflow":
            return []
        try:
            from returnrisk.tracking import Tracker

            return Tracker(self.settings.tracking_uri).model_versions()
        except Exception as exc:  # noqa: BLE001 - comparison is optional
            log.info("no registry to compare versions with: %s", exc)
            return []
