"""Microsoft.Automation runbooks (draft, publish, content) and jobs (runOn a hybrid worker group)."""

import uuid

from .automation import child_parent, handles, touch
from .errors import ArmError, bad_request, not_found
from .store import utc_now

RUNBOOK_TYPE = "Microsoft.Automation/AutomationAccounts/Runbooks"
JOB_TYPE = "Microsoft.Automation/AutomationAccounts/Jobs"
TERMINAL = {"Completed", "Failed", "Stopped", "Suspended"}
# Default (system) runtime environment of each runbook type when the request names none.
RUNTIMES = {"powershell": "PowerShell-5.1", "powershell72": "PowerShell-7.2", "python3": "Python-3.8",
            "python2": "Python-2.7", "python": "Python-3.10"}


def _runbook_id(req):
    return f"{child_parent(req)['body']['id']}/runbooks/{req.params['runbookName']}"


def _runbook(req):
    record = req.store.get(_runbook_id(req))
    if not record:
        raise not_found(f"Microsoft.Automation/automationAccounts/{req.params['automationAccountName']}/runbooks",
                        req.params["runbookName"])
    return record


def _finish_lro(req, headers_only=True):
    """Runbook draft/publish are documented LROs; the emulator completes them at once."""
    op_id = str(uuid.uuid4())
    req.store.operations[op_id] = {"status": "Succeeded", "start": utc_now(), "end": utc_now(), "namespace": "Microsoft.Automation"}
    url = f"{req.base_url}/subscriptions/{req.store.sub}/providers/Microsoft.Automation/locations/" \
          f"{req.store.config['location']}/operations/{op_id}?api-version={req.api_version}"
    return {"Azure-AsyncOperation": url, "Location": url.replace("/operations/", "/operationResults/"), "Retry-After": "0"}


@handles("Runbook_Get")
def runbook_get(req):
    return 200, req.store.body(_runbook(req))


@handles("Runbook_CreateOrUpdate", "Runbook_Update")
def runbook_put(req):
    acct = child_parent(req)
    rid = _runbook_id(req)
    existing = req.store.get(rid)
    payload = req.body or {}
    props = payload.get("properties") or {}
    now = utc_now()
    if req.method == "PATCH":
        record = _runbook(req)
        for key in ("description", "logVerbose", "logProgress", "logActivityTrace"):
            if key in props:
                record["body"]["properties"][key] = props[key]
        if "tags" in payload:
            record["body"]["tags"] = payload["tags"] or {}
        record["body"]["properties"]["lastModifiedTime"] = now
        record["body"]["etag"] = f'"{uuid.uuid4()}"'
        touch(record["body"])
        req.store.dirty = True
        return 200, req.store.body(record)
    body = {"id": rid, "name": req.params["runbookName"], "type": RUNBOOK_TYPE, "etag": f'"{uuid.uuid4()}"',
            "location": payload.get("location") or acct["body"]["location"], "tags": payload.get("tags") or {},
            "properties": {"runbookType": props["runbookType"], "state": "New", "logVerbose": bool(props.get("logVerbose")),
                           "logProgress": bool(props.get("logProgress")), "logActivityTrace": props.get("logActivityTrace", 0),
                           "description": props.get("description", ""),
                           "creationTime": existing["body"]["properties"]["creationTime"] if existing else now,
                           "lastModifiedTime": now, "lastModifiedBy": "hrw-emulator", "provisioningState": "Succeeded",
                           "parameters": {}, "outputTypes": [], "jobCount": 0,
                           "draft": {"inEdit": False, "creationTime": now, "lastModifiedTime": now}}}
    runtime = props.get("runtimeEnvironment") or RUNTIMES.get(str(props["runbookType"]).lower())
    if runtime:
        body["properties"]["runtimeEnvironment"] = runtime
    if props.get("publishContentLink"):
        body["properties"]["publishContentLink"] = props["publishContentLink"]
    touch(body)
    extra = {"draft": "", "published": None}
    if existing:
        extra = existing["extra"]
    req.store.put(rid, "runbook", body, extra)
    return (200 if existing else 201), req.store.body(req.store.get(rid))


@handles("Runbook_Delete")
def runbook_delete(req):
    return (200 if req.store.delete(_runbook_id(req)) else 204), None


@handles("Runbook_ListByAutomationAccount")
def runbook_list(req):
    acct = child_parent(req)
    items = [req.store.body(r) for r in req.store.children(acct["body"]["id"], "runbook")]
    return 200, req.page(sorted(items, key=lambda b: b["name"].lower()))


@handles("RunbookDraft_ReplaceContent")
def draft_put(req):
    record = _runbook(req)
    record["extra"]["draft"] = req.raw_body.decode("utf-8", "replace")
    props = record["body"]["properties"]
    props["draft"]["inEdit"] = True
    props["draft"]["lastModifiedTime"] = utc_now()
    if props["state"] == "Published":
        props["state"] = "Edit"
    req.store.dirty = True
    return 202, None, _finish_lro(req)


@handles("RunbookDraft_GetContent")
def draft_content(req):
    return 200, ("text", _runbook(req)["extra"].get("draft") or "")


@handles("RunbookDraft_Get")
def draft_get(req):
    return 200, req.store.body(_runbook(req))["properties"]["draft"]


