"""The e-mail channel: ``returnrisk inbox`` reads return requests from a mailbox and records them.

* :mod:`~returnrisk.capture.inbox.mail` — an e-mail's text: the customer's own words (quoted
  replies, signatures and forward headers removed; HTML-only bodies read as text) and everything
  readable (where order numbers are looked for).
* :mod:`~returnrisk.capture.inbox.matching` — order numbers found in the text, and the lines named.
* :mod:`~returnrisk.capture.inbox.sources` — IMAP over TLS, a Maildir, a folder of ``.eml`` files.
* :mod:`~returnrisk.capture.inbox.process` — one message: matched, classified, recorded (channel
  ``email``) once per Message-ID, or put in the review list — never dropped.
"""
