"""Admin API and test hooks at {admin_url}. No authentication: it is a test tool on loopback."""

import copy
import uuid

from . import automation, channels, compute
from .errors import ArmError, bad_request
from .store import utc_now


def call(emu, method, path, query, body):
    store = emu.store
    body = body if isinstance(body, dict) else {}
    route = (method, path.lower())
    if route == ("GET", "requests"):
        since = int(query.get("since") or 0)
        with store.lock:
            items = [r for r in store.requests if r["seq"] > since]
        return 200, items
    if route == ("DELETE", "requests"):
        with store.lock:
            store.requests.clear()
            store.request_seq = 0
        return 200, {}
    if route == ("POST", "reset"):
        store.reset()
        emu.response_errors.clear()
        with emu.drop_lock:
            emu.drop_next.clear()
        return 200, {}
    if route == ("GET", "config"):
        return 200, emu.ready_info(emu.ca_bundle)
    if route == ("GET", "stats"):
        return 200, dict(emu.stats)
    if route == ("GET", "response-errors"):
        return 200, list(emu.response_errors)
    if route == ("GET", "state"):
        with store.lock:
            return 200, copy.deepcopy({"resources": [r["body"] for r in store.resources.values()],
                                       "operations": store.operations, "jobs_queue": store.jobs_queue})
    if route == ("POST", "settings"):
        return 200, _settings(emu, body)
    if route == ("POST", "drop-next"):
        return 200, _drop_next(emu, body)
    with store.lock:
        if route == ("POST", "fail-next-extension"):
            machine = _machine(store, body.get("resourceId"))
            store.hooks["fail_next_extension"][machine["body"]["id"].lower()] = str(
                body.get("message") or "Extension installation failed (injected by hrw-emulator).")
            store.dirty = True
            return 200, {}
        if route == ("POST", "heartbeat"):
            return 200, _heartbeat(emu, body)
        if route == ("POST", "system-group"):
            account = store.get(store.account_id(body.get("resourceGroup"), body.get("automationAccount")))
            if not account or not body.get("name"):
                raise bad_request("name (and an existing resourceGroup/automationAccount, default the seeded ones) required")
            return 200, automation.make_group(store, account, body["name"], group_type="System")
        if route == ("POST", "v1-worker"):
            return 200, _v1_worker(emu, body)
        if route == ("POST", "vms"):
            return 200, _bulk(emu, body, "vm")
        if route == ("POST", "machines"):
            return 200, _bulk(emu, body, "machine")
        if route == ("POST", "forget-operations"):
            # ARM keeps operation records for a while only: their status URLs answer 404 from now on, while the
            # operations themselves go on (the resources still reach their final provisioningState).
            forgotten = [op_id for op_id, op in store.operations.items() if not op.get("forgotten")]
            for op_id in forgotten:
                store.operations[op_id]["forgotten"] = True
            store.dirty = True
            return 200, {"forgotten": forgotten}
        if route == ("POST", "complete-operations"):
            done = [op_id for op_id, op in store.operations.items() if op["status"] == "InProgress"]
            for op_id in done:
                compute.complete(store, emu, op_id, body.get("status", "Succeeded") == "Succeeded",
                                 str(body.get("message") or ""))
            return 200, {"completed": done}
    raise ArmError(404, "NotFound", f"No admin route for {method} /{path}")


def _machine(store, resource_id):
    record = store.get(str(resource_id or ""))
    if not record or record["kind"] not in ("vm", "machine"):
        raise ArmError(404, "ResourceNotFound", f"Machine '{resource_id}' was not found.")
    return record


def _heartbeat(emu, body):
    store = emu.store
    account = store.get(store.account_id(body.get("resourceGroup"), body.get("automationAccount")))
    if not account:
        raise ArmError(404, "NotFound", "Account/Group specified does not exist")
    vm_id = str(body.get("vmResourceId") or "")
    worker = next((w for w in automation.account_workers(store, account["body"]["id"])
                   if str(w["body"]["properties"].get("vmResourceId", "")).lower() == vm_id.lower()), None)
    if not worker:
        raise ArmError(404, "NotFound", "Account/Group specified does not exist")
    when = body.get("lastSeenDateTime")
    if body.get("ageSeconds") is not None:
        import time
        when = utc_now(time.time() - float(body["ageSeconds"]))
    channels.heartbeat(store, worker, body.get("ip"), body.get("workerName"), when)
    return store.body(worker)


