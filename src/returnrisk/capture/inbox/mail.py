"""An e-mail's text: the customer's own words, and everything readable.

* ``words`` — what the customer wrote: the body (plain text preferred, else the HTML read as
  text) without quoted replies (``>`` lines, "On … wrote:" / "Le … a écrit :" and what follows),
  signatures ("-- ", "Sent from my iPhone", "Envoyé de mon …") and, in a forwarded message, the
  forwarder's note and the forward headers: the forwarded customer's message is what counts
  (also when forwarded as an attached ``message/rfc822``).
* ``text`` — the subject and every readable part, quotes included: an order number is often only
  in the subject or in the quoted shipping e-mail.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser

__all__ = ["MAX_WORDS", "InboxMessage", "customer_words", "html_to_text", "read_message"]

#: The customer's words kept (as the API's reason_text).
MAX_WORDS = 5000

_FORWARD = re.compile(
    r"^\s*(?:-{2,}\s*(?:forwarded message|original message|message transf[ée]r[ée]|message d'origine|"
    r"message original|mail transf[ée]r[ée])\s*-{2,}|begin forwarded message\s*:|"
    r"d[ée]but du message r[ée]exp[ée]di[ée]\s*:)\s*$", re.IGNORECASE | re.MULTILINE)
_HEADER_LINE = re.compile(r"^\s*(?:from|de|date|sent|envoy[ée]|to|[àa]|cc|subject|objet|reply-to|"
                          r"r[ée]pondre [àa])\s*:", re.IGNORECASE)
_REPLY = re.compile(r"^\s*(?:on\b.{0,300}\bwrote\s*:|le\b.{0,300}\ba [ée]crit\s*:|"
                    r"-{2,}\s*(?:original message|message d'origine)\s*-{2,}|"
                    r"(?:from|de)\s*:.{0,200}\n\s*(?:sent|envoy[ée]|date)\s*:)\s*$",
                    re.IGNORECASE | re.MULTILINE | re.DOTALL)
_SIGNATURE = re.compile(r"^(?:-- ?|__+|sent from my .*|envoy[ée] (?:de|depuis) mon .*|get outlook for .*|"
                        r"t[ée]l[ée]charger outlook .*)$", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class InboxMessage:
    message_id: str
    subject: str
    received_at: datetime | None
    words: str             # the customer's own words (to classify)
    text: str              # subject + every readable part (to find the order number)
    n_attachments: int


class _HtmlText(HTMLParser):
    """HTML → text: blocks on their own lines, quoted blocks prefixed with "> ", scripts and styles skipped."""

    _BLOCKS = frozenset({"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "hr", "section"})
    _SKIP = frozenset({"script", "style", "head", "title"})

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.quote = 0
        self.skip = 0
        self.at_line_start = True

    def handle_starttag(self, tag, attrs):
        if tag in self._SKIP:
            self.skip += 1
        elif tag == "blockquote":
            self.quote += 1
            self._newline()
        elif tag in self._BLOCKS:
            self._newline()

    def handle_endtag(self, tag):
        if tag in self._SKIP:
            self.skip = max(self.skip - 1, 0)
        elif tag == "blockquote":
            self.quote = max(self.quote - 1, 0)
            self._newline()
        elif tag in self._BLOCKS:
            self._newline()

    def handle_data(self, data):
        if self.skip:
            return
        for i, piece in enumerate(data.split("\n")):
            if i:
                self._newline()
            if not piece.strip():
                if not self.at_line_start:
                    self.out.append(" ")
                continue
            if self.at_line_start and self.quote:
                self.out.append("> " * self.quote)
            self.out.append(piece.replace("\xa0", " ").replace("\t", " "))
            self.at_line_start = False

    def _newline(self):
        self.out.append("\n")
        self.at_line_start = True


def html_to_text(html: str) -> str:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.out).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _content(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeDecodeError, AssertionError):   # unknown or lying charset
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", errors="replace")
    if isinstance(content, bytes):
        content = content.decode("utf-8", errors="replace")
    return content if isinstance(content, str) else ""


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = _content(part)
    return html_to_text(content) if part.get_content_type() == "text/html" else content


def _strip_forward_headers(text: str) -> str:
    lines = text.split("\n")
    i = 0
    while i < len(lines) and (not lines[i].strip() or _HEADER_LINE.match(lines[i])):
        i += 1
    return "\n".join(lines[i:])


def _cut_reply(text: str) -> str:
    match = _REPLY.search(text)
    if match:
        text = text[:match.start()]
    return "\n".join(line for line in text.split("\n") if not line.lstrip().startswith(">"))


def _cut_signature(text: str) -> str:
    match = _SIGNATURE.search(text)
    return text[:match.start()] if match else text


def customer_words(body: str, *, forwarded_by_shop: bool | None = None) -> str:
    """The customer's own words of a body (see the module docstring).

    In a forwarded message, whose words count depends on who forwarded it: the shop (a colleague
    forwarding the customer's e-mail to the returns inbox: the forwarded part) or the customer
    (forwarding the shop's shipping e-mail with a note: the note). ``None``: unknown — the note
    when it says something (4 words or more), else the forwarded part.
    """
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    marker = _FORWARD.search(text)
    if marker:
        note = _cut_signature(_cut_reply(text[:marker.start()]))
        inner = _strip_forward_headers(text[marker.end():])
        if forwarded_by_shop is None:
            forwarded_by_shop = len(note.split()) < 4
        text = inner if forwarded_by_shop or not note.strip() else note
    text = _cut_signature(_cut_reply(text))
    text = " ".join(text.split())
    return text[:MAX_WORDS]


def _domains(value: str) -> set[str]:
    """The domains of the addresses of a header (compared in memory only: no address is stored)."""
    return {d.lower() for d in re.findall(r"@([\w.-]+\w)", value or "")}


def _forwarded_by_shop(message: EmailMessage) -> bool | None:
    """Whether the sender writes from the inbox's own domain (a colleague forwarding), if known."""
    sender = _domains(str(message.get("From") or ""))
    inbox = _domains(" ".join(str(message.get(h) or "") for h in ("To", "Delivered-To", "X-Original-To")))
    if not sender or not inbox:
        return None
    return bool(sender & inbox)


def _attached_messages(message: EmailMessage) -> list[EmailMessage]:
    out = []
    for part in message.walk():
        if part.get_content_type() == "message/rfc822":
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            if isinstance(inner, EmailMessage):
                out.append(inner)
    return out


def _n_attachments(message: EmailMessage) -> int:
    return sum(1 for _ in message.iter_attachments())


def _message_id(message: EmailMessage, raw: bytes) -> str:
    value = str(message.get("Message-ID") or "").strip()
    if value:
        return value[:500]
    return f"<sha256-{hashlib.sha256(raw).hexdigest()}@returnrisk>"


def _date(message: EmailMessage) -> datetime | None:
    try:
        value = parsedate_to_datetime(str(message.get("Date")))
    except (TypeError, ValueError, IndexError):
        return None
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def read_message(raw: bytes) -> InboxMessage:
    """Parse one e-mail (any MIME structure; never raises on a malformed one)."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    subject = " ".join(str(message.get("Subject") or "").split())
    body = _body(message)
    by_shop = _forwarded_by_shop(message)
    inner = _attached_messages(message)
    words = customer_words(body, forwarded_by_shop=by_shop)
    texts = [subject, body]
    if inner:   # forwarded as an attachment: the attached message, unless the customer's own note says more
        inner_words = " ".join(customer_words(_body(m)) for m in inner).strip()
        if by_shop or (by_shop is None and len(words.split()) < 4) or not words:
            words = inner_words or words
        texts += [str(m.get("Subject") or "") + "\n" + _body(m) for m in inner]
    if not words:
        words = customer_words(subject)
    return InboxMessage(_message_id(message, raw), subject, _date(message), words[:MAX_WORDS], "\n".join(texts),
                        _n_attachments(message))
