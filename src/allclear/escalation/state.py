"""Open escalations, kept in SQLite under reports/: what makes a 15-minute schedule quiet.

One open escalation per target, item and kind (a failure the vendor must fix, or an item we
could not verify); the database enforces it with a partial unique index. Each sink's delivery is
remembered separately (its ticket key, incident key, or just "sent"), so a sink that was down
when an escalation opened is offered it again on the next run instead of losing it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

KINDS = "('failure', 'inconclusive', 'already-failing')"
ESCALATIONS = """
CREATE TABLE IF NOT EXISTS {name} (
    id INTEGER PRIMARY KEY,
    target TEXT NOT NULL,
    item TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN """ + KINDS + """),
    dedup_key TEXT NOT NULL,
    grade TEXT,
    fingerprint TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    runs INTEGER NOT NULL DEFAULT 1,
    resolved_at TEXT
);
"""
SCHEMA = ESCALATIONS.format(name="escalations") + """
CREATE UNIQUE INDEX IF NOT EXISTS one_open_escalation
    ON escalations (target, item, kind) WHERE resolved_at IS NULL;
CREATE TABLE IF NOT EXISTS deliveries (
    escalation_id INTEGER NOT NULL REFERENCES escalations (id),
    sink TEXT NOT NULL,
    ref TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    PRIMARY KEY (escalation_id, sink)
);
CREATE TABLE IF NOT EXISTS searched (
    target TEXT NOT NULL,
    item TEXT NOT NULL,
    kind TEXT NOT NULL,
    sink TEXT NOT NULL,
    searched_at TEXT NOT NULL,
    PRIMARY KEY (target, item, kind, sink)
);
"""


RESOLVED = "resolved"   # a delivery's fingerprint once the sink was told of the resolution


@dataclass
class Record:
    id: int
    target: str
    item: str
    kind: str
    dedup_key: str
    grade: str | None
    fingerprint: str
    first_seen: datetime
    last_seen: datetime
    runs: int
    resolved_at: datetime | None = None


@dataclass
class SinkDelivery:
    ref: str           # the sink's handle: a Jira key, a Zendesk ticket id, "sent"
    fingerprint: str   # what the sink was last told


def dedup_key(target: str, item: str, kind: str) -> str:
    """Stable across runs (and across a lost database): PagerDuty folds re-triggers into one alert."""
    return f"allclear/{target}/{item}" + {"inconclusive": "/could-not-verify",
                                          "already-failing": "/already-failing"}.get(kind, "")


class EscalationState:
    def __init__(self, connection: sqlite3.Connection, path: Path | None):
        self.db = connection
        self.path = path
        self._widen_kinds()
        self.db.executescript(SCHEMA)

    def _widen_kinds(self) -> None:
        """A state file from before "already-failing" existed (kept in CI's cache for weeks): its
        table's CHECK is rebuilt with every kind, keeping every row and id."""
        row = self.db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'escalations'").fetchone()
        if row is None or KINDS in row[0]:
            return
        self.db.executescript("BEGIN;" + ESCALATIONS.format(name="escalations_widened") + """
            INSERT INTO escalations_widened SELECT * FROM escalations;
            DROP TABLE escalations;
            ALTER TABLE escalations_widened RENAME TO escalations;
            COMMIT;""")

    @classmethod
    def open(cls, path: Path, scratch: bool = False) -> "EscalationState":
        """The state at `path`; with `scratch`, an in-memory copy that is thrown away (a dry run
        decides exactly as a real run would, and changes nothing)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        if not scratch:
            return cls(sqlite3.connect(path, timeout=30, isolation_level=None), path)
        copy = sqlite3.connect(":memory:", isolation_level=None)
        if path.exists():
            with sqlite3.connect(path, timeout=30) as source:
                source.backup(copy)
        return cls(copy, None)

    def close(self) -> None:
        self.db.close()

    def open_record(self, target: str, item: str, kind: str) -> Record | None:
        row = self.db.execute(
            "SELECT * FROM escalations WHERE target = ? AND item = ? AND kind = ? AND resolved_at IS NULL",
            (target, item, kind)).fetchone()
        return _record(row) if row else None

    def opened(self, target: str, item: str, kind: str, grade: str | None, fingerprint: str,
               first_seen: datetime, run_finished: datetime) -> Record:
        """`first_seen`: when the first failing probe ended; `run_finished` identifies the run."""
        cursor = self.db.execute(
            "INSERT INTO escalations (target, item, kind, dedup_key, grade, fingerprint, first_seen, last_seen) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (target, item, kind, dedup_key(target, item, kind), grade, fingerprint, first_seen.isoformat(),
             run_finished.isoformat()))
        return self._get(cursor.lastrowid)

    def seen_again(self, record: Record, grade: str | None, fingerprint: str, seen: datetime,
                   same_run: bool = False) -> Record:
        """The same run offered again (`allclear escalate`, or its end after an item was escalated at
        once) is not one more failing run."""
        again = 0 if same_run or seen == record.last_seen else 1
        self.db.execute("UPDATE escalations SET grade = ?, fingerprint = ?, last_seen = ?, runs = runs + ? "
                        "WHERE id = ?", (grade, fingerprint, seen.isoformat(), again, record.id))
        return self._get(record.id)

    def resolved_untold(self, target: str, item: str, kind: str, sinks: list[str]) -> list[Record]:
        """Resolved escalations one of `sinks` (those configured now) has not heard the resolution of
        (it was down): told again."""
        marks = ",".join("?" * len(sinks))
        rows = self.db.execute(
            "SELECT DISTINCT e.* FROM escalations e JOIN deliveries d ON d.escalation_id = e.id "
            "WHERE e.target = ? AND e.item = ? AND e.kind = ? AND e.resolved_at IS NOT NULL "
            f"AND d.fingerprint != ? AND d.sink IN ({marks}) ORDER BY e.id",
            (target, item, kind, RESOLVED, *sinks)).fetchall()
        return [_record(row) for row in rows]

    def unsearched(self, target: str, item: str, kind: str, sinks: list[str]) -> list[str]:
        """For a key this state holds no escalation of, the sinks it has never searched for an open one:
        a state file that is new (lost, evicted from a cache) searches each once, when the item first
        passes, so an escalation opened before the loss is still resolved."""
        if self.db.execute("SELECT 1 FROM escalations WHERE target = ? AND item = ? AND kind = ? LIMIT 1",
                           (target, item, kind)).fetchone():
            return []
        done = {row[0] for row in self.db.execute(
            "SELECT sink FROM searched WHERE target = ? AND item = ? AND kind = ?", (target, item, kind))}
        return [sink for sink in sinks if sink not in done]

    def searched_for(self, target: str, item: str, kind: str, sink: str, when: datetime) -> None:
        self.db.execute("INSERT OR REPLACE INTO searched (target, item, kind, sink, searched_at) "
                        "VALUES (?, ?, ?, ?, ?)", (target, item, kind, sink, when.isoformat()))

    @staticmethod
    def unrecorded(target: str, item: str, kind: str, seen: datetime) -> Record:
        """An escalation this state has no row of (id 0, never stored): only its key is known."""
        return Record(0, target, item, kind, dedup_key(target, item, kind), None, "", seen, seen, 0, seen)

    def resolved(self, record: Record, seen: datetime) -> Record:
        self.db.execute("UPDATE escalations SET resolved_at = ? WHERE id = ?", (seen.isoformat(), record.id))
        return self._get(record.id)

    def delivery(self, record: Record, sink: str) -> SinkDelivery | None:
        row = self.db.execute("SELECT ref, fingerprint FROM deliveries WHERE escalation_id = ? AND sink = ?",
                              (record.id, sink)).fetchone()
        return SinkDelivery(*row) if row else None

    def delivered(self, record: Record, sink: str, ref: str, fingerprint: str, when: datetime) -> None:
        self.db.execute(
            "INSERT INTO deliveries (escalation_id, sink, ref, fingerprint, sent_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (escalation_id, sink) DO UPDATE SET ref = excluded.ref, "
            "fingerprint = excluded.fingerprint, sent_at = excluded.sent_at",
            (record.id, sink, ref, fingerprint, when.isoformat()))

    def _get(self, record_id: int | None) -> Record:
        return _record(self.db.execute("SELECT * FROM escalations WHERE id = ?", (record_id,)).fetchone())


def _record(row: tuple) -> Record:
    (id_, target, item, kind, key, grade, fingerprint, first, last, runs, resolved) = row
    return Record(id_, target, item, kind, key, grade, fingerprint, datetime.fromisoformat(first),
                  datetime.fromisoformat(last), runs, datetime.fromisoformat(resolved) if resolved else None)