def _v1_worker(emu, body):
    """Create an agent-based (HybridV1) worker record: only the legacy agent could, so ARM cannot."""
    store = emu.store
    account = store.get(store.account_id(body.get("resourceGroup"), body.get("automationAccount")))
    group = body.get("group")
    if not account or not group:
        raise bad_request("group (and an existing resourceGroup/automationAccount, default the seeded ones) required")
    gid = f"{account['body']['id']}/hybridRunbookWorkerGroups/{group}"
    if not store.get(gid):
        automation.make_group(store, account, group)
    name = str(body.get("name") or uuid.uuid4())
    now = utc_now()
    worker = {"id": f"{gid}/hybridRunbookWorkers/{name}", "name": name, "type": automation.WORKER_TYPE,
              "location": account["body"]["location"],
              "properties": {"ip": body.get("ip", ""), "registeredDateTime": now, "lastSeenDateTime": now,
                             "vmResourceId": "", "workerType": "HybridV1", "workerName": body.get("workerName") or name}}
    automation.touch(worker)
    store.put(worker["id"], "hrWorker", worker)
    return worker


def _bulk(emu, body, kind):
    store = emu.store
    count = int(body.get("count") or 0)
    if not 0 < count <= 10000:
        raise bad_request("count must be 1..10000")
    rg = body.get("resourceGroup") or store.config["resource_group"]
    if not store.get(store.rg_id(rg)):
        raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")
    prefix = body.get("prefix") or ("vm" if kind == "vm" else "arc")
    os_type = body.get("osType") or "Linux"
    identity = {"type": "SystemAssigned"} if body.get("identity", True) else {"type": "None"}
    ids = []
    info = compute.KINDS[kind]
    for index in range(int(body.get("start") or 0), int(body.get("start") or 0) + count):
        rid = f"{store.rg_id(rg)}/providers/{info['ns']}/{info['collection']}/{prefix}{index}"
        payload = {"location": body.get("location") or store.config["location"], "identity": identity}
        if kind == "vm":
            payload["properties"] = {"storageProfile": {"osDisk": {"osType": os_type}}}
            built = compute.build_vm(store, rid, payload)
        else:
            payload["properties"] = {"osType": os_type.lower()}
            built = compute.build_machine(store, rid, payload)
        store.put(rid, kind, built)
        ids.append(rid)
    return {"ids": ids}


def _fraction(body, name):
    try:
        value = float(body[name])
    except (TypeError, ValueError):
        value = -1.0
    if not 0 <= value <= 1:
        raise bad_request(f"{name} is a fraction in [0, 1], got {body[name]!r}")
    return value


def _drop_next(emu, body):
    """One-shot network faults: the next ``count`` answers matching method/pathContains are cut off or lost."""
    mode = body.get("mode") or "lose"
    if mode not in ("cut", "lose"):
        raise bad_request("mode is 'cut' (half the body, then close) or 'lose' (close without an answer)")
    method = str(body["method"]).upper() if body.get("method") else None
    try:
        count = int(body.get("count") or 1)
    except (TypeError, ValueError):
        count = 0
    if count < 1:
        raise bad_request("count must be a positive integer")
    rule = {"mode": mode, "method": method, "path": str(body.get("pathContains") or "").lower(), "count": count}
    with emu.drop_lock:
        emu.drop_next.append(rule)
        return {"pending": [dict(r) for r in emu.drop_next]}


def _settings(emu, body):
    """Change knobs at run time: faultRate, faultCodes, latencyMs, lroSeconds, pageSize, throttleReads/Writes,
    cutOffRate, loseAnswerRate."""
    if "cutOffRate" in body:
        emu.cut_off_rate = _fraction(body, "cutOffRate")
    if "loseAnswerRate" in body:
        emu.lose_answer_rate = _fraction(body, "loseAnswerRate")
    if "faultRate" in body:
        emu.fault_rate = float(body["faultRate"])
    if "faultCodes" in body:
        emu.fault_codes = tuple(int(c) for c in body["faultCodes"])
    if "latencyMs" in body:
        emu.latency_ms = float(body["latencyMs"])
    if "lroSeconds" in body:
        emu.lro_seconds = float(body["lroSeconds"])
    if "pageSize" in body:
        emu.page_size = int(body["pageSize"])
    if "simulateVmWorkers" in body:
        emu.simulate_vm_workers = bool(body["simulateVmWorkers"])
    try:
        if "throttleReads" in body:
            emu.throttle.configure("reads", body["throttleReads"])
        if "throttleWrites" in body:
            emu.throttle.configure("writes", body["throttleWrites"])
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    return {"faultRate": emu.fault_rate, "faultCodes": list(emu.fault_codes), "latencyMs": emu.latency_ms,
            "lroSeconds": emu.lro_seconds, "pageSize": emu.page_size, "simulateVmWorkers": emu.simulate_vm_workers,
            "cutOffRate": emu.cut_off_rate, "loseAnswerRate": emu.lose_answer_rate}
