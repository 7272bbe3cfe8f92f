"""Return capture where customers are: the return portal and the e-mail inbox (issue 16).

* :mod:`~returnrisk.capture.links` — signed portal links (itsdangerous).
* :mod:`~returnrisk.capture.reasons` — the reasons in plain words and their taxonomy codes.
* :mod:`~returnrisk.capture.orders` — an order as its customer sees it.
* :mod:`~returnrisk.capture.exchange` — the size offered in exchange (the customer's size advice).
* :mod:`~returnrisk.capture.photos` — photos checked by content, stored privately.
* :mod:`~returnrisk.capture.recording` — **the one way into the returns store**
  (:func:`record_customer_return`, :func:`returned_units`).
* :mod:`~returnrisk.capture.records` — the capture tables (migration 0006).
* :mod:`~returnrisk.capture.listing` — customer returns for the merchant (API, export).
* :mod:`~returnrisk.capture.figures` — returns by channel, share with a reason, exchanges.
* :mod:`~returnrisk.capture.inbox` — the e-mail channel.
* :mod:`~returnrisk.capture.settings` — ``RETURNRISK_PORTAL_*`` and ``RETURNRISK_INBOX_*``.

The customer pages themselves are :mod:`returnrisk.portal` (templates, form, CSRF, rate limits)
and the service's :mod:`returnrisk.serving.portal_desk`.
"""

__all__: list[str] = []
