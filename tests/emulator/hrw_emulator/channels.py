"""Worker channel (the stand-in hwd) and agent channel (the stand-in extension handler / azcmagent)."""

import re

from . import compute
from .automation import account_workers, group_of
from .errors import ArmError, bad_request
from .runbooks import TERMINAL, set_status
from .store import utc_now

NOT_EXIST = ArmError(404, "NotFound", "Account/Group specified does not exist")
MAX_JOBS_PER_CLAIM = 4
POLL_SECONDS = 30


def _account(store, guid):
    for record in store.of_kind("account"):
        if record["extra"]["guid"].lower() == guid.lower():
            return record
    raise NOT_EXIST


def _worker(store, account, vm_id):
    if not isinstance(vm_id, str) or not vm_id:
        raise bad_request("vmResourceId is required")
    for worker in account_workers(store, account["body"]["id"]):
        if str(worker["body"]["properties"].get("vmResourceId", "")).lower() == vm_id.lower():
            return worker
    raise NOT_EXIST


def heartbeat(store, worker, ip=None, name=None, when=None):
    props = worker["body"]["properties"]
    props["lastSeenDateTime"] = when or utc_now()
    if ip:
        props["ip"] = ip
    if name:
        props["workerName"] = name
    props["workerType"] = "HybridV2"
    store.dirty = True


def worker_call(server, method, guid, rest, body):
    """Dispatch /automationAccounts/{guid}/{rest}. Returns (status, body)."""
    store = server.store
    body = body if isinstance(body, dict) else {}
    account = _account(store, guid)
    if method == "POST" and rest == "heartbeat":
        worker = _worker(store, account, body.get("vmResourceId"))
        heartbeat(store, worker, body.get("ip"), body.get("workerName"))
        return 200, {"workerId": worker["body"]["name"], "group": group_of(worker["body"]),
                     "pollIntervalSeconds": POLL_SECONDS}
    if method == "POST" and rest == "jobs/claim":
        worker = _worker(store, account, body.get("vmResourceId"))
        heartbeat(store, worker)
        group = group_of(worker["body"]).lower()
        jobs = []
        for job_lid in list(store.jobs_queue):
            if len(jobs) >= MAX_JOBS_PER_CLAIM:
                break
            job = store.get(job_lid)
            if not job or job["body"]["properties"]["status"] in TERMINAL:
                store.jobs_queue.remove(job_lid)
                continue
            if not job_lid.startswith(account["body"]["id"].lower() + "/"):
                continue
            if job["body"]["properties"]["runOn"].lower() != group:
                continue
            store.jobs_queue.remove(job_lid)
            runbook = store.get(job["extra"]["runbook"])
            set_status(job, "Running")
            job["extra"]["worker"] = worker["body"]["id"]
            jobs.append({"jobId": job["body"]["properties"]["jobId"], "jobName": job["body"]["name"],
                         "runbookName": job["body"]["properties"]["runbook"]["name"],
                         "runbookType": runbook["body"]["properties"]["runbookType"] if runbook else "",
                         "content": (runbook["extra"].get("published") or "") if runbook else "",
                         "parameters": job["body"]["properties"].get("parameters") or {}})
        store.dirty = True
        return 200, {"jobs": jobs}
    match = re.fullmatch(r"jobs/([^/]+)/result", rest)
    if method == "POST" and match:
        prefix = account["body"]["id"].lower() + "/jobs/"
        job = next((r for k, r in store.resources.items() if r["kind"] == "job" and k.startswith(prefix)
                    and r["body"]["properties"]["jobId"].lower() == match[1].lower()), None)
        if not job:
            raise ArmError(404, "NotFound", f"Job {match[1]} was not found.")
        status = body.get("status")
        if status not in ("Completed", "Failed", "Stopped", "Suspended"):
            raise bad_request("status must be Completed, Failed, Stopped or Suspended")
        job["extra"]["output"] = str(body.get("output") or "")
        set_status(job, status, exception=str(body["error"]) if body.get("error") else None)
        store.dirty = True
        return 200, {}
    raise ArmError(404, "NotFound", f"No worker-channel route for {method} /{rest}")


