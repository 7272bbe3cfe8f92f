"""The return portal's customer pages (``/returns``): words FR/EN, templates, the form, CSRF, rate limits.

The pages are served by :mod:`returnrisk.serving.routes.portal`; the work behind them is
:class:`returnrisk.serving.portal_desk.PortalDesk`; what they record goes through
:mod:`returnrisk.capture.recording`.
"""

__all__: list[str] = []