@handles("Runbook_Publish")
def runbook_publish(req):
    record = _runbook(req)
    record["extra"]["published"] = record["extra"].get("draft") or ""
    props = record["body"]["properties"]
    props["state"] = "Published"
    props["draft"]["inEdit"] = False
    props["lastModifiedTime"] = utc_now()
    req.store.dirty = True
    return 202, None, _finish_lro(req)


@handles("Runbook_GetContent")
def runbook_content(req):
    record = _runbook(req)
    if record["extra"].get("published") is None:
        raise ArmError(404, "NotFound", f"Runbook '{req.params['runbookName']}' has no published content.")
    return 200, ("text", record["extra"]["published"])


# ---- jobs ------------------------------------------------------------------------------------------
def _job_id(req):
    return f"{child_parent(req)['body']['id']}/jobs/{req.params['jobName']}"


def _job(req):
    record = req.store.get(_job_id(req))
    if not record:
        raise not_found(f"Microsoft.Automation/automationAccounts/{req.params['automationAccountName']}/jobs",
                        req.params["jobName"])
    return record


def set_status(record, status, details="None", exception=None):
    props = record["body"]["properties"]
    now = utc_now()
    props["status"] = status
    props["statusDetails"] = details
    props["lastStatusModifiedTime"] = now
    props["lastModifiedTime"] = now
    if status == "Running" and not props.get("startTime"):
        props["startTime"] = now
    if status in TERMINAL:
        props["endTime"] = now
        props["provisioningState"] = "Succeeded"
    if exception is not None:
        props["exception"] = exception


@handles("Job_Create")
def job_create(req):
    acct = child_parent(req)
    rid = _job_id(req)
    if req.store.get(rid):
        raise ArmError(409, "Conflict", f"Job '{req.params['jobName']}' already exists.")
    props = (req.body or {}).get("properties") or {}
    runbook_name = (props.get("runbook") or {}).get("name")
    if not runbook_name:
        raise bad_request("properties.runbook.name is required.")
    runbook = req.store.get(f"{acct['body']['id']}/runbooks/{runbook_name}")
    if not runbook:
        raise ArmError(404, "NotFound", f"Runbook '{runbook_name}' was not found.")
    if runbook["extra"].get("published") is None:
        raise bad_request(f"Runbook '{runbook_name}' is not published.")
    run_on = props.get("runOn") or ""
    now = utc_now()
    body = {"id": rid, "name": req.params["jobName"], "type": JOB_TYPE,
            "properties": {"jobId": str(uuid.uuid4()), "runbook": {"name": runbook["body"]["name"]},
                           "startedBy": "hrw-emulator", "runOn": run_on, "provisioningState": "Processing",
                           "creationTime": now, "lastModifiedTime": now, "lastStatusModifiedTime": now,
                           "status": "New", "statusDetails": "None", "parameters": props.get("parameters") or {}}}
    runtime = runbook["body"]["properties"].get("runtimeEnvironment")
    if runtime:
        body["properties"]["jobRuntimeEnvironment"] = {"runtimeEnvironmentName": runtime}
    record = req.store.put(rid, "job", body, {"output": "", "runbook": runbook["body"]["id"]})
    if not run_on:
        set_status(record, "Suspended", "NoSandbox", "The emulator has no Azure sandbox: set runOn to a hybrid worker group.")
    elif not req.store.get(f"{acct['body']['id']}/hybridRunbookWorkerGroups/{run_on}"):
        set_status(record, "Suspended", "NoHybridWorkerGroup",
                   f"Hybrid worker group '{run_on}' does not exist in automation account '{acct['body']['name']}'.")
    else:
        set_status(record, "Activating")
        req.store.jobs_queue.append(rid.lower())
    return 201, req.store.body(record)


@handles("Job_Get")
def job_get(req):
    return 200, req.store.body(_job(req))


@handles("Job_ListByAutomationAccount")
def job_list(req):
    acct = child_parent(req)
    items = []
    for record in req.store.children(acct["body"]["id"], "job"):
        props = record["body"]["properties"]
        items.append({"id": record["body"]["id"], "name": record["body"]["name"], "type": JOB_TYPE,
                      "properties": {k: props[k] for k in ("runbook", "jobId", "creationTime", "status", "startTime",
                                                           "endTime", "lastModifiedTime", "provisioningState", "runOn")
                                     if props.get(k) is not None}})
    return 200, req.page(sorted(items, key=lambda b: b["properties"]["creationTime"]))


@handles("Job_GetOutput")
def job_output(req):
    return 200, ("text", _job(req)["extra"].get("output", ""))


@handles("Job_GetRunbookContent")
def job_runbook_content(req):
    record = _job(req)
    runbook = req.store.get(record["extra"]["runbook"])
    return 200, ("text", (runbook["extra"].get("published") or "") if runbook else "")


@handles("Job_Stop", "Job_Suspend", "Job_Resume")
def job_action(req):
    record = _job(req)
    action = req.path.rsplit("/", 1)[-1].lower()
    status = record["body"]["properties"]["status"]
    if action == "stop" and status not in TERMINAL:
        set_status(record, "Stopped")
    elif action == "suspend" and status not in TERMINAL:
        set_status(record, "Suspended")
    elif action == "resume" and status == "Suspended" and record["body"]["properties"]["runOn"]:
        set_status(record, "Activating")
        req.store.jobs_queue.append(record["body"]["id"].lower())
    req.store.dirty = True
    return 200, None