def _machine(store, resource_id):
    if not isinstance(resource_id, str) or not resource_id:
        raise bad_request("resourceId is required")
    record = store.get(resource_id)
    if not record or record["kind"] not in ("vm", "machine"):
        raise ArmError(404, "ResourceNotFound", f"Machine '{resource_id}' was not found.")
    return record


def _ext_view(record):
    body = record["body"]
    props = body["properties"]
    pending = record["extra"].get("pending")
    return {"name": body["name"], "id": body["id"], "publisher": props.get("publisher"), "type": props.get("type"),
            "typeHandlerVersion": props.get("typeHandlerVersion"), "settings": props.get("settings") or {},
            "protectedSettings": record["extra"].get("protected") or {},
            "provisioningState": props.get("provisioningState"),
            "pendingOperation": pending.capitalize() if pending else None,
            "operationId": record["extra"].get("operation")}


def agent_call(server, method, rest, query, body):
    store = server.store
    body = body if isinstance(body, dict) else {}
    if method == "GET" and rest == "extensions":
        machine = _machine(store, query.get("resourceId"))
        store.agent_seen[machine["body"]["id"].lower()] = server.now()  # first: a polling agent owns its pending LROs
        compute.advance(store, server)
        kind = "vmExtension" if machine["kind"] == "vm" else "machineExtension"
        exts = sorted(store.children(machine["body"]["id"], kind), key=lambda r: r["body"]["name"].lower())
        return 200, {"value": [_ext_view(r) for r in exts]}
    if method == "POST" and rest == "extensions/status":
        machine = _machine(store, body.get("resourceId"))
        store.agent_seen[machine["body"]["id"].lower()] = server.now()
        ext = store.get(f"{machine['body']['id']}/extensions/{body.get('name', '')}")
        if not ext:
            raise ArmError(404, "ResourceNotFound", f"Extension '{body.get('name')}' was not found on {machine['body']['id']}.")
        status = body.get("status")
        if status not in ("Succeeded", "Failed"):
            raise bad_request("status must be Succeeded or Failed")
        op_id = ext["extra"].get("operation")
        if not op_id:
            raise ArmError(409, "Conflict", f"Extension '{ext['body']['name']}' has no pending operation.")
        compute.complete(store, server, op_id, status == "Succeeded", str(body.get("message") or ""))
        return 200, {}
    if method == "POST" and rest == "machines/connect":
        rid = body.get("resourceId")
        match = re.fullmatch(r"/subscriptions/[^/]+/resourceGroups/([^/]+)/providers/Microsoft\.HybridCompute/machines/([^/]+)",
                             str(rid), re.IGNORECASE)
        if not match:
            raise bad_request("resourceId must be a Microsoft.HybridCompute/machines id")
        if not store.get(store.rg_id(match[1])):
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{match[1]}' could not be found.")
        canonical = f"/subscriptions/{store.sub}/resourceGroups/{match[1]}/providers/Microsoft.HybridCompute/machines/{match[2]}"
        existing = store.get(canonical)
        payload = {"location": body.get("location") or store.config["location"], "identity": {"type": "SystemAssigned"},
                   "properties": {"osType": str(body.get("osType") or "linux").lower()}}
        machine = compute.build_machine(store, canonical, payload, store.body(existing) if existing else None)
        machine["properties"]["status"] = "Connected"
        if body.get("hostname"):
            machine["properties"]["machineFqdn"] = machine["properties"]["displayName"] = body["hostname"]
        store.put(canonical, "machine", machine)
        store.agent_seen[canonical.lower()] = server.now()
        return 200, machine
    if method == "POST" and rest == "machines/disconnect":
        machine = _machine(store, body.get("resourceId"))
        store.delete(machine["body"]["id"])
        store.agent_seen.pop(machine["body"]["id"].lower(), None)
        return 200, {}
    raise ArmError(404, "NotFound", f"No agent-channel route for {method} /{rest}")
