"""The CLI of the fix lifecycle: `returnrisk fix-status FIX_ID STATUS [--live-at] [--note]` records a
change in the service database (an audit trail), `returnrisk fixes --status S` filters by it."""

from __future__ import annotations

import json

from returnrisk.cli import main
from returnrisk.db import upgrade


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    out, err = capsys.readouterr()
    return code, out, err


def test_fix_status_records_who_and_when_and_fixes_status_lists_by_it(trained, tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'service.db'}"
    upgrade(db)
    uri = ["--tracking-uri", trained.tracking_uri]
    code, _, err = _run(capsys, "fixes", *uri, "--output", str(tmp_path / "all.json"), "--top", "0")
    assert code == 0, err
    fixes = json.loads((tmp_path / "all.json").read_text())
    fix_id = fixes[0]["fix_id"]

    code, out, err = _run(capsys, "fix-status", fix_id, "done", "--live-at", "2026-02-01", "--note", "size guide",
                          "--by", "anna", "--db", db, *uri, "--json")
    assert code == 0, err
    recorded = json.loads(out.strip().splitlines()[-1])          # strict JSON, alone on stdout
    assert len(out.strip().splitlines()) == 1
    assert (recorded["fix_id"], recorded["status"], recorded["live_at"], recorded["note"], recorded["changed_by"]) == (
        fix_id, "done", "2026-02-01", "size guide", "anna")
    assert recorded["product_id"] == fixes[0]["product_id"] and recorded["lever"] == fixes[0]["lever"]

    # a live fix is not dismissed: exit 2 and the reason, nothing recorded
    code, out, err = _run(capsys, "fix-status", fix_id, "dismissed", "--dismiss-reason", "wrong", "--db", db, *uri)
    assert code == 2 and "dismissed" in err and "Traceback" not in err
    code, out, err = _run(capsys, "fix-status", "../P1", "done", "--live-at", "2026-02-01", "--db", db, *uri)
    assert code == 2 and "is not a fix id" in err

    # the list by status: only the done fix, with its phase
    code, out, err = _run(capsys, "fixes", *uri, "--status", "done", "--db", db, "--output",
                          str(tmp_path / "done.json"), "--json", "--top", "0")
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert list(summary["statuses"]) == [fix_id] and summary["statuses"][fix_id] in ("measuring", "measured")
    assert [f["fix_id"] for f in json.loads((tmp_path / "done.json").read_text())] == [fix_id]
    # and the to-do list no longer has it
    code, out, err = _run(capsys, "fixes", *uri, "--status", "open,in_progress", "--db", db, "--output",
                          str(tmp_path / "todo.json"), "--top", "0")
    assert code == 0, err
    todo = [f["fix_id"] for f in json.loads((tmp_path / "todo.json").read_text())]
    assert fix_id not in todo and len(todo) == len(fixes) - 1
