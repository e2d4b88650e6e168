"""Microsoft.Compute virtual machines and Microsoft.HybridCompute machines, with extensions as LROs."""

import re
import uuid

from .automation import _identity, account_workers, touch
from .errors import ArmError, bad_request, conflict
from .store import utc_now

SEG = r"(?P<{}>[^/]+)"
RG_BASE = r"^/subscriptions/(?P<subscriptionId>[^/]+)/resourceGroups/(?P<resourceGroupName>[^/]+)/providers/"
KINDS = {
    "vm": {"ns": "Microsoft.Compute", "collection": "virtualMachines", "type": "Microsoft.Compute/virtualMachines"},
    "machine": {"ns": "Microsoft.HybridCompute", "collection": "machines", "type": "Microsoft.HybridCompute/machines"},
}
HYBRID_WORKER_PUBLISHER = "microsoft.azure.automation.hybridworker"
ROUTES = []  # (method, regex, handler)


def route(method, pattern):
    def register(func):
        ROUTES.append((method, re.compile(pattern, re.IGNORECASE), func))
        return func
    return register


def machine_routes(kind):
    info = KINDS[kind]
    base = RG_BASE + re.escape(info["ns"]) + "/" + info["collection"]
    one = base + "/(?P<name>[^/]+)"
    ext = one + "/extensions"
    by_subscription = ("^/subscriptions/(?P<subscriptionId>[^/]+)/providers/" + re.escape(info["ns"]) + "/"
                       + info["collection"] + "$")
    return base + "$", one + "$", ext + "$", ext + "/(?P<extension>[^/]+)$", by_subscription


def machine_id(req, kind):
    info = KINDS[kind]
    return (f"/subscriptions/{req.store.sub}/resourceGroups/{req.params['resourceGroupName']}/providers/"
            f"{info['ns']}/{info['collection']}/{req.params['name']}")


def _rg(req):
    rg = req.params["resourceGroupName"]
    if not req.store.get(req.store.rg_id(rg)):
        raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")


def machine_record(req, kind, parent=False):
    _rg(req)
    record = req.store.get(machine_id(req, kind))
    if not record:
        info = KINDS[kind]
        if parent:
            raise ArmError(404, "ParentResourceNotFound", "Can not perform requested operation on nested resource. "
                           f"Parent resource '{req.params['name']}' not found.")
        raise ArmError(404, "ResourceNotFound", f"The Resource '{info['type']}/{req.params['name']}' under resource group "
                       f"'{req.params['resourceGroupName']}' was not found. For more details please go to "
                       "https://aka.ms/ARMResourceNotFoundFix")
    return record


def os_type_of(props):
    storage = (props.get("storageProfile") or {}).get("osDisk") or {}
    if storage.get("osType"):
        return "Windows" if str(storage["osType"]).lower() == "windows" else "Linux"
    profile = props.get("osProfile") or {}
    if profile.get("windowsConfiguration") is not None:
        return "Windows"
    if profile.get("linuxConfiguration") is not None:
        return "Linux"
    image = (props.get("storageProfile") or {}).get("imageReference") or {}
    return "Windows" if "windows" in str(image.get("publisher", "")).lower() else "Linux"


def deep_merge(target, patch):
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            deep_merge(target[key], value)
        else:
            target[key] = value
    return target


def build_vm(store, vm_id, payload, existing=None):
    name = vm_id.rsplit("/", 1)[-1]
    props = dict(payload.get("properties") or {})
    body = existing or {"id": vm_id, "name": name, "type": KINDS["vm"]["type"], "properties": {"vmId": str(uuid.uuid4())}}
    body["location"] = payload.get("location") or body.get("location") or store.config["location"]
    if "tags" in payload or "tags" not in body:
        body["tags"] = payload.get("tags") or {}
    if "identity" in payload:
        body["identity"] = _identity(store, payload["identity"])
    vm_uuid = body["properties"]["vmId"]
    deep_merge(body["properties"], props)
    body["properties"]["vmId"] = vm_uuid
    os_type = os_type_of(body["properties"])
    storage = body["properties"].setdefault("storageProfile", {})
    disk = storage.setdefault("osDisk", {})
    disk.setdefault("osType", os_type)
    disk.setdefault("name", f"{name}_OsDisk")
    disk.setdefault("createOption", "FromImage")
    profile = body["properties"].setdefault("osProfile", {})
    profile.setdefault("computerName", name)
    profile.setdefault("adminUsername", "azureuser")
    profile.setdefault("windowsConfiguration" if os_type == "Windows" else "linuxConfiguration", {})
    body["properties"].setdefault("hardwareProfile", {"vmSize": "Standard_B2s"})
    body["properties"]["provisioningState"] = "Succeeded"
    body["properties"]["timeCreated"] = body["properties"].get("timeCreated") or utc_now()
    return body


