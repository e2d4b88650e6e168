"""Throttling, injected faults, latency and --state persistence (each test runs its own emulator)."""

import time
import uuid
from collections import Counter

from azure.mgmt.automation import AutomationClient

from helpers import Emulator


def test_throttled_sdk_client_eventually_succeeds(tmp_path):
    emu = Emulator("--throttle-writes", "2:2", state_dir=tmp_path)
    try:
        client = emu.client(AutomationClient)
        rg, aa = emu["resource_group"], emu["automation_account"]
        started = time.monotonic()
        for index in range(5):
            client.hybrid_runbook_worker_group.create(rg, aa, f"t{index}", {})
        assert time.monotonic() - started >= 1.0  # 3 writes beyond the burst at 2/s
        log = [r for r in emu.admin("GET", "requests") if r["area"] == "arm"]
        throttled = [r for r in log if r["status"] == 429]
        assert throttled and throttled[0]["response_body"]["error"]["code"] == "SubscriptionRequestsThrottled"
        assert len([g for g in client.hybrid_runbook_worker_group.list_by_automation_account(rg, aa)]) == 5
        status, headers, _ = emu.arm("PUT", f"{emu.account_path}/hybridRunbookWorkerGroups/x", {})
        if status == 429:
            assert int(headers["Retry-After"]) >= 1
        assert "x-ms-ratelimit-remaining-subscription-writes" in headers
    finally:
        emu.stop()


def test_fault_rate_produces_configured_codes_without_state_change(tmp_path):
    emu = Emulator("--fault-rate", "0.5", "--fault-codes", "500,503", "--fault-seed", "7", state_dir=tmp_path)
    try:
        token = emu.token()
        statuses = Counter()
        for index in range(40):
            status, _, _ = emu.arm("PUT", f"{emu.account_path}/hybridRunbookWorkerGroups/f{index}", {}, token=token)
            statuses[status] += 1
        assert set(statuses) == {201, 500, 503}, statuses
        emu.admin("POST", "settings", {"faultRate": 0})
        status, _, body = emu.arm("GET", f"{emu.account_path}/hybridRunbookWorkerGroups", token=token)
        assert len(body["value"]) == statuses[201]
        # The SDK's default retry policy rides over injected 5xx.
        emu.admin("POST", "settings", {"faultRate": 0.3})
        client = emu.client(AutomationClient)
        for index in range(5):
            client.hybrid_runbook_worker_group.create(emu["resource_group"], emu["automation_account"], f"sdk{index}", {})
    finally:
        emu.stop()


def test_state_and_ca_survive_restart(tmp_path):
    first = Emulator(state_dir=tmp_path)
    client = first.client(AutomationClient)
    rg, aa = first["resource_group"], first["automation_account"]
    client.hybrid_runbook_worker_group.create(rg, aa, "kept", {})
    wid = str(uuid.uuid4())
    client.hybrid_runbook_workers.create(rg, aa, "kept", wid, {"properties": {"vmResourceId": first.vm_id("vm-kept")}})
    token = first.token()
    ca = (tmp_path / "ca.pem").read_bytes()
    assert first.stop() == 0
    second = Emulator(state_dir=tmp_path)
    try:
        for key in ("tenant_id", "client_id", "client_secret", "subscription_id", "hybrid_service_url", "ca_bundle"):
            if key != "hybrid_service_url":
                assert second[key] == first[key]
        assert (tmp_path / "ca.pem").read_bytes() == ca
        status, _, body = second.arm("GET", f"{second.account_path}/hybridRunbookWorkerGroups/kept/hybridRunbookWorkers/{wid}",
                                     token=token)
        assert status == 200 and body["properties"]["vmResourceId"] == first.vm_id("vm-kept").lower()
        second.admin("POST", "reset")
        status, _, _ = second.arm("GET", f"{second.account_path}/hybridRunbookWorkerGroups/kept", token=token)
        assert status == 404
    finally:
        second.stop()
