"""The periodic work, in one place: ``returnrisk worker`` (one process per deployment).

Each cycle (:meth:`Worker.detect`, every ``detect_every_seconds``): load the served model and the
shop (both cached until they change), compute the fix report, measure the done fixes' effects,
find the alerts that hold (:func:`returnrisk.lifecycle.alerts.detect_alerts`) and queue the new
ones in the outbox. In between (:meth:`Worker.deliver`, every ``poll_seconds`` or as soon as a
retry is due): send the due deliveries to the webhooks, retrying failures with exponential
backoff. Everything the worker knows is in the service database, so it can be stopped or killed
at any moment and started again: an alert queued is never lost, one sent is never sent again
unless its acknowledgement was not recorded (then with the same id).

The API's workers never do this work: they only read the database.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from returnrisk.config import Economics
from returnrisk.db.engine import make_engine
from returnrisk.db.migrate import ensure_schema
from returnrisk.fixes import FixParams, FixReport, compute_fixes
from returnrisk.lifecycle.alerts import detect_alerts
from returnrisk.lifecycle.board import FixBoard
from returnrisk.lifecycle.outbox import AlertOutbox, backoff, destination_key
from returnrisk.lifecycle.settings import AlertSettings
from returnrisk.lifecycle.statuses import FixStatusStore
from returnrisk.lifecycle.webhook import DeliveryFailed, encode, post
from returnrisk.model.bundle import ServingBundle
from returnrisk.operations.sources import ShopSources

__all__ = ["Delivered", "Detected", "Worker", "WorkerConfig"]

log = logging.getLogger(__name__)

ModelLoader = Callable[[], tuple[ServingBundle, dict]]


@dataclass(frozen=True)
class WorkerConfig:
    database_url: str
    data_dir: str | None
    economics: Economics
    alerts: AlertSettings
    detect_every_seconds: float = 3600.0
    poll_seconds: float = 5.0


@dataclass(frozen=True)
class Detected:
    as_of: str
    suggestions: int
    done: int
    measured: int
    alerts: int
    new_alerts: list[str]


@dataclass(frozen=True)
class Delivered:
    sent: int
    failed: int


class Worker:
    def __init__(self, config: WorkerConfig, load_model: ModelLoader, *,
                 clock: Callable[[], pd.Timestamp] = lambda: pd.Timestamp.now(tz="UTC")):
        self.config = config
        self.clock = clock
        self._load_model = load_model
        self.engine: sa.Engine = make_engine(config.database_url, label="RETURNRISK_DATABASE_URL: database")
        self.store = FixStatusStore(self.engine)
        self.outbox = AlertOutbox(self.engine)
        self.board = FixBoard(self.store, config.economics)
        from returnrisk.reasons.fill import default_reason_filler

        self.sources = ShopSources(reason_filler_factory=default_reason_filler, recheck_seconds=0.0)
        self._urls = {destination_key(url): url for url in config.alerts.webhook_urls}
        self._report: tuple[ServingBundle, object, FixReport] | None = None
        if self._urls and not config.alerts.webhook_secret:
            log.warning("RETURNRISK_ALERT_WEBHOOK_SECRET is not set: alerts are sent unsigned")

    def prepare(self) -> None:
        """The database's schema check (an empty one is created; one behind refuses, naming `db upgrade`)."""
        ensure_schema(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    # ---- detection -----------------------------------------------------------------------------
    def _fix_report(self) -> tuple[FixReport, object]:
        bundle, info = self._load_model()
        loaded = self.sources.get(self.config.data_dir, bundle.meta)
        cached = self._report
        if cached is None or cached[0] is not bundle or cached[1] is not loaded.shop:
            params = FixParams.from_economics(self.config.economics)
            report = compute_fixes(loaded.shop, bundle, params, model_info=info)
            self._report = (bundle, loaded.shop, report)
        return self._report[2], self._report[1]

    def detect(self) -> Detected:
        """Compute the fix list, measure the done fixes, queue the alerts that are new."""
        report, shop = self._fix_report()
        state = self.board.state(report, shop)
        found = detect_alerts(state.rows, report.detection, as_of=report.as_of,
                              new_flag_days=self.config.alerts.new_flag_days,
                              min_savings=self.config.alerts.min_savings)
        new = self.outbox.enqueue(found, list(self._urls), now=self.clock(), lang=self.config.alerts.lang,
                                  dashboard_url=self.config.alerts.dashboard_url)
        done = [r for r in state.rows if r.status == "done"]
        outcome = Detected(report.as_of.isoformat(), len(report.fixes), len(done),
                           sum(1 for r in done if r.phase == "measured"), len(found), new)
        log.info("worker: %d suggestions, %d done (%d measured), %d alerts hold, %d new", outcome.suggestions,
                 outcome.done, outcome.measured, outcome.alerts, len(new))
        return outcome

    # ---- delivery ------------------------------------------------------------------------------
    def deliver(self) -> Delivered:
        """Send every due delivery (retries included) until none is due."""
        keys = list(self._urls)
        if not keys:
            return Delivered(0, 0)
        settings = self.config.alerts
        now = self.clock()
        self.outbox.add_destinations(keys, since=now - pd.Timedelta(days=7), now=now)
        sent = failed = 0
        while True:
            claimed = self.outbox.claim(keys, now=self.clock(), lease_seconds=settings.lease_seconds)
            if not claimed:
                return Delivered(sent, failed)
            for item in claimed:
                try:
                    post(self._urls[item.destination], encode(item.payload), alert_id=item.alert_id,
                         secret=settings.webhook_secret, timeout=settings.timeout_seconds)
                except DeliveryFailed as exc:
                    wait = backoff(item.attempts, settings.retry_base_seconds, settings.retry_max_seconds)
                    self.outbox.failed(item, str(exc), now=self.clock(), retry_in=wait)
                    log.warning("alert %s not delivered (attempt %d): %s; next try in %.0f s", item.alert_id,
                                item.attempts, exc, wait)
                    failed += 1
                    continue
                self.outbox.sent(item, now=self.clock())
                sent += 1

    def seconds_to_next_delivery(self) -> float | None:
        due = self.outbox.next_due(list(self._urls))
        return None if due is None else max((due - self.clock()).total_seconds(), 0.0)

    # ---- the loop ------------------------------------------------------------------------------
    def run_once(self) -> tuple[Detected, Delivered]:
        """One detection and one delivery pass (``returnrisk worker --once``: cron, tests)."""
        self.prepare()
        detected = self.detect()
        return detected, self.deliver()

    def run(self, stop: threading.Event) -> None:
        """Until ``stop`` is set: detect every ``detect_every_seconds``, deliver whenever something is due."""
        self.prepare()
        next_detect = 0.0
        monotonic = time.monotonic
        while not stop.is_set():
            if monotonic() >= next_detect:
                try:
                    self.detect()
                except Exception as exc:  # noqa: BLE001 - a long-running worker logs and tries again later
                    log.error("worker: detection failed: %s", exc)
                next_detect = monotonic() + self.config.detect_every_seconds
            try:
                self.deliver()
            except sa.exc.SQLAlchemyError as exc:
                log.error("worker: the database cannot be reached: %s", str(exc).splitlines()[0])
            wait = self.config.poll_seconds
            due = self.seconds_to_next_delivery()
            if due is not None:
                wait = min(wait, max(due, 0.2))
            stop.wait(min(wait, max(next_detect - monotonic(), 0.2)))
