"""Where the e-mails come from: IMAP over TLS, a Maildir, or a folder of ``.eml`` files.

Nothing is moved, flagged or deleted in the mailbox (IMAP is opened read-only and bodies are
fetched with ``BODY.PEEK``): what was processed is known by Message-ID in the service database,
so a message already processed is not even downloaded again.

``--imap`` URLs: ``imaps://USER[:PASSWORD]@HOST[:993]/MAILBOX`` (TLS from the start) or
``imap://USER@HOST[:143]/MAILBOX`` (STARTTLS, required: a server without it is refused). The
password may come from ``RETURNRISK_IMAP_PASSWORD`` instead of the URL (better: the URL shows in
the process list). Certificates are verified with the system's authorities (``SSL_CERT_FILE``
adds a private one).
"""

from __future__ import annotations

import imaplib
import logging
import mailbox
import re
import ssl
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

from returnrisk.errors import InputError, UnavailableError

__all__ = [
    "ImapAddress",
    "MailboxUnavailable",
    "RawMessage",
    "eml_dir_messages",
    "imap_messages",
    "maildir_arrival",
    "maildir_messages",
    "parse_imap_url",
]

log = logging.getLogger(__name__)

_MESSAGE_ID = re.compile(rb"^message-id:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_UID = re.compile(rb"UID (\d+)")


class MailboxUnavailable(UnavailableError):
    code = "mailbox_unavailable"


@dataclass(frozen=True)
class RawMessage:
    key: str       # where it was found (file name, Maildir key, IMAP UID): for messages to the operator
    data: bytes


@dataclass(frozen=True)
class ImapAddress:
    host: str
    port: int
    user: str
    password: str | None
    mailbox: str
    implicit_tls: bool

    def shown(self) -> str:
        scheme = "imaps" if self.implicit_tls else "imap"
        return f"{scheme}://{self.user}@{self.host}:{self.port}/{self.mailbox}"


def parse_imap_url(url: str, password: str | None = None) -> ImapAddress:
    """An ``imaps://`` or ``imap://`` URL (see the module docstring); bad ones raise InputError saying why."""
    parts = urlsplit(url)
    if parts.scheme not in ("imaps", "imap"):
        raise InputError(f"--imap {url.split('@')[-1]!r}: use imaps://USER@HOST/MAILBOX (TLS) or imap://USER@HOST/MAILBOX "
                         "(STARTTLS)")
    if not parts.hostname or not parts.username:
        raise InputError("--imap: the URL needs a user and a host, e.g. imaps://returns%40shop.example@imap.shop.example"
                         "/INBOX")
    try:
        port = parts.port or (993 if parts.scheme == "imaps" else 143)
    except ValueError:
        raise InputError("--imap: the port is not a number") from None
    secret = unquote(parts.password) if parts.password else password
    return ImapAddress(parts.hostname, port, unquote(parts.username), secret,
                       unquote(parts.path.lstrip("/")) or "INBOX", parts.scheme == "imaps")


def eml_dir_messages(folder: Path) -> Iterator[RawMessage]:
    """Every ``*.eml`` file of ``folder`` (not recursive), by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"--eml-dir {folder} is not a folder: pass the folder holding the .eml files")
    for path in sorted(folder.glob("*.eml")):
        yield RawMessage(path.name, path.read_bytes())


#: A Maildir file name starts with its delivery time: seconds, then (Python, Dovecot, Postfix…)
#: ``M`` microseconds and ``Q`` a per-process counter — numbers of varying width.
_MAILDIR_KEY = re.compile(r"^(\d+)\.(?:[^.]*?M(\d+))?(?:[^.]*?Q(\d+))?")


def maildir_arrival(key: str) -> tuple:
    """Sort key putting Maildir messages in delivery order (a plain text sort does not: ``M96411``
    sorts after ``M100000``); keys of another form come last, by name."""
    found = _MAILDIR_KEY.match(key)
    if not found:
        return (1, 0, 0, 0, key)
    seconds, micro, counter = (int(g) if g else 0 for g in found.groups())
    return (0, seconds, micro, counter, key)


def maildir_messages(folder: Path) -> Iterator[RawMessage]:
    """Every message of the Maildir ``folder`` (``new`` and ``cur``), left where it is, in delivery order
    (of two copies of one message, the first delivered is the one recorded)."""
    folder = Path(folder)
    if not (folder / "cur").is_dir() or not (folder / "new").is_dir():
        raise InputError(f"--maildir {folder} is not a Maildir (it needs cur/ and new/ folders)")
    box = mailbox.Maildir(folder, factory=None, create=False)
    for key in sorted(box.keys(), key=maildir_arrival):
        try:
            yield RawMessage(key, box.get_bytes(key))
        except (KeyError, FileNotFoundError):   # moved by a mail client meanwhile
            continue


def _connect(address: ImapAddress, context: ssl.SSLContext, timeout: float) -> imaplib.IMAP4:
    try:
        if address.implicit_tls:
            client = imaplib.IMAP4_SSL(address.host, address.port, ssl_context=context, timeout=timeout)
        else:
            client = imaplib.IMAP4(address.host, address.port, timeout=timeout)
            if "STARTTLS" not in client.capabilities:
                client.logout()
                raise MailboxUnavailable(f"{address.shown()} offers no STARTTLS: use imaps:// (the password is "
                                         "never sent in clear)")
            client.starttls(ssl_context=context)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailboxUnavailable(f"cannot reach {address.shown()}: {exc}") from None
    return client


def _message_ids(client: imaplib.IMAP4, uids: list[bytes]) -> dict[bytes, str | None]:
    found: dict[bytes, str | None] = {uid: None for uid in uids}
    for start in range(0, len(uids), 200):
        chunk = b",".join(uids[start:start + 200]).decode()
        status, data = client.uid("FETCH", chunk, "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        if status != "OK":
            continue
        for item in data:
            if isinstance(item, tuple) and len(item) == 2:
                uid = _UID.search(item[0])
                match = _MESSAGE_ID.search(item[1] or b"")
                if uid:
                    found[uid.group(1)] = match.group(1).decode(errors="replace") if match else None
    return found


def imap_messages(address: ImapAddress, known: Callable[[Iterable[str]], set[str]], *, since_days: int = 30,
                  context: ssl.SSLContext | None = None, timeout: float = 60.0) -> Iterator[RawMessage]:
    """The messages of the last ``since_days`` days whose Message-ID ``known`` does not report."""
    if not address.password:
        raise InputError(f"--imap {address.shown()}: no password — put it in RETURNRISK_IMAP_PASSWORD")
    client = _connect(address, context or ssl.create_default_context(), timeout)
    try:
        try:
            client.login(address.user, address.password)
        except imaplib.IMAP4.error as exc:
            raise InputError(f"{address.shown()} refused the login: {exc} — check the user and "
                             "RETURNRISK_IMAP_PASSWORD") from None
        status, data = client.select(_quote(address.mailbox), readonly=True)
        if status != "OK":
            raise InputError(f"{address.shown()}: no mailbox {address.mailbox!r} ({data[0]!r})")
        since = (datetime.now(UTC) - timedelta(days=since_days)).strftime("%d-%b-%Y")
        status, data = client.uid("SEARCH", None, "SINCE", since)
        uids = data[0].split() if status == "OK" and data and data[0] else []
        ids = _message_ids(client, uids)
        seen = known([m for m in ids.values() if m])
        for uid in uids:
            if ids.get(uid) and ids[uid] in seen:
                continue
            status, body = client.uid("FETCH", uid.decode(), "(BODY.PEEK[])")
            raw = next((item[1] for item in body if isinstance(item, tuple) and len(item) == 2), None) \
                if status == "OK" else None
            if raw:
                yield RawMessage(f"uid {uid.decode()}", raw)
    except (OSError, imaplib.IMAP4.abort) as exc:
        raise MailboxUnavailable(f"{address.shown()}: connection lost ({exc}); run again") from None
    finally:
        try:
            client.logout()
        except (OSError, imaplib.IMAP4.error):
            pass


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