def build_machine(store, machine_id_, payload, existing=None):
    name = machine_id_.rsplit("/", 1)[-1]
    props = dict(payload.get("properties") or {})
    body = existing or {"id": machine_id_, "name": name, "type": KINDS["machine"]["type"],
                        "properties": {"vmId": str(uuid.uuid4()), "status": "Connected", "agentVersion": "1.50.0",
                                       "displayName": name, "machineFqdn": name, "osName": "linux"}}
    body["location"] = payload.get("location") or body.get("location") or store.config["location"]
    if "tags" in payload or "tags" not in body:
        body["tags"] = payload.get("tags") or {}
    if "identity" in payload:
        body["identity"] = _identity(store, payload["identity"])
    elif existing is None:  # connecting a machine to Arc always creates its system-assigned identity
        body["identity"] = _identity(store, {"type": "SystemAssigned"})
    for readonly in ("provisioningState", "status", "agentVersion", "displayName", "machineFqdn", "lastStatusChange"):
        props.pop(readonly, None)
    deep_merge(body["properties"], props)
    if props.get("osType"):
        body["properties"]["osType"] = props["osType"].lower()
    body["properties"].setdefault("osType", "linux")
    body["properties"]["osName"] = body["properties"]["osType"]
    body["properties"]["provisioningState"] = "Succeeded"
    body["properties"]["lastStatusChange"] = utc_now()
    touch(body)
    return body


def _strip_extensions(body):
    return body


# ---- LRO bookkeeping ---------------------------------------------------------------------------------
def start_operation(req, kind, action, target_id, machine_lid, fail=None, namespace=None):
    op_id = str(uuid.uuid4())
    req.store.operations[op_id] = {
        "status": "InProgress", "start": utc_now(), "started": req.server.now(), "action": action, "target": target_id,
        "machine": machine_lid, "kind": kind, "fail": fail, "namespace": namespace or KINDS[kind]["ns"],
        "api_version": req.api_version}
    req.store.dirty = True
    return op_id


def operation_headers(req, op_id):
    op = req.store.operations[op_id]
    base = (f"{req.base_url}/subscriptions/{req.store.sub}/providers/{op['namespace']}/locations/"
            f"{req.store.config['location']}")
    return {"Azure-AsyncOperation": f"{base}/operations/{op_id}?api-version={req.api_version}",
            "Location": f"{base}/operationResults/{op_id}?api-version={req.api_version}",
            "Retry-After": str(max(1, int(round(min(req.server.lro_seconds, 10)))))}


def _extension_failure(store, server, op, ext_record, machine):
    """Why a HybridWorker extension would fail on its own (None when it would succeed)."""
    props = ext_record["body"]["properties"]
    if str(props.get("publisher", "")).lower() != HYBRID_WORKER_PUBLISHER:
        return None
    identity = str(((machine or {}).get("body") or {}).get("identity", {}).get("type", "None")).lower()
    if "systemassigned" not in identity.replace(" ", ""):
        return ("Unable to retrieve IMDS identity endpoint: the machine has no system-assigned managed identity. "
                "Enable the system-assigned identity, then reinstall the extension.")
    url = str((props.get("settings") or {}).get("AutomationAccountURL", ""))
    if not server.account_for_url(url):
        return f"AutomationAccountURL '{url}' is not formatted correctly or does not belong to an Automation account."
    return None


def complete(store, server, op_id, ok=True, message=""):
    op = store.operations.get(op_id)
    if not op or op["status"] != "InProgress":
        return False
    ext = store.get(op["target"])
    machine = store.get(op["machine"])
    if ok and op.get("fail"):
        ok, message = False, op["fail"]
    if ok and op["action"] != "delete" and ext:
        reason = _extension_failure(store, server, op, ext, machine)
        if reason:
            ok, message = False, reason
    op["status"] = "Succeeded" if ok else "Failed"
    op["end"] = utc_now()
    if not ok:
        op["error"] = {"code": "VMExtensionProvisioningError" if op["kind"] == "vm" else "ExtensionOperationFailed",
                       "message": message or "Extension operation failed."}
    if ext:
        if op["action"] == "delete" and ok:
            store.delete(op["target"])
        else:
            ext["body"]["properties"]["provisioningState"] = "Succeeded" if ok else "Failed"
            ext["extra"]["pending"] = None
            ext["extra"]["operation"] = None
            ext["extra"]["message"] = message
            if ok and op["kind"] == "vm" and server.simulate_vm_workers:
                server.simulated_heartbeat(ext)
    store.dirty = True
    return True


def advance(store, server):
    """Complete timer-driven LROs. Arc machines whose agent polled recently wait for its report."""
    now = server.now()
    for op_id, op in list(store.operations.items()):
        if op["status"] != "InProgress":
            continue
        if op["kind"] == "machine" and now - store.agent_seen.get(op["machine"], -1e9) < 60:
            continue
        if now - op.get("started", 0) >= server.lro_seconds or op.get("started", 0) > now:
            complete(store, server, op_id, True, "")


