"""Durability of acknowledged writes across a kill, and the network-fault hooks (cut-off and lost answers)."""

import http.client
import json
import signal
import threading
import time
import urllib.parse

import pytest

from helpers import Emulator


def _raw(emu, method, path, body=None, token=None):
    """One request on a fresh connection; returns (status, body) or raises what http.client raises."""
    url = urllib.parse.urlsplit(emu["arm_endpoint"])
    conn = http.client.HTTPSConnection(url.hostname, url.port, context=emu.ssl, timeout=30)
    try:
        sep = "&" if "?" in path else "?"
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        conn.request(method, f"{path}{sep}api-version=2024-10-23", json.dumps(body) if body is not None else None, headers)
        response = conn.getresponse()
        payload = response.read()
        return response.status, (json.loads(payload) if payload else None)
    finally:
        conn.close()


def test_writes_acknowledged_before_a_kill_are_all_there_after_restart(tmp_path):
    emu = Emulator(state_dir=tmp_path)
    token = emu.token()
    acknowledged, lock = [], threading.Lock()

    def writer(index):
        for n in range(12):
            name = f"w{index}-{n}"
            status, _ = _raw(emu, "PUT", f"{emu.account_path}/hybridRunbookWorkerGroups/{name}", {}, token)
            if status in (200, 201):
                with lock:
                    acknowledged.append(name)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    emu.proc.send_signal(signal.SIGKILL)  # no shutdown flush: only what was persisted before each answer counts
    emu.proc.wait(timeout=15)
    emu.stop(check=False)
    assert len(acknowledged) == 96
    second = Emulator(state_dir=tmp_path)
    try:
        status, _, body = second.arm("GET", f"{second.account_path}/hybridRunbookWorkerGroups", token=token)
        assert status == 200
        names = set()
        page = body
        while True:
            names.update(g["name"] for g in page["value"])
            if not page.get("nextLink"):
                break
            status, _, page = second.call("GET", page["nextLink"], headers={"Authorization": f"Bearer {token}"})
        missing = sorted(set(acknowledged) - names)
        assert missing == [], f"{len(missing)} acknowledged groups lost: {missing[:5]}"
        assert not list(tmp_path.glob("*.tmp"))
    finally:
        second.stop()


def test_lost_answer_applies_the_write_and_closes_the_connection(tmp_path):
    emu = Emulator(state_dir=tmp_path)
    try:
        token = emu.token()
        emu.admin("POST", "drop-next", {"mode": "lose", "method": "PUT", "pathContains": "/hybridRunbookWorkerGroups/lost"})
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
            _raw(emu, "PUT", f"{emu.account_path}/hybridRunbookWorkerGroups/lost", {}, token)
        status, body = _raw(emu, "GET", f"{emu.account_path}/hybridRunbookWorkerGroups/lost", token=token)
        assert status == 200 and body["name"] == "lost"  # applied although never answered
        status, _ = _raw(emu, "PUT", f"{emu.account_path}/hybridRunbookWorkerGroups/lost", {}, token)
        assert status == 200  # the rule was one-shot; a repeated PUT converges
        log = [r for r in emu.admin("GET", "requests") if r["area"] == "arm" and r["method"] == "PUT"]
        assert [r.get("network_fault") for r in log] == ["lose", None]
    finally:
        emu.stop()


def test_cut_off_answer_sends_half_the_body(tmp_path):
    emu = Emulator(state_dir=tmp_path)
    try:
        token = emu.token()
        emu.admin("POST", "drop-next", {"mode": "cut", "method": "GET", "pathContains": "/automationaccounts/"})
        with pytest.raises(http.client.IncompleteRead):
            _raw(emu, "GET", emu.account_path, token=token)
        status, body = _raw(emu, "GET", emu.account_path, token=token)
        assert status == 200 and body["name"] == emu["automation_account"]
    finally:
        emu.stop()


def test_fault_rates_are_settable_and_validated(tmp_path):
    emu = Emulator("--cut-off-rate", "0.5", "--fault-seed", "3", state_dir=tmp_path)
    try:
        token = emu.token()
        outcomes = []
        for dummy in range(30):
            try:
                outcomes.append(_raw(emu, "GET", emu.account_path, token=token)[0])
            except http.client.IncompleteRead:
                outcomes.append("cut")
        assert 5 <= outcomes.count("cut") <= 25 and outcomes.count(200) >= 5, outcomes
        answer = emu.admin("POST", "settings", {"cutOffRate": 0, "loseAnswerRate": 1})
        assert answer["cutOffRate"] == 0 and answer["loseAnswerRate"] == 1
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
            _raw(emu, "PUT", f"{emu.account_path}/hybridRunbookWorkerGroups/g1", {}, token)
        assert _raw(emu, "GET", f"{emu.account_path}/hybridRunbookWorkerGroups/g1", token=token)[0] == 200  # reads pass
        status, _, body = emu.call("POST", f"{emu['admin_url']}/settings", {"loseAnswerRate": 2})
        assert status == 400 and "loseAnswerRate" in body["error"]["message"]
        status, _, body = emu.call("POST", f"{emu['admin_url']}/drop-next", {"mode": "explode"})
        assert status == 400 and "mode" in body["error"]["message"]
    finally:
        emu.stop()


def test_forgotten_operation_answers_404_while_the_extension_still_finishes(tmp_path):
    emu = Emulator("--lro-seconds", "1", state_dir=tmp_path)
    try:
        token = emu.token()
        vm = emu.admin("POST", "vms", {"count": 1, "prefix": "forget"})["ids"][0]
        ext = f"{vm}/extensions/HybridWorkerExtension"
        body = {"location": emu["location"], "properties": {
            "publisher": "Microsoft.Azure.Automation.HybridWorker", "type": "HybridWorkerForLinux", "typeHandlerVersion": "1.1",
            "settings": {"AutomationAccountURL": emu["hybrid_service_url"]}}}
        status, headers, _ = emu.arm("PUT", ext, body, api_version="2024-07-01", token=token)
        assert status == 201
        forgotten = emu.admin("POST", "forget-operations")["forgotten"]
        assert len(forgotten) == 1
        status, _, answer = emu.call("GET", headers["Azure-AsyncOperation"], headers={"Authorization": f"Bearer {token}"})
        assert status == 404 and answer["error"]["code"] == "ResourceNotFound"
        time.sleep(1.6)
        status, _, current = emu.arm("GET", ext, api_version="2024-07-01", token=token)
        assert status == 200 and current["properties"]["provisioningState"] == "Succeeded"
    finally:
        emu.stop()


def test_state_file_is_replaced_atomically(tmp_path):
    emu = Emulator(state_dir=tmp_path)
    try:
        token = emu.token()
        for index in range(5):
            assert emu.arm("PUT", f"{emu.account_path}/hybridRunbookWorkerGroups/a{index}", {}, token=token)[0] == 201
            json.loads((tmp_path / "state.json").read_text())  # never torn, and already holds the write
            state = json.loads((tmp_path / "state.json").read_text())
            assert any(k.endswith(f"/hybridrunbookworkergroups/a{index}") for k in state["resources"])
    finally:
        emu.stop()
