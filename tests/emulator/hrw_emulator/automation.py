"""Microsoft.Automation: accounts, hybrid worker groups and workers, modules and packages."""

import re
import secrets
import uuid

from .errors import ArmError, bad_request, conflict, not_found
from .store import utc_now

GROUP_TYPE = "Microsoft.Automation/AutomationAccounts/HybridRunbookWorkerGroups"
WORKER_TYPE = "Microsoft.Automation/AutomationAccounts/HybridRunbookWorkerGroups/HybridRunbookWorkers"
VM_ID = re.compile(r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/"
                   r"(Microsoft\.Compute/virtualMachines|Microsoft\.HybridCompute/machines)/[^/]+$", re.IGNORECASE)
HANDLERS = {}


def handles(*operation_ids):
    def register(func):
        for operation_id in operation_ids:
            HANDLERS[operation_id] = func
        return func
    return register


def system_data(created=None):
    now = utc_now()
    return {"createdBy": "hrw-emulator", "createdByType": "Application", "createdAt": created or now,
            "lastModifiedBy": "hrw-emulator", "lastModifiedByType": "Application", "lastModifiedAt": now}


def touch(body):
    created = (body.get("systemData") or {}).get("createdAt")
    body["systemData"] = system_data(created)


# ---- accounts --------------------------------------------------------------------------------------
def create_account(store, rg, name, payload, guid=None):
    rid = store.account_id(rg, name)
    existing = store.get(rid)
    now = utc_now()
    if existing:
        body = existing["body"]
    else:
        body = {"id": rid, "name": name, "type": "Microsoft.Automation/AutomationAccounts",
                "location": payload.get("location") or store.config["location"], "tags": {},
                "properties": {"sku": {"name": "Basic"}, "state": "Ok", "creationTime": now,
                               "lastModifiedBy": "hrw-emulator", "publicNetworkAccess": True,
                               "disableLocalAuth": False, "encryption": {"keySource": "Microsoft.Automation"}}}
    props = payload.get("properties") or {}
    for key in ("sku", "publicNetworkAccess", "disableLocalAuth", "encryption"):
        if key in props:
            body["properties"][key] = props[key]
    if "tags" in payload:
        body["tags"] = payload["tags"] or {}
    if "identity" in payload:
        body["identity"] = _identity(store, payload["identity"])
    body["properties"]["lastModifiedTime"] = now
    touch(body)
    extra = None if existing else {"guid": guid or str(uuid.uuid4()), "keys": [secrets.token_urlsafe(48), secrets.token_urlsafe(48)]}
    store.put(rid, "account", body, extra)
    return existing is None


def _identity(store, identity):
    identity = dict(identity or {})
    kind = str(identity.get("type") or "None")
    if "systemassigned" in kind.lower().replace(" ", ""):
        identity.setdefault("principalId", str(uuid.uuid4()))
        identity["tenantId"] = store.config["tenant_id"]
    else:
        identity.pop("principalId", None)
        identity.pop("tenantId", None)
    return identity


def render_account(req, record):
    body = req.store.body(record)
    body["properties"]["automationHybridServiceUrl"] = req.server.hybrid_url(record["extra"]["guid"])
    return body


def _rg(req):
    rg = req.params["resourceGroupName"]
    if not req.store.get(req.store.rg_id(rg)):
        raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")
    return rg


def account(req):
    rg = _rg(req)
    name = req.params["automationAccountName"]
    record = req.store.get(req.store.account_id(rg, name))
    if not record:
        raise ArmError(404, "ResourceNotFound", f"The Resource 'Microsoft.Automation/automationAccounts/{name}' under "
                       f"resource group '{rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix")
    return record


def child_parent(req):
    """The account of a nested resource; ParentResourceNotFound when it does not exist."""
    rg = _rg(req)
    name = req.params["automationAccountName"]
    record = req.store.get(req.store.account_id(rg, name))
    if not record:
        raise not_found("", "", parent=f"Microsoft.Automation/automationAccounts/{name}")
    return record