# ---- VMs and machines ----------------------------------------------------------------------------------
def _list_machines(req, kind):
    info = KINDS[kind]
    if "resourceGroupName" in req.params:
        _rg(req)
        prefix = f"/subscriptions/{req.store.sub}/resourcegroups/{req.params['resourceGroupName']}/providers/".lower()
    else:
        prefix = f"/subscriptions/{req.store.sub}/".lower()
    items = [render_machine(req, r) for r in req.store.of_kind(kind) if r["body"]["id"].lower().startswith(prefix)]
    del info
    return 200, req.page(sorted(items, key=lambda b: b["id"].lower()))


def render_machine(req, record):
    body = req.store.body(record)
    if record["kind"] == "vm" and "instanceview" in str(req.query.get("$expand", "")).lower():
        exts = req.store.children(body["id"], "vmExtension")
        body["properties"]["instanceView"] = {
            "computerName": body["properties"]["osProfile"].get("computerName"),
            "osName": body["properties"]["storageProfile"]["osDisk"]["osType"],
            "statuses": [{"code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Provisioning succeeded"},
                         {"code": "PowerState/running", "level": "Info", "displayStatus": "VM running"}],
            "extensions": [{"name": e["body"]["name"],
                            "type": f"{e['body']['properties'].get('publisher')}.{e['body']['properties'].get('type')}",
                            "typeHandlerVersion": e["body"]["properties"].get("typeHandlerVersion"),
                            "statuses": [{"code": f"ProvisioningState/{e['body']['properties']['provisioningState'].lower()}",
                                          "message": e["extra"].get("message") or ""}]} for e in exts]}
    return body


def make_handlers(kind):
    info = KINDS[kind]
    builder = build_vm if kind == "vm" else build_machine
    ext_kind = "vmExtension" if kind == "vm" else "machineExtension"
    collection, one, ext_collection, ext_one, by_sub = machine_routes(kind)

    @route("GET", collection)
    @route("GET", by_sub)
    def list_machines(req):
        return _list_machines(req, kind)

    @route("GET", one)
    def get_machine(req):
        return 200, render_machine(req, machine_record(req, kind))

    @route("PUT", one)
    @route("PATCH", one)
    def put_machine(req):
        _rg(req)
        rid = machine_id(req, kind)
        existing = req.store.get(rid)
        if req.method == "PATCH" and not existing:
            machine_record(req, kind)
        payload = req.body or {}
        if req.method == "PUT" and not existing and not payload.get("location"):
            raise bad_request("The 'location' property is required for this definition.", "LocationRequired")
        body = builder(req.store, rid, payload, req.store.body(existing) if existing else None)
        req.store.put(rid, kind, body)
        return (200 if existing or kind == "machine" else 201), render_machine(req, req.store.get(rid))

    @route("DELETE", one)
    def delete_machine(req):
        _rg(req)
        removed = req.store.delete(machine_id(req, kind))
        if kind == "vm":
            return (200 if removed else 204), None
        if not removed:
            return 204, None
        op_id = start_operation(req, kind, "delete", machine_id(req, kind), machine_id(req, kind).lower())
        complete(req.store, req.server, op_id)
        return 202, None, operation_headers(req, op_id)

    @route("GET", ext_collection)
    def list_extensions(req):
        machine = machine_record(req, kind, parent=True)
        advance(req.store, req.server)
        items = [req.store.body(r) for r in req.store.children(machine["body"]["id"], ext_kind)]
        return 200, {"value": sorted(items, key=lambda b: b["name"].lower())}

    def ext_record(req):
        machine = machine_record(req, kind, parent=True)
        advance(req.store, req.server)
        record = req.store.get(f"{machine['body']['id']}/extensions/{req.params['extension']}")
        if not record:
            raise ArmError(404, "ResourceNotFound", f"The Resource '{info['type']}/{req.params['name']}/extensions/"
                           f"{req.params['extension']}' under resource group '{req.params['resourceGroupName']}' was not found. "
                           "For more details please go to https://aka.ms/ARMResourceNotFoundFix")
        return machine, record

    @route("GET", ext_one)
    def get_extension(req):
        return 200, req.store.body(ext_record(req)[1])

    @route("PUT", ext_one)
    @route("PATCH", ext_one)
    def put_extension(req):
        machine = machine_record(req, kind, parent=True)
        advance(req.store, req.server)
        eid = f"{machine['body']['id']}/extensions/{req.params['extension']}"
        existing = req.store.get(eid)
        if req.method == "PATCH" and not existing:
            ext_record(req)
        if existing and existing["extra"].get("operation"):
            raise conflict(f"Operation '{req.method}' is not allowed on extension '{req.params['extension']}' since "
                           "another operation is in progress on it.", "OperationNotAllowed")
        payload = req.body or {}
        props = dict(payload.get("properties") or {})
        protected = props.pop("protectedSettings", None)
        props.pop("provisioningState", None)
        props.pop("instanceView", None)
        if existing:
            body = req.store.body(existing)
            deep_merge(body["properties"], props)
            if req.method == "PUT" and "settings" in props:
                body["properties"]["settings"] = props["settings"]
        else:
            if req.method == "PUT" and kind == "vm" and not payload.get("location"):
                raise bad_request("The 'location' property is required for this definition.", "LocationRequired")
            for needed in ("publisher", "type"):
                if not props.get(needed):
                    raise bad_request(f"Required parameter 'properties.{needed}' is missing (null).", "InvalidParameter")
            body = {"id": eid, "name": req.params["extension"], "type": f"{info['type']}/extensions",
                    "location": payload.get("location") or machine["body"]["location"], "properties": props}
        if "tags" in payload:
            body["tags"] = payload["tags"] or {}
        elif req.method == "PUT":
            body.pop("tags", None)  # a PUT replaces the resource
        action = "update" if existing else "create"
        body["properties"]["provisioningState"] = "Updating" if existing else "Creating"
        fail = req.store.hooks["fail_next_extension"].pop(machine["body"]["id"].lower(), None)
        # A PUT replaces the resource, protected settings included: one without them drops them. A PATCH keeps them.
        kept = None if req.method == "PUT" else (existing or {}).get("extra", {}).get("protected")
        extra = {"protected": protected if protected is not None else kept}
        record = req.store.put(eid, ext_kind, body, extra)
        op_id = start_operation(req, kind, action, eid, machine["body"]["id"].lower(), fail)
        record["extra"].update({"pending": action, "operation": op_id, "message": ""})
        headers = operation_headers(req, op_id)
        if kind == "machine":
            return 202, None, headers
        return (200 if existing else 201), req.store.body(record), headers

    @route("DELETE", ext_one)
    def delete_extension(req):
        machine = machine_record(req, kind, parent=True)
        advance(req.store, req.server)
        eid = f"{machine['body']['id']}/extensions/{req.params['extension']}"
        record = req.store.get(eid)
        if not record:
            return 204, None
        if record["extra"].get("operation"):
            raise conflict(f"Operation 'DELETE' is not allowed on extension '{req.params['extension']}' since another "
                           "operation is in progress on it.", "OperationNotAllowed")
        record["body"]["properties"]["provisioningState"] = "Deleting"
        fail = req.store.hooks["fail_next_extension"].pop(machine["body"]["id"].lower(), None)
        op_id = start_operation(req, kind, "delete", eid, machine["body"]["id"].lower(), fail)
        record["extra"].update({"pending": "delete", "operation": op_id, "message": ""})
        return 202, None, operation_headers(req, op_id)


