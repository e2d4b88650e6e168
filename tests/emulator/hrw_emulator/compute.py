"""Microsoft.Compute virtual machines and Microsoft.HybridCompute machines, with extensions as LROs."""

import re
import uuid

from .automation import _identity, account_workers, touch
from .errors import ArmError, bad_request, conflict
from .odata import compile_filter
from .store import utc_now

SEG = r"(?P<{}>[^/]+)"
RG_BASE = r"^/subscriptions/(?P<subscriptionId>[^/]+)/resourceGroups/(?P<resourceGroupName>[^/]+)/providers/"
KINDS = {
    "vm": {"ns": "Microsoft.Compute", "collection": "virtualMachines", "type": "Microsoft.Compute/virtualMachines"},
    "machine": {"ns": "Microsoft.HybridCompute", "collection": "machines", "type": "Microsoft.HybridCompute/machines"},
}
HYBRID_WORKER_PUBLISHER = "microsoft.azure.automation.hybridworker"
ROUTES = []  # (method, regex, handler)

# The artifact repository as far as the HybridWorker publisher goes: its two types, the OS each runs on, and the
# builds Azure serves. Documented builds: Linux 1.1.11 and 1.1.23, Windows 1.1.11, 1.3.63 and 1.3.74 (Automation docs,
# "run runbooks" and release notes); the builds between them fill the sequence the way Azure publishes them.
EXTENSION_IMAGES = {
    HYBRID_WORKER_PUBLISHER: {
        "publisher": "Microsoft.Azure.Automation.HybridWorker",
        "types": {
            "HybridWorkerForLinux": {"os": "Linux", "versions": [f"1.1.{n}" for n in range(11, 24)]},
            "HybridWorkerForWindows": {"os": "Windows", "versions": ["1.1.11", "1.1.12", "1.1.13", "1.3.57", "1.3.59",
                                                                     "1.3.61", "1.3.63", "1.3.67", "1.3.74"]},
        },
    },
}
HANDLER_VERSION = re.compile(r"^\d+(\.\d+){0,2}$")


def extension_image(publisher, ext_type):
    """(canonical publisher, canonical type, image) of a known extension type; image None when the type is unknown."""
    catalog = EXTENSION_IMAGES.get(str(publisher or "").lower())
    if not catalog:
        return None, None, None
    for name, image in catalog["types"].items():
        if name.lower() == str(ext_type or "").lower():
            return catalog["publisher"], name, image
    return catalog["publisher"], None, None


def matching_builds(image, wanted):
    """The builds of ``image`` that satisfy typeHandlerVersion ``wanted`` ('1.1' takes any 1.1.x), oldest first."""
    wanted = str(wanted or "")
    return [v for v in image["versions"] if v == wanted or v.startswith(wanted + ".")]


def installed_build(props):
    """The build an extension runs: the newest build of its typeHandlerVersion (what Azure installs), else as written."""
    _, _, image = extension_image(props.get("publisher"), props.get("type"))
    builds = matching_builds(image, props.get("typeHandlerVersion")) if image else []
    return builds[-1] if builds else props.get("typeHandlerVersion")