@handles("AutomationAccount_Get")
def account_get(req):
    return 200, render_account(req, account(req))


@handles("AutomationAccount_CreateOrUpdate", "AutomationAccount_Update")
def account_put(req):
    rg = _rg(req)
    if req.method == "PATCH":
        account(req)
    created = create_account(req.store, rg, req.params["automationAccountName"], req.body or {})
    record = req.store.get(req.store.account_id(rg, req.params["automationAccountName"]))
    return (201 if created else 200), render_account(req, record)


@handles("AutomationAccount_Delete")
def account_delete(req):
    rid = req.store.account_id(_rg(req), req.params["automationAccountName"])
    return (200 if req.store.delete(rid) else 204), None


@handles("AutomationAccount_ListByResourceGroup", "AutomationAccount_List")
def account_list(req):
    prefix = (req.store.rg_id(req.params["resourceGroupName"]) if "resourceGroupName" in req.params
              else f"/subscriptions/{req.store.sub}").lower() + "/"
    items = [render_account(req, r) for r in req.store.of_kind("account") if r["body"]["id"].lower().startswith(prefix)]
    return 200, req.page(sorted(items, key=lambda b: b["id"].lower()))


@handles("Keys_ListByAutomationAccount")
def account_keys(req):
    keys = account(req)["extra"]["keys"]
    return 200, {"keys": [{"KeyName": "Primary", "Permissions": "Full", "Value": keys[0]},
                          {"KeyName": "Secondary", "Permissions": "Full", "Value": keys[1]}]}


def agent_registration(req, regenerate=None):
    record = account(req)
    keys = record["extra"]["keys"]
    if regenerate is not None:
        kind = str((req.body or {}).get("keyName", "")).lower()
        if kind not in ("primary", "secondary"):
            raise bad_request("keyName must be 'primary' or 'secondary'.")
        keys[0 if kind == "primary" else 1] = secrets.token_urlsafe(48)
        req.store.dirty = True
    return 200, {"id": f"{record['body']['id']}/agentRegistrationInformation/{record['extra']['guid']}",
                 "keys": {"primary": keys[0], "secondary": keys[1]},
                 "endpoint": f"{req.server.hybrid_url(record['extra']['guid']).rsplit('/automationAccounts/', 1)[0]}"
                             f"/accounts/{record['extra']['guid']}",
                 "dscMetaConfiguration": ""}


# ---- hybrid runbook worker groups --------------------------------------------------------------------
def group_id(req, name=None):
    return f"{child_parent(req)['body']['id']}/hybridRunbookWorkerGroups/{name or req.params['hybridRunbookWorkerGroupName']}"


def group_record(req, name=None):
    gid = group_id(req, name)
    record = req.store.get(gid)
    if not record:
        raise ArmError(404, "ResourceNotFound",
                       f"The Resource 'Microsoft.Automation/automationAccounts/{req.params['automationAccountName']}/"
                       f"hybridRunbookWorkerGroups/{name or req.params['hybridRunbookWorkerGroupName']}' under resource group "
                       f"'{req.params['resourceGroupName']}' was not found. For more details please go to "
                       "https://aka.ms/ARMResourceNotFoundFix")
    return record


def refuse_system(record, action="modify"):
    if record["body"]["properties"].get("groupType") == "System":
        raise bad_request(f"Cannot {action} hybrid runbook worker group '{record['body']['name']}': groupType System groups "
                          "are managed by Azure Automation and are read-only.")


def make_group(store, account_record, name, credential=None, group_type="User"):
    gid = f"{account_record['body']['id']}/hybridRunbookWorkerGroups/{name}"
    body = {"id": gid, "name": name, "type": GROUP_TYPE, "location": account_record["body"]["location"],
            "properties": {"groupType": group_type}}
    if credential:
        body["properties"]["credential"] = credential
    touch(body)
    store.put(gid, "hrwGroup", body)
    return body


