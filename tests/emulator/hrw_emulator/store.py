"""The emulator's state: resources keyed by lower-cased ARM id, behind one lock, optionally persisted."""

import copy
import json
import os
import secrets
import threading
import time
import uuid
from pathlib import Path


def new_config(location="westeurope"):
    # HRW_EMULATOR_CLIENT_SECRET lets a test choose an awkward secret (a leading "-", shell characters) on purpose;
    # by default it is random, like Entra's.
    return {
        "tenant_id": str(uuid.uuid4()),
        "client_id": str(uuid.uuid4()),
        "client_secret": os.environ.get("HRW_EMULATOR_CLIENT_SECRET") or secrets.token_urlsafe(24),
        "subscription_id": str(uuid.uuid4()),
        "resource_group": "hrw-rg",
        "automation_account": "hrw-aa",
        "location": location,
        "signing_key": secrets.token_hex(32),
        "account_guid": str(uuid.uuid4()),
    }


def _write_atomic(path, text):
    """Write ``text`` to ``path`` so that a crash leaves the old or the new file, never a torn one."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    try:
        directory = os.open(str(path.parent), os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def utc_now(ts=None):
    ts = time.time() if ts is None else ts
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int((ts % 1) * 1e6):06d}+00:00"


class Store:
    """All mutable state. Callers hold ``self.lock`` around reads and writes.

    Durability: every change bumps a generation (``dirty = True``); ``commit()`` returns once the state file holds at
    least the generation current when it was called. The server commits before it answers, so a write that was
    acknowledged survives a kill. Concurrent committers share one write (group commit): while one thread writes, the
    others wait for it and the next one writes everything that arrived meanwhile.
    """

    def __init__(self, state_file=None, location="westeurope"):
        self.lock = threading.RLock()
        self._flush_lock = threading.Lock()
        self.state_file = Path(state_file) if state_file else None
        self._generation = 0   # bumped by every change
        self._durable = 0      # generation the state file holds
        self.commits = 0       # state-file writes (for the benchmark and tests)
        data = None
        if self.state_file and self.state_file.exists():
            data = json.loads(self.state_file.read_text())
        self.config = data["config"] if data else new_config(location)
        self._load(data)
        if not data:
            self.seed()
        elif "account_guid" not in self.config:  # state written by an older emulator
            seeded = self.get(self.account_id())
            self.config["account_guid"] = seeded["extra"]["guid"] if seeded else str(uuid.uuid4())
            self.dirty = True
        # Not persisted: request log, agent polls, rate buckets.
        self.requests = []
        self.request_seq = 0  # numbers log entries from 1; restarts when the log is cleared
        self.agent_seen = {}

    def _load(self, data):
        data = data or {}
        self.resources = data.get("resources", {})  # lower id -> {"kind", "body", "extra": {...}}
        self.operations = data.get("operations", {})  # op id -> dict
        self.hooks = data.get("hooks", {"fail_next_extension": {}})
        self.jobs_queue = data.get("jobs_queue", [])  # job lower ids waiting for a worker

    def snapshot(self):
        return {"config": self.config, "resources": self.resources, "operations": self.operations,
                "hooks": self.hooks, "jobs_queue": self.jobs_queue}

    @property
    def dirty(self):
        return self._generation != self._durable

    @dirty.setter
    def dirty(self, value):
        if value:
            self._generation += 1

    def flush(self):
        """Make the state file hold every change made so far (no-op without --state or when nothing changed)."""
        if not self.state_file or self._generation == self._durable:
            return  # nothing to write (an int comparison: reads pay nothing)
        with self.lock:
            target = self._generation
        with self._flush_lock:
            if self._durable >= target:
                return  # another thread's write covered this generation
            with self.lock:
                generation = self._generation
                text = json.dumps(self.snapshot())
            _write_atomic(self.state_file, text)
            self._durable = generation
            self.commits += 1

    commit = flush

    def reset(self):
        with self.lock:
            self._load(None)
            self.agent_seen = {}
            self.requests = []
            self.request_seq = 0
            self.seed()
            self.dirty = True

    # ---- ids -------------------------------------------------------------------------------------
    @property
    def sub(self):
        return self.config["subscription_id"]

    def rg_id(self, rg):
        return f"/subscriptions/{self.sub}/resourceGroups/{rg}"

    def account_id(self, rg=None, name=None):
        return (f"{self.rg_id(rg or self.config['resource_group'])}/providers/Microsoft.Automation/automationAccounts/"
                f"{name or self.config['automation_account']}")

    # ---- generic resource access -----------------------------------------------------------------
    def get(self, rid):
        return self.resources.get(rid.lower())

    def put(self, rid, kind, body, extra=None):
        record = self.resources.get(rid.lower())
        if record is None:
            record = {"kind": kind, "body": body, "extra": extra or {}}
            self.resources[rid.lower()] = record
        else:
            record["body"] = body
            if extra:
                record["extra"].update(extra)
        self.dirty = True
        return record

    def delete(self, rid, cascade=True):
        lid = rid.lower()
        removed = self.resources.pop(lid, None)
        if cascade:
            for key in [k for k in self.resources if k.startswith(lid + "/")]:
                del self.resources[key]
        self.dirty = True
        return removed

    def children(self, parent_id, kind):
        prefix = parent_id.lower() + "/"
        return [r for k, r in self.resources.items()
                if r["kind"] == kind and k.startswith(prefix) and k[len(prefix):].count("/") == 1]

    def of_kind(self, kind):
        return [r for r in self.resources.values() if r["kind"] == kind]

    def body(self, record):
        return copy.deepcopy(record["body"])

    # ---- seed ------------------------------------------------------------------------------------
    def seed(self):
        cfg = self.config
        rg = self.rg_id(cfg["resource_group"])
        self.put(rg, "resourceGroup", {"id": rg, "name": cfg["resource_group"], "type": "Microsoft.Resources/resourceGroups",
                                       "location": cfg["location"], "properties": {"provisioningState": "Succeeded"}})
        from . import automation  # local import: automation builds the account body
        automation.create_account(self, cfg["resource_group"], cfg["automation_account"], {"location": cfg["location"]},
                                  guid=cfg["account_guid"])