def check_extension(kind, machine, existing, props):
    """Azure's checks of an extension PUT/PATCH for a publisher the emulator knows.

    Raises the ArmError Azure answers at PUT time; returns (code, message) of a failure Azure reports through the
    operation instead (the PUT is accepted, the operation ends Failed), or None.
    """
    if existing:
        old = existing["body"]["properties"]
        for prop in ("publisher", "type"):
            if prop in props and str(props[prop] or "").lower() != str(old.get(prop) or "").lower():
                # Compute answers 409 PropertyChangeNotAllowed "Changing property 'publisher' is not allowed." with
                # target (hashicorp/terraform-provider-azurerm#1506; 'type': Azure/custom-script-extension-linux#105;
                # status 409 for this code: Azure/azure-powershell#7621). No Arc message is published; HybridCompute is
                # given the same answer.
                raise ArmError(409, "PropertyChangeNotAllowed", f"Changing property '{prop}' is not allowed.", target=prop)
    publisher = props.get("publisher") or (existing or {}).get("body", {}).get("properties", {}).get("publisher")
    ext_type = props.get("type") or (existing or {}).get("body", {}).get("properties", {}).get("type")
    version = props.get("typeHandlerVersion") or (existing or {}).get("body", {}).get("properties", {}).get("typeHandlerVersion")
    canonical, name, image = extension_image(publisher, ext_type)
    if canonical is None:
        return None  # a publisher the emulator does not model: accepted as is
    if kind == "machine":
        # HybridCompute resolves publisher, type, OS and version in the extension repository after accepting the PUT; an
        # unknown one fails the operation with code HCRP400 and message ExtensionNotFound (MicrosoftDocs/azure-docs#68402,
        # `az connectedmachine extension create` with a type the publisher does not have).
        os_type = str(machine["body"]["properties"].get("osType") or "linux").lower()
        if image is None or image["os"].lower() != os_type or (version and not matching_builds(image, version)):
            return "HCRP400", "ExtensionNotFound"
        return None
    if version is not None and not HANDLER_VERSION.match(str(version)):
        # {"code":"InvalidParameter","target":"typeHandlerVersion","message":"The value of parameter typeHandlerVersion is
        # invalid."} for a malformed version such as '1210.12.4.2000' (chef-partners/azure-chef-extension#70).
        raise ArmError(400, "InvalidParameter", "The value of parameter typeHandlerVersion is invalid.",
                       target="typeHandlerVersion")
    if image is None:
        # 404 ArtifactNotFound "The VM extension with publisher '…' and type '…' could not be found."
        # (Azure/azure-powershell#20094, StatusCode 404).
        raise ArmError(404, "ArtifactNotFound",
                       f"The VM extension with publisher '{publisher}' and type '{ext_type}' could not be found.")
    os_type = os_type_of(machine["body"]["properties"])
    if image["os"] != os_type:
        # OperationNotAllowed "Publisher 'Microsoft.Azure.Extensions' and type 'CustomScript' are not supported for OS
        # type 'Windows'. Please use publisher 'Microsoft.Compute' and type 'CustomScriptExtension' instead."
        # (hashicorp/terraform-provider-azurerm#22351).
        other = next(n for n, i in EXTENSION_IMAGES[HYBRID_WORKER_PUBLISHER]["types"].items() if i["os"] == os_type)
        raise ArmError(409, "OperationNotAllowed",
                       f"Publisher '{publisher}' and type '{ext_type}' are not supported for OS type '{os_type}'. "
                       f"Please use publisher '{canonical}' and type '{other}' instead.")
    if version and not matching_builds(image, version):
        # The PUT is accepted and the extension ends Failed with ArtifactVersionNotFound "No version found in the artifact
        # repository that satisfies the requested version '1.3' for VM extension with publisher 'Microsoft.Compute' and
        # type 'JsonADDomainExtension'." (MicrosoftDocs/azure-docs#105057, a failed deployment operation;
        # MicrosoftLearning/AZ-104-MicrosoftAzureAdministrator#366, "ProvisioningState/failed/ArtifactVersionNotFound").
        return ("ArtifactVersionNotFound", f"No version found in the artifact repository that satisfies the requested "
                f"version '{version}' for VM extension with publisher '{publisher}' and type '{ext_type}'.")
    return None


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


def _documents_status(req, operation_id, status):
    """Whether the HybridCompute schema of the call's api-version documents that answer (no schema: assume it does)."""
    specs = req.server.specs
    version = specs.schema_version("Microsoft.HybridCompute", req.api_version)
    operation = specs.by_id.get(("microsoft.hybridcompute", version, operation_id))
    return operation is None or status in operation.responses


def _strip_extensions(body):
    return body


# ---- LRO bookkeeping ---------------------------------------------------------------------------------
def start_operation(req, kind, action, target_id, machine_lid, fail=None, namespace=None, fail_code=None):
    """An async operation; ``fail_code`` marks a failure Azure decides itself (no agent report awaited)."""
    op_id = str(uuid.uuid4())
    req.store.operations[op_id] = {
        "status": "InProgress", "start": utc_now(), "started": req.server.now(), "action": action, "target": target_id,
        "machine": machine_lid, "kind": kind, "fail": fail, "namespace": namespace or KINDS[kind]["ns"],
        "api_version": req.api_version}
    if fail_code:
        req.store.operations[op_id]["fail_code"] = fail_code
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
    if op["action"] == "vm-update":  # a VM PUT/PATCH (identity, tags, …): ends Succeeded
        op["status"], op["end"] = "Succeeded", utc_now()
        if ext:
            ext["body"]["properties"]["provisioningState"] = "Succeeded"
        store.dirty = True
        return True
    code = None
    if ok and op.get("fail"):
        ok, message, code = False, op["fail"], op.get("fail_code")
    if ok and op["action"] != "delete" and ext:
        reason = _extension_failure(store, server, op, ext, machine)
        if reason:
            ok, message = False, reason
    op["status"] = "Succeeded" if ok else "Failed"
    op["end"] = utc_now()
    if not ok:
        op["error"] = {"code": code or ("VMExtensionProvisioningError" if op["kind"] == "vm" else "ExtensionOperationFailed"),
                       "message": message or "Extension operation failed."}
    if ext:
        if op["action"] == "delete" and ok:
            store.delete(op["target"])
        else:
            ext["body"]["properties"]["provisioningState"] = "Succeeded" if ok else "Failed"
            ext["extra"]["pending"] = None
            ext["extra"]["operation"] = None
            ext["extra"]["message"] = message
            ext["extra"]["status_time"] = op["end"]
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
        if op["kind"] == "machine" and not op.get("fail_code") and now - store.agent_seen.get(op["machine"], -1e9) < 60:
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