def _group_view(req, body):
    if req.api_version == "2023-11-01":  # ProxyResource there: no location/tags
        body = dict(body)
        body.pop("location", None)
        body.pop("tags", None)
    return body


@handles("HybridRunbookWorkerGroup_Get")
def group_get(req):
    return 200, _group_view(req, req.store.body(group_record(req)))


@handles("HybridRunbookWorkerGroup_Create", "HybridRunbookWorkerGroup_Update")
def group_put(req):
    acct = child_parent(req)
    gid = group_id(req)
    existing = req.store.get(gid)
    payload = req.body or {}
    credential = (payload.get("properties") or {}).get("credential")
    if existing:
        refuse_system(existing)
        body = existing["body"]
        if credential is not None or req.method == "PUT":
            if credential and credential.get("name"):
                body["properties"]["credential"] = {"name": credential["name"]}
            elif req.method == "PUT" or credential is not None:
                body["properties"].pop("credential", None)
        touch(body)
        req.store.dirty = True
        return 200, _group_view(req, req.store.body(existing))
    if req.method == "PATCH":
        group_record(req)
    body = make_group(req.store, acct, req.params["hybridRunbookWorkerGroupName"],
                      {"name": credential["name"]} if credential and credential.get("name") else None)
    return 201, _group_view(req, dict(body))


@handles("HybridRunbookWorkerGroup_Delete")
def group_delete(req):
    record = group_record(req)
    refuse_system(record, "delete")
    workers = req.store.children(record["body"]["id"], "hrWorker")
    if workers:
        raise conflict(f"Hybrid Runbook Worker Group '{record['body']['name']}' contains {len(workers)} hybrid runbook "
                       "worker(s). You'll first have to delete the workers from the group before deleting the group.")
    req.store.delete(record["body"]["id"])
    return 200, None


@handles("HybridRunbookWorkerGroup_ListByAutomationAccount")
def group_list(req):
    acct = child_parent(req)
    items = [_group_view(req, req.store.body(r)) for r in req.store.children(acct["body"]["id"], "hrwGroup")]
    return 200, req.page(sorted(items, key=lambda b: b["name"].lower()))


# ---- hybrid runbook workers ----------------------------------------------------------------------------
def worker_id(req, group=None):
    return f"{group_id(req, group)}/hybridRunbookWorkers/{req.params['hybridRunbookWorkerId']}"


def worker_record(req):
    group_record(req)
    record = req.store.get(worker_id(req))
    if not record:
        raise ArmError(404, "ResourceNotFound",
                       f"The Resource 'Microsoft.Automation/automationAccounts/{req.params['automationAccountName']}/"
                       f"hybridRunbookWorkerGroups/{req.params['hybridRunbookWorkerGroupName']}/hybridRunbookWorkers/"
                       f"{req.params['hybridRunbookWorkerId']}' under resource group '{req.params['resourceGroupName']}' "
                       "was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix")
    return record


def account_workers(store, account_id):
    prefix = account_id.lower() + "/hybridrunbookworkergroups/"
    return [r for k, r in store.resources.items() if r["kind"] == "hrWorker" and k.startswith(prefix)]


def group_of(worker_body):
    return worker_body["id"].split("/")[-3]


def _worker_view(req, body):
    body = dict(body)
    if req.api_version == "2023-11-01":
        body.pop("location", None)
        body.pop("tags", None)
    return body


@handles("HybridRunbookWorkers_Get")
def worker_get(req):
    return 200, _worker_view(req, req.store.body(worker_record(req)))


def _check_vm(vm_id):
    if not isinstance(vm_id, str) or not VM_ID.match(vm_id):
        raise bad_request("Invalid vmResourceId: expected the ARM id of a Microsoft.Compute/virtualMachines or "
                          f"Microsoft.HybridCompute/machines resource, got '{vm_id}'.")


