"""A real IMAP server for tests: Dovecot (Debian's dovecot-imapd) on 127.0.0.1, TLS, one Maildir.

Started in a temporary folder with its own configuration (nothing of the system's is used or
changed), a self-signed certificate made with ``openssl``, one user with a plain password. Root
runs the mail processes as the ``dovecot`` user (Dovecot refuses root for mail); anyone else runs
everything as themselves.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Dovecot", "dovecot_binary", "start_dovecot"]

USER, PASSWORD = "returns", "imap-test-password"


def dovecot_binary() -> str | None:
    return shutil.which("dovecot") or (shutil.which("dovecot", path="/usr/sbin:/sbin"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Dovecot:
    folder: Path
    port: int
    maildir: Path
    cafile: Path
    owner: tuple[int, int]

    @property
    def url(self) -> str:
        return f"imaps://{USER}@127.0.0.1:{self.port}/INBOX"

    def deliver(self, name: str, data: bytes) -> None:
        path = self.maildir / "new" / name
        path.write_bytes(data)
        os.chown(path, *self.owner)

    def stop(self) -> None:
        pid_file = self.folder / "run" / "master.pid"
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text().strip()), 15)
            except (ProcessLookupError, ValueError):
                pass
            for _ in range(50):
                if not pid_file.exists():
                    break
                time.sleep(0.1)
        shutil.rmtree(self.folder, ignore_errors=True)


def start_dovecot(binary: str) -> Dovecot:
    folder = Path(tempfile.mkdtemp(prefix="returnrisk-imap-"))
    folder.chmod(0o755)   # the mail processes (another user when run as root) walk into it
    for sub in ("run", "state", "home", "Maildir/cur", "Maildir/new", "Maildir/tmp"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(folder / "key.pem"),
                    "-out", str(folder / "cert.pem"), "-days", "2", "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=IP:127.0.0.1,DNS:localhost"], check=True, capture_output=True)
    (folder / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    for name in ("passwd", "key.pem", "cert.pem"):
        (folder / name).chmod(0o644)
    if os.geteuid() == 0:
        mail_user = pwd.getpwnam("dovecot")
        owner = (mail_user.pw_uid, mail_user.pw_gid)
        users = ""
    else:
        me = pwd.getpwuid(os.geteuid())
        owner = (me.pw_uid, me.pw_gid)
        users = (f"default_login_user = {me.pw_name}\ndefault_internal_user = {me.pw_name}\n"
                 f"default_internal_group = {me.pw_name}\n")
    for path in [folder / "home", *(folder / "Maildir").rglob("*"), folder / "Maildir"]:
        os.chown(path, *owner)
    port = _free_port()
    (folder / "dovecot.conf").write_text(f"""{users}base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{folder}/cert.pem
ssl_key = <{folder}/key.pem
auth_mechanisms = plain
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {folder}/passwd
}}
userdb {{
  driver = static
  args = uid={owner[0]} gid={owner[1]} home={folder}/home mail=maildir:{folder}/Maildir
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
""")
    # the master daemonises: no pipes to its output (they would stay open), its log is dovecot.log
    subprocess.run([binary, "-c", str(folder / "dovecot.conf")], check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    server = Dovecot(folder, port, folder / "Maildir", folder / "cert.pem", owner)
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server
        except OSError:
            time.sleep(0.1)
    log = (folder / "dovecot.log").read_text() if (folder / "dovecot.log").exists() else ""
    server.stop()
    raise RuntimeError(f"dovecot did not listen on {port}: {log[-2000:]}")