def _expand_instance_view(req):
    return "instanceview" in str(req.query.get("$expand", "")).lower()


def _extension_status(record):
    state = str(record["body"]["properties"].get("provisioningState") or "Succeeded")
    failed = state == "Failed"
    status = {"code": f"ProvisioningState/{state.lower()}", "level": "Error" if failed else "Info",
              "displayStatus": f"Provisioning {state.lower()}",
              "message": record["extra"].get("message") or ("Enable succeeded." if state == "Succeeded" else "")}
    if record["extra"].get("status_time"):
        status["time"] = record["extra"]["status_time"]
    return status


def extension_instance_view(record):
    """What Azure reports of an installed extension: VirtualMachineExtensionInstanceView / MachineExtensionInstanceView."""
    props = record["body"]["properties"]
    view = {"name": record["body"]["name"], "typeHandlerVersion": installed_build(props)}
    if record["kind"] == "vmExtension":  # Compute names the handler publisher.type and lists statuses
        view["type"] = f"{props.get('publisher')}.{props.get('type')}"
        view["statuses"] = [_extension_status(record)]
    else:  # HybridCompute: the type alone and one status
        view["type"] = props.get("type")
        view["status"] = _extension_status(record)
    return view


def render_extension(req, record):
    """An extension as Azure returns it: Compute adds instanceView on $expand=instanceView, Arc once the agent reported."""
    body = req.store.body(record)
    state = body["properties"].get("provisioningState")
    if record["kind"] == "vmExtension" and _expand_instance_view(req):
        body["properties"]["instanceView"] = extension_instance_view(record)
    elif record["kind"] == "machineExtension" and state in ("Succeeded", "Failed"):
        body["properties"]["instanceView"] = extension_instance_view(record)
    return body


def render_machine(req, record):
    body = req.store.body(record)
    identity = body.get("identity")
    if (record["kind"] == "machine" and isinstance(identity, dict) and str(identity.get("type")) == "None"
            and "None" not in (req.server.specs.enum_of("Microsoft.HybridCompute", req.api_version, "Machines_Get", "200",
                                                        ["identity", "type"]) or ["None"])):
        del body["identity"]  # that api-version knows only SystemAssigned (2024-07-10): no identity is no property
    if record["kind"] == "vm" and _expand_instance_view(req):
        exts = req.store.children(body["id"], "vmExtension")
        body["properties"]["instanceView"] = {
            "computerName": body["properties"]["osProfile"].get("computerName"),
            "osName": body["properties"]["storageProfile"]["osDisk"]["osType"],
            "statuses": [{"code": f"ProvisioningState/{body['properties']['provisioningState'].lower()}", "level": "Info",
                          "displayStatus": f"Provisioning {body['properties']['provisioningState'].lower()}"},
                         {"code": "PowerState/running", "level": "Info", "displayStatus": "VM running"}],
            "extensions": [extension_instance_view(e) for e in exts]}
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
        advance(req.store, req.server)
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
        if kind == "vm" and existing:
            # Compute applies a VM update (identity, tags, …) as a long-running operation: 200 with provisioningState
            # Updating and Azure-AsyncOperation; the VM is Succeeded when the operation is.
            body["properties"]["provisioningState"] = "Updating"
            req.store.put(rid, kind, body)
            op_id = start_operation(req, kind, "vm-update", rid, rid.lower())
            return 200, render_machine(req, req.store.get(rid)), operation_headers(req, op_id)
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
        if not _documents_status(req, "Machines_Delete", "202"):
            return 200, None  # that api-version's delete is synchronous (2024-07-10: 200 or 204)
        return 202, None, operation_headers(req, op_id)

    @route("GET", ext_collection)
    def list_extensions(req):
        machine = machine_record(req, kind, parent=True)
        advance(req.store, req.server)
        items = [render_extension(req, r) for r in req.store.children(machine["body"]["id"], ext_kind)]
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
        return 200, render_extension(req, ext_record(req)[1])

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
        failure = check_extension(kind, machine, existing, props)
        if "tags" in payload:
            body["tags"] = payload["tags"] or {}
        elif req.method == "PUT":
            body.pop("tags", None)  # a PUT replaces the resource
        action = "update" if existing else "create"
        body["properties"]["provisioningState"] = "Updating" if existing else "Creating"
        fail = req.store.hooks["fail_next_extension"].pop(machine["body"]["id"].lower(), None)
        fail_code = None
        if failure:
            fail_code, fail = failure
        # A PUT replaces the resource, protected settings included: one without them drops them. A PATCH keeps them.
        kept = None if req.method == "PUT" else (existing or {}).get("extra", {}).get("protected")
        extra = {"protected": protected if protected is not None else kept}
        record = req.store.put(eid, ext_kind, body, extra)
        op_id = start_operation(req, kind, action, eid, machine["body"]["id"].lower(), fail, fail_code=fail_code)
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
    if not op or op.get("forgotten"):
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
    if not op or op.get("forgotten"):
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