@handles("HybridRunbookWorkers_Create", "HybridRunbookWorkers_Patch")
def worker_put(req):
    group = group_record(req)
    refuse_system(group, "add workers to")
    acct = child_parent(req)
    wid = worker_id(req)
    existing = req.store.get(wid)
    payload = req.body or {}
    vm_id = (payload.get("properties") or {}).get("vmResourceId")
    if req.method == "PATCH":
        if not existing:
            worker_record(req)
        vm_id = vm_id or existing["body"]["properties"].get("vmResourceId")
    elif not vm_id:
        raise bad_request("properties.vmResourceId is required to create a hybrid runbook worker.")
    _check_vm(vm_id)
    for other in account_workers(req.store, acct["body"]["id"]):
        same_vm = str(other["body"]["properties"].get("vmResourceId", "")).lower() == vm_id.lower()
        if same_vm and other["body"]["id"].lower() != wid.lower():
            raise bad_request(f"An active hybrid runbook worker {other['body']['name']} already exists in hybrid worker "
                              f"group {group_of(other['body'])} with same AzureResourceId {vm_id}.")
    if existing:
        old_vm = existing["body"]["properties"].get("vmResourceId", "")
        if old_vm and old_vm.lower() != vm_id.lower():
            raise bad_request(f"Hybrid runbook worker {req.params['hybridRunbookWorkerId']} is registered for "
                              f"{old_vm}; the vmResourceId of a worker cannot be changed.")
        touch(existing["body"])
        req.store.dirty = True
        return 200, _worker_view(req, req.store.body(existing))
    now = utc_now()
    body = {"id": wid, "name": req.params["hybridRunbookWorkerId"], "type": WORKER_TYPE,
            "location": acct["body"]["location"],
            # The service stores and returns vmResourceId lower-cased, whatever case the caller sent
            # (Azure/azure-rest-api-specs#43706); workerName keeps the machine's own spelling.
            "properties": {"ip": "", "registeredDateTime": now, "vmResourceId": vm_id.lower(),
                           "workerType": "HybridV2", "workerName": vm_id.rsplit("/", 1)[-1]}}
    touch(body)
    req.store.put(wid, "hrWorker", body)
    return 201, _worker_view(req, dict(body))


@handles("HybridRunbookWorkers_Delete")
def worker_delete(req):
    group = group_record(req)
    refuse_system(group, "delete workers from")
    return (200 if req.store.delete(worker_id(req)) else 204), None


@handles("HybridRunbookWorkers_Move")
def worker_move(req):
    record = worker_record(req)
    refuse_system(group_record(req), "move workers out of")
    target = (req.body or {}).get("hybridRunbookWorkerGroupName")
    if not target:
        raise bad_request("hybridRunbookWorkerGroupName is required.")
    target_record = group_record(req, target)
    refuse_system(target_record, "move workers into")
    new_id = f"{target_record['body']['id']}/hybridRunbookWorkers/{record['body']['name']}"
    if new_id.lower() != record["body"]["id"].lower():
        if req.store.get(new_id):
            raise conflict(f"Hybrid runbook worker {record['body']['name']} already exists in group {target}.")
        req.store.delete(record["body"]["id"])
        body = record["body"]
        body["id"] = new_id
        touch(body)
        req.store.put(new_id, "hrWorker", body, record["extra"])
    return 200, None


@handles("HybridRunbookWorkers_ListByHybridRunbookWorkerGroup")
def worker_list(req):
    group = group_record(req)
    items = [_worker_view(req, req.store.body(r)) for r in req.store.children(group["body"]["id"], "hrWorker")]
    return 200, req.page(sorted(items, key=lambda b: b["name"].lower()))


# ---- modules, python3 packages, PowerShell 7.2 modules ------------------------------------------------
COLLECTIONS = {
    "Module": ("modules", "moduleName", "Microsoft.Automation/AutomationAccounts/Modules"),
    "Python3Package": ("python3Packages", "packageName", "Microsoft.Automation/AutomationAccounts/Python3Packages"),
    "PowerShell72Module": ("powerShell72Modules", "moduleName", "Microsoft.Automation/AutomationAccounts/PowerShell72Modules"),
}


