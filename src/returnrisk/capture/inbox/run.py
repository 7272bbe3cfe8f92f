"""One run of ``returnrisk inbox``: the mailbox read, each new message processed, a summary.

The shop's data is reloaded when its files change between runs (:class:`ShopSource`), the
service database is checked like the service does at start-up (created if empty, refused if
behind: ``returnrisk db upgrade``). An order the shop's files do not have yet is looked for among the
order lines the platform sent by webhook to the service (the same database's
:class:`~returnrisk.operations.webhook_orders.WebhookOrderStore`), read afresh at each run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from returnrisk.capture.inbox.process import InboxOutcome, InboxProcessor
from returnrisk.capture.inbox.sources import eml_dir_messages, imap_messages, maildir_messages, parse_imap_url
from returnrisk.capture.records import CaptureRecords
from returnrisk.errors import InputError
from returnrisk.operations.reasoning import ReasonInferrer
from returnrisk.operations.sources import ShopSource
from returnrisk.operations.store import ReturnStore
from returnrisk.operations.webhook_orders import WebhookOrderStore

__all__ = ["InboxRun", "InboxSummary"]


@dataclass
class InboxSummary:
    outcomes: list[InboxOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    def describe(self) -> str:
        lines = sum(len(o.return_ids) for o in self.outcomes if o.status == "recorded")
        return (f"{len(self.outcomes)} message(s): {self.count('recorded')} recorded ({lines} line(s)), "
                f"{self.count('review')} to review, {self.count('duplicate')} already processed")

    def to_dict(self) -> dict:
        return {"messages": len(self.outcomes), "recorded": self.count("recorded"), "review": self.count("review"),
                "duplicate": self.count("duplicate"),
                "returns": sum(len(o.return_ids) for o in self.outcomes if o.status == "recorded"),
                "outcomes": [o.to_dict() for o in self.outcomes]}


class InboxRun:
    def __init__(self, database_url: str, data_dir: Path, order_pattern: str, *, imap: str | None = None,
                 imap_password: str | None = None, maildir: Path | None = None, eml_dir: Path | None = None,
                 since_days: int = 30, imap_context=None):
        from returnrisk.reasons.fill import default_reason_filler

        try:
            self.store = ReturnStore(database_url)
        except ValueError as exc:
            raise InputError(f"--db: {exc}") from None
        self.store.prepare()
        self.records = CaptureRecords(self.store.engine)
        self.orders = WebhookOrderStore(self.store.engine)
        self.shop = ShopSource(data_dir, reason_filler_factory=default_reason_filler, recheck_seconds=0)
        self.reasons = ReasonInferrer()
        self.pattern = order_pattern
        self.address = parse_imap_url(imap, imap_password) if imap else None
        self.maildir, self.eml_dir, self.since_days, self.imap_context = maildir, eml_dir, since_days, imap_context

    def _messages(self):
        if self.address is not None:
            return "imap", imap_messages(self.address, self.records.known_messages, since_days=self.since_days,
                                         context=self.imap_context)
        if self.maildir is not None:
            return "maildir", maildir_messages(self.maildir)
        return "eml", eml_dir_messages(self.eml_dir)

    def once(self) -> InboxSummary:
        loaded = self.shop.get()   # reloaded when the shop's files changed; DataError: the CLI lists the problems
        processor = InboxProcessor(self.store, self.records, loaded, self.reasons, self.pattern, self.orders)
        source, messages = self._messages()
        summary = InboxSummary()
        for message in messages:
            summary.outcomes.append(processor.process(message.data, source, message.key))
        return summary

    def close(self) -> None:
        self.store.dispose()