# ---- extension images (az vm extension image list-versions / show) -----------------------------------------------
IMAGES = (r"^/subscriptions/(?P<subscriptionId>[^/]+)/providers/Microsoft\.Compute/locations/(?P<location>[^/]+)/"
          r"publishers/(?P<publisher>[^/]+)/artifacttypes/vmextension/types")


def _image_not_found():
    # Compute's answer for an extension image it does not have: 404 NotFound "Artifact: VMExtension was not found."
    # (MicrosoftDocs/azure-docs#14522, Get-AzureRmVMExtensionImage).
    return ArmError(404, "NotFound", "Artifact: VMExtension was not found.")


def _image_base(req):
    return (f"/Subscriptions/{req.store.sub}/Providers/Microsoft.Compute/Locations/{req.params['location']}/Publishers/"
            f"{req.params['publisher']}/ArtifactTypes/VMExtension/Types")


def _image(req):
    _, name, image = extension_image(req.params["publisher"], req.params["type"])
    if image is None:
        raise _image_not_found()
    return name, image


@route("GET", r"^/subscriptions/(?P<subscriptionId>[^/]+)/providers/Microsoft\.Compute/locations/(?P<location>[^/]+)/publishers$")
def extension_image_publishers(req):
    """The publishers this emulator's repository holds (Azure lists every image and extension publisher)."""
    base = f"/Subscriptions/{req.store.sub}/Providers/Microsoft.Compute/Locations/{req.params['location']}/Publishers"
    return 200, [{"id": f"{base}/{c['publisher']}", "name": c["publisher"], "location": req.params["location"]}
                 for c in EXTENSION_IMAGES.values()]


@route("GET", IMAGES + "$")
def extension_image_types(req):
    catalog = EXTENSION_IMAGES.get(req.params["publisher"].lower())
    if not catalog:
        raise _image_not_found()
    return 200, [{"id": f"{_image_base(req)}/{name}", "name": name, "location": req.params["location"]}
                 for name in catalog["types"]]


@route("GET", IMAGES + r"/(?P<type>[^/]+)/versions$")
def extension_image_versions(req):
    name, image = _image(req)
    items = [{"id": f"{_image_base(req)}/{name}/Versions/{v}", "name": v, "location": req.params["location"]}
             for v in image["versions"]]
    predicate = compile_filter(req.query.get("$filter"))
    if predicate:
        items = [i for i in items if predicate(i)]
    if str(req.query.get("$orderby", "")).lower().endswith(" desc"):
        items.reverse()
    if req.query.get("$top"):
        try:
            items = items[:int(req.query["$top"])]
        except ValueError:
            raise bad_request("Invalid $top") from None
    return 200, items


@route("GET", IMAGES + r"/(?P<type>[^/]+)/versions/(?P<version>[^/]+)$")
def extension_image_version(req):
    name, image = _image(req)
    if req.params["version"] not in image["versions"]:
        raise _image_not_found()
    return 200, {"id": f"{_image_base(req)}/{name}/Versions/{req.params['version']}", "name": req.params["version"],
                 "location": req.params["location"],
                 "properties": {"operatingSystem": image["os"], "computeRole": "IaaS", "handlerSchema": "",
                                "vmScaleSetEnabled": True, "supportsMultipleExtensions": False}}