make_handlers("vm")
make_handlers("machine")


OPS = r"^/subscriptions/(?P<subscriptionId>[^/]+)/providers/(?P<ns>[^/]+)/locations/(?P<location>[^/]+)/"


@route("GET", OPS + r"operations/(?P<op>[^/]+)$")
def operation_status(req):
    advance(req.store, req.server)
    op = req.store.operations.get(req.params["op"])
    if not op:
        raise ArmError(404, "ResourceNotFound", f"Operation '{req.params['op']}' was not found.")
    body = {"id": req.path, "name": req.params["op"], "status": op["status"], "startTime": op["start"]}
    if op.get("end"):
        body["endTime"] = op["end"]
    if op.get("error"):
        body["error"] = op["error"]
    headers = {"Retry-After": "1"} if op["status"] == "InProgress" else {}
    return 200, body, headers


@route("GET", OPS + r"operationResults/(?P<op>[^/]+)$")
def operation_result(req):
    advance(req.store, req.server)
    op = req.store.operations.get(req.params["op"])
    if not op:
        raise ArmError(404, "ResourceNotFound", f"Operation '{req.params['op']}' was not found.")
    if op["status"] == "InProgress":
        return 202, None, {"Location": f"{req.base_url}{req.path}?api-version={req.api_version}", "Retry-After": "1"}
    if op["status"] == "Failed":
        raise ArmError(400, op["error"]["code"], op["error"]["message"])
    target = req.store.get(op.get("target", "")) if op.get("target") else None
    if op.get("action") in ("create", "update") and target:
        return 200, req.store.body(target)
    return 204, None


def account_of_worker_vm(store, vm_lid):
    for account in store.of_kind("account"):
        for worker in account_workers(store, account["body"]["id"]):
            if str(worker["body"]["properties"].get("vmResourceId", "")).lower() == vm_lid:
                yield account, worker