def _module_kind(req):
    return next(k for k, v in COLLECTIONS.items() if f"/{v[0].lower()}" in req.path.lower())


def _module_id(req, kind):
    collection, param, _ = COLLECTIONS[kind]
    return f"{child_parent(req)['body']['id']}/{collection}/{req.params[param]}"


def _module_view(req, record):
    """Import finishes --lro-seconds after the PUT (provisioningState Creating → Succeeded)."""
    body = req.store.body(record)
    started = record["extra"].get("started", 0)
    if body["properties"].get("provisioningState") == "Creating" and req.server.now() - started >= req.server.lro_seconds:
        record["body"]["properties"]["provisioningState"] = "Succeeded"
        record["body"]["properties"]["lastModifiedTime"] = utc_now()
        req.store.dirty = True
        body = req.store.body(record)
    return body


def _module_record(req, kind):
    record = req.store.get(_module_id(req, kind))
    if not record:
        collection, param, _ = COLLECTIONS[kind]
        raise not_found(f"Microsoft.Automation/automationAccounts/{req.params['automationAccountName']}/{collection}",
                        req.params[param])
    return record


@handles("Module_Get", "Python3Package_Get", "PowerShell72Module_Get")
def module_get(req):
    return 200, _module_view(req, _module_record(req, _module_kind(req)))


@handles("Module_CreateOrUpdate", "Python3Package_CreateOrUpdate", "PowerShell72Module_CreateOrUpdate",
         "Module_Update", "Python3Package_Update", "PowerShell72Module_Update")
def module_put(req):
    kind = _module_kind(req)
    acct = child_parent(req)
    rid = _module_id(req, kind)
    existing = req.store.get(rid)
    payload = req.body or {}
    props = payload.get("properties") or {}
    if req.method == "PATCH":
        if not existing:
            _module_record(req, kind)
        if "tags" in payload:
            existing["body"]["tags"] = payload["tags"] or {}
        touch(existing["body"])
        req.store.dirty = True
        return 200, _module_view(req, existing)
    link = props.get("contentLink") or {}
    if not link.get("uri"):
        raise bad_request("properties.contentLink.uri is required.")
    now = utc_now()
    name = req.params[COLLECTIONS[kind][1]]
    body = {"id": rid, "name": name, "type": COLLECTIONS[kind][2], "location": payload.get("location") or acct["body"]["location"],
            "tags": payload.get("tags") or {},
            "properties": {"provisioningState": "Creating", "version": link.get("version", ""), "isGlobal": False,
                           "sizeInBytes": 0, "activityCount": 0, "error": {"code": "", "message": ""},
                           "creationTime": existing["body"]["properties"]["creationTime"] if existing else now,
                           "lastModifiedTime": now, "contentLink": link}}
    if kind != "Python3Package":
        body["properties"]["isComposite"] = False
    touch(body)
    req.store.put(rid, kind, body, {"started": req.server.now()})
    return (200 if existing else 201), _module_view(req, req.store.get(rid))


@handles("Module_Delete", "Python3Package_Delete", "PowerShell72Module_Delete")
def module_delete(req):
    kind = _module_kind(req)
    removed = req.store.delete(_module_id(req, kind))
    if not removed and kind == "Module":
        _module_record(req, kind)  # Module_Delete only documents 200
    return (200 if removed else 204), None


@handles("Module_ListByAutomationAccount", "Python3Package_ListByAutomationAccount", "PowerShell72Module_ListByAutomationAccount")
def module_list(req):
    kind = _module_kind(req)
    acct = child_parent(req)
    items = [_module_view(req, r) for r in req.store.children(acct["body"]["id"], kind)]
    return 200, req.page(sorted(items, key=lambda b: b["name"].lower()))
