"""The life of a fix after it is suggested: its status, its measured effect, the alerts.

=================  ==========================================================================
module             what it holds
=================  ==========================================================================
``statuses``       the trail of status changes in the service database (append-only) and the
                   current status beside it (:class:`FixStatusStore`)
``changes``        changing a status: the rules of :mod:`returnrisk.fixes.status`, the
                   effective status (a dismissal that lapsed), :func:`set_status`
``catalogue``      titles, product pages, images and currencies of products
``effects``        the measured effect of done fixes, its summary, the before/after weeks
``recurrence``     whether a done fix's problem came back since its live date
``listing``        the fix list: rows, filters, search, sort, paging (:class:`FixQuery`)
``board``          the rows of one report on one shop with statuses and effects, cached
``export``         the list as CSV (exactly the rows and columns a view shows)
``labels``         lever names, statuses, reasons in English and French
``money``          amounts per language and currency (Babel)
``alerts``         what deserves an alert, with stable ids
``outbox``         alerts and their deliveries in the database (at least once, never lost)
``webhook``        one signed POST to an incoming webhook
``worker``         the periodic work in one process (``returnrisk worker``)
``settings``       ``RETURNRISK_ALERT_*``
=================  ==========================================================================

Dependencies point down: ``lifecycle`` uses ``fixes``, ``db``, ``data``, ``operations.sources``;
``serving``, ``dashboard`` and ``cli`` use ``lifecycle``.
"""

from returnrisk.lifecycle.board import BoardState, FixBoard
from returnrisk.lifecycle.changes import FixNotFound, effective, set_status
from returnrisk.lifecycle.listing import (
    DEFAULT_STATUSES,
    SORTS,
    STATUS_FILTERS,
    FixPage,
    FixQuery,
    FixRow,
    build_rows,
    select,
)
from returnrisk.lifecycle.statuses import FixStatusStore, StoredStatus

__all__ = [
    "DEFAULT_STATUSES",
    "SORTS",
    "STATUS_FILTERS",
    "BoardState",
    "FixBoard",
    "FixNotFound",
    "FixPage",
    "FixQuery",
    "FixRow",
    "FixStatusStore",
    "StoredStatus",
    "build_rows",
    "effective",
    "select",
    "set_status",
]
