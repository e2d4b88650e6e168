"""Fidelity to Azure where the real Azure CLI found gaps (issue 8, section 5): metadata, Microsoft.Resources routes,
extension images, HybridWorker extension validation, instance views, VM updates as LROs, lower-cased vmResourceId."""

import time
from urllib.parse import quote

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.hybridcompute import HybridComputeManagementClient

PUBLISHER = "Microsoft.Azure.Automation.HybridWorker"
COMPUTE = "2024-07-01"
HYBRID = "2024-07-10"


@pytest.fixture
def compute(emu):
    return emu.client(ComputeManagementClient)


@pytest.fixture
def hybrid(emu):
    return emu.client(HybridComputeManagementClient)


def _rg_path(emu):
    return f"/subscriptions/{emu['subscription_id']}/resourceGroups/{emu['resource_group']}"


def _ext(emu, ext_type="HybridWorkerForLinux", version="1.1"):
    return {"location": emu["location"], "properties": {
        "publisher": PUBLISHER, "type": ext_type, "typeHandlerVersion": version, "autoUpgradeMinorVersion": True,
        "enableAutomaticUpgrade": True, "settings": {"AutomationAccountURL": emu["hybrid_service_url"]}}}


def _vm(emu, compute, name, os_type="Linux"):
    compute.virtual_machines.begin_create_or_update(emu["resource_group"], name, {
        "location": emu["location"], "identity": {"type": "SystemAssigned"},
        "properties": {"storageProfile": {"osDisk": {"osType": os_type, "createOption": "FromImage"}}}}).result()


def _arc(emu, hybrid, name, os_type="linux"):
    hybrid.machines.create_or_update(emu["resource_group"], name, {"location": emu["location"],
                                                                   "properties": {"osType": os_type}})


def _wait_terminal(emu, path, api_version, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        status, _, body = emu.arm("GET", path, api_version=api_version)
        state = (body.get("properties") or {}).get("provisioningState")
        if state in ("Succeeded", "Failed") or time.monotonic() > deadline:
            return status, body
        time.sleep(0.2)


# ---- metadata/endpoints -----------------------------------------------------------------------------------------
def test_metadata_answers_per_api_version(emu):
    status, _, cloud = emu.call("GET", f"{emu['arm_endpoint']}/metadata/endpoints?api-version=2022-09-01")
    assert status == 200 and isinstance(cloud, dict)
    # What `az cloud register --endpoint-resource-manager` reads (azure-cli cloud.py _arm_to_cli_mapper).
    for key in ("name", "portal", "authentication", "media", "graphAudience", "graph", "suffixes", "batch",
                "resourceManager", "vmImageAliasDoc", "activeDirectoryDataLake", "sqlManagement", "gallery"):
        assert key in cloud, key
    assert cloud["resourceManager"] == f"{emu['arm_endpoint']}/" and cloud["authentication"]["audiences"][0]
    assert "galleryEndpoint" not in cloud and "clouds" not in cloud
    status, _, stack = emu.call("GET", emu["metadata_url"])  # 2019-05-01: the shape the collection reads
    assert status == 200 and stack["galleryEndpoint"] and stack["authentication"]["loginEndpoint"]
    assert stack["clouds"][0]["name"] == cloud["name"]


# ---- Microsoft.Resources ---------------------------------------------------------------------------------------
def test_subscriptions_and_locations(emu):
    status, _, body = emu.arm("GET", "/subscriptions", api_version="2022-12-01")
    assert status == 200 and [s["subscriptionId"] for s in body["value"]] == [emu["subscription_id"]]
    assert body["value"][0]["tenantId"] == emu["tenant_id"] and body["value"][0]["state"] == "Enabled"
    status, _, body = emu.arm("GET", f"/subscriptions/{emu['subscription_id']}/locations", api_version="2022-12-01")
    assert status == 200 and body["value"][0]["name"] == emu["location"]
    assert all(loc["id"] == f"/subscriptions/{emu['subscription_id']}/locations/{loc['name']}" for loc in body["value"])


def test_generic_resources_list_and_filter(emu, compute, hybrid):
    _vm(emu, compute, "res-vm")
    _arc(emu, hybrid, "res-arc")
    sub = f"/subscriptions/{emu['subscription_id']}"
    status, _, body = emu.arm("GET", f"{sub}/resources", api_version="2021-04-01")
    assert status == 200
    types = {r["type"].lower() for r in body["value"]}
    assert {"microsoft.compute/virtualmachines", "microsoft.hybridcompute/machines",
            "microsoft.automation/automationaccounts"} <= types
    assert all(set(r) <= {"id", "name", "type", "location", "tags", "identity", "kind"} for r in body["value"])
    status, _, body = emu.arm("GET", f"{sub}/resources?$filter=" + quote("resourceType eq 'Microsoft.Compute/virtualMachines'"),
                              api_version="2021-04-01")
    assert status == 200 and [r["name"] for r in body["value"]] == ["res-vm"]
    assert body["value"][0]["identity"]["type"] == "SystemAssigned"
    status, _, body = emu.arm("GET", f"{_rg_path(emu)}/resources?$filter=" + quote("name eq 'res-arc'"), api_version="2021-04-01")
    assert status == 200 and [r["type"] for r in body["value"]] == ["Microsoft.HybridCompute/machines"]
    status, _, body = emu.arm("GET", f"{sub}/resourceGroups/no-such-rg/resources", api_version="2021-04-01")
    assert status == 404 and body["error"]["code"] == "ResourceGroupNotFound"


def test_provider_get_and_register_are_microsoft_resources(emu):
    sub = f"/subscriptions/{emu['subscription_id']}"
    status, _, body = emu.arm("GET", f"{sub}/providers/microsoft.compute", api_version="2021-04-01")
    assert status == 200 and body["namespace"] == "Microsoft.Compute" and body["registrationState"] == "Registered"
    types = {t["resourceType"]: t for t in body["resourceTypes"]}
    assert "2024-07-01" in types["virtualMachines"]["apiVersions"] and "virtualMachines/extensions" in types
    status, _, body = emu.arm("POST", f"{sub}/providers/Microsoft.HybridCompute/register", api_version="2021-04-01")
    assert status == 200 and body["namespace"] == "Microsoft.HybridCompute" and body["registrationState"] == "Registered"
    status, _, body = emu.arm("GET", f"{sub}/providers", api_version="2021-04-01")
    assert status == 200 and "Microsoft.Automation" in [p["namespace"] for p in body["value"]]
    status, _, body = emu.arm("GET", f"{sub}/providers/Microsoft.NoSuchThing", api_version="2021-04-01")
    assert status == 404 and body["error"]["code"] == "InvalidResourceNamespace"


# ---- extension images -------------------------------------------------------------------------------------------
def test_extension_image_versions(emu, compute):
    location = emu["location"]
    windows = [v.name for v in compute.virtual_machine_extension_images.list_versions(location, PUBLISHER, "HybridWorkerForWindows")]
    linux = [v.name for v in compute.virtual_machine_extension_images.list_versions(location, PUBLISHER, "HybridWorkerForLinux")]
    assert {"1.3.63", "1.3.74"} <= set(windows) and all(v.startswith("1.1.") for v in linux) and "1.1.23" in linux
    publishers = compute.virtual_machine_images.list_publishers(location)  # what `az vm extension image list -p` reads first
    assert PUBLISHER in [p.name for p in publishers]
    assert {t.name for t in compute.virtual_machine_extension_images.list_types(location, PUBLISHER)} == {
        "HybridWorkerForLinux", "HybridWorkerForWindows"}
    image = compute.virtual_machine_extension_images.get(location, PUBLISHER, "HybridWorkerForWindows", "1.3.74")
    assert image.name == "1.3.74" and image.operating_system == "Windows"
    newest = compute.virtual_machine_extension_images.list_versions(location, PUBLISHER, "HybridWorkerForWindows",
                                                                    orderby="name desc", top=1)
    assert [v.name for v in newest] == ["1.3.74"]
    with pytest.raises(HttpResponseError) as info:
        compute.virtual_machine_extension_images.list_versions(location, PUBLISHER, "HybridWorkerExtension")
    assert info.value.status_code == 404 and info.value.error.code == "NotFound"
    with pytest.raises(HttpResponseError) as info:
        compute.virtual_machine_extension_images.get(location, PUBLISHER, "HybridWorkerForLinux", "9.9.9")
    assert info.value.status_code == 404


# ---- HybridWorker extension validation: Azure VM ----------------------------------------------------------------
def test_vm_extension_refused_at_put(emu, compute):
    _vm(emu, compute, "val-vm")
    path = f"{_rg_path(emu)}/providers/Microsoft.Compute/virtualMachines/val-vm/extensions/HybridWorkerExtension"
    status, _, body = emu.arm("PUT", path, _ext(emu, "HybridWorkerExtension"), api_version=COMPUTE)
    assert status == 404 and body["error"]["code"] == "ArtifactNotFound"
    assert body["error"]["message"] == (f"The VM extension with publisher '{PUBLISHER}' and type 'HybridWorkerExtension' "
                                        "could not be found.")
    status, _, body = emu.arm("PUT", path, _ext(emu, "HybridWorkerForWindows"), api_version=COMPUTE)
    assert status == 409 and body["error"]["code"] == "OperationNotAllowed"
    assert "are not supported for OS type 'Linux'" in body["error"]["message"]
    assert "type 'HybridWorkerForLinux' instead" in body["error"]["message"]
    status, _, body = emu.arm("PUT", path, _ext(emu, version="banana"), api_version=COMPUTE)
    assert status == 400 and body["error"] == {"code": "InvalidParameter", "target": "typeHandlerVersion",
                                               "message": "The value of parameter typeHandlerVersion is invalid."}
    status, _, _ = emu.arm("GET", path, api_version=COMPUTE)
    assert status == 404  # nothing was written


def test_vm_extension_missing_version_fails_the_operation(emu, compute):
    _vm(emu, compute, "ver-vm")
    with pytest.raises(HttpResponseError) as info:
        compute.virtual_machine_extensions.begin_create_or_update(emu["resource_group"], "ver-vm", "HybridWorkerExtension",
                                                                  _ext(emu, version="9.9")).result()
    assert "ArtifactVersionNotFound" in str(info.value)
    assert ("No version found in the artifact repository that satisfies the requested version '9.9' for VM extension "
            f"with publisher '{PUBLISHER}' and type 'HybridWorkerForLinux'.") in str(info.value)
    ext = compute.virtual_machine_extensions.get(emu["resource_group"], "ver-vm", "HybridWorkerExtension", expand="instanceView")
    assert ext.provisioning_state == "Failed" and ext.instance_view.statuses[0].level == "Error"


def test_vm_extension_type_or_publisher_cannot_change(emu, compute):
    rg = emu["resource_group"]
    _vm(emu, compute, "chg-vm", "Windows")
    compute.virtual_machine_extensions.begin_create_or_update(rg, "chg-vm", "HybridWorkerExtension",
                                                              _ext(emu, "HybridWorkerForWindows", "1.3")).result()
    path = f"{_rg_path(emu)}/providers/Microsoft.Compute/virtualMachines/chg-vm/extensions/HybridWorkerExtension"
    status, _, body = emu.arm("PUT", path, _ext(emu, "HybridWorkerForLinux"), api_version=COMPUTE)
    assert status == 409 and body["error"] == {"code": "PropertyChangeNotAllowed", "target": "type",
                                               "message": "Changing property 'type' is not allowed."}
    changed = _ext(emu, "HybridWorkerForWindows", "1.3")
    changed["properties"]["publisher"] = "Microsoft.Compute"
    status, _, body = emu.arm("PUT", path, changed, api_version=COMPUTE)
    assert status == 409 and body["error"]["target"] == "publisher"
    lower = _ext(emu, "hybridworkerforwindows", "1.3")  # the same type in another case is no change
    lower["properties"]["publisher"] = PUBLISHER.lower()
    assert compute.virtual_machine_extensions.begin_create_or_update(rg, "chg-vm", "HybridWorkerExtension",
                                                                     lower).result().provisioning_state == "Succeeded"


def test_vm_extension_instance_view(emu, compute):
    rg = emu["resource_group"]
    _vm(emu, compute, "iv-vm")
    compute.virtual_machine_extensions.begin_create_or_update(rg, "iv-vm", "HybridWorkerExtension", _ext(emu)).result()
    plain = compute.virtual_machine_extensions.get(rg, "iv-vm", "HybridWorkerExtension")
    assert plain.instance_view is None  # only on $expand=instanceView, as Azure
    view = compute.virtual_machine_extensions.get(rg, "iv-vm", "HybridWorkerExtension", expand="instanceView").instance_view
    assert view.name == "HybridWorkerExtension" and view.type == f"{PUBLISHER}.HybridWorkerForLinux"
    assert view.type_handler_version == "1.1.23"  # the newest build of 1.1, as Azure installs
    status = view.statuses[0]
    assert (status.code, status.level, status.display_status) == ("ProvisioningState/succeeded", "Info", "Provisioning succeeded")
    assert status.message
    listed = compute.virtual_machine_extensions.list(rg, "iv-vm", expand="instanceView").value
    assert listed[0].instance_view.statuses[0].code == "ProvisioningState/succeeded"
    vm_view = compute.virtual_machines.get(rg, "iv-vm", expand="instanceView").instance_view
    assert vm_view.extensions[0].statuses[0].display_status == "Provisioning succeeded"


# ---- HybridWorker extension validation and instance view: Arc ---------------------------------------------------
def test_arc_extension_validation(emu, hybrid):
    rg = emu["resource_group"]
    _arc(emu, hybrid, "val-arc")
    for ext_type, version in (("HybridWorkerExtension", "1.1"), ("HybridWorkerForWindows", "1.3"), ("HybridWorkerForLinux", "9.9")):
        with pytest.raises(HttpResponseError) as info:
            hybrid.machine_extensions.begin_create_or_update(rg, "val-arc", "HybridWorkerExtension",
                                                             _ext(emu, ext_type, version)).result()
        assert "HCRP400" in str(info.value) and "ExtensionNotFound" in str(info.value), ext_type
        hybrid.machine_extensions.begin_delete(rg, "val-arc", "HybridWorkerExtension").result()
    done = hybrid.machine_extensions.begin_create_or_update(rg, "val-arc", "HybridWorkerExtension", _ext(emu)).result()
    assert done.properties.provisioning_state == "Succeeded"
    view = hybrid.machine_extensions.get(rg, "val-arc", "HybridWorkerExtension").properties.instance_view
    assert view.name == "HybridWorkerExtension" and view.type == "HybridWorkerForLinux" and view.type_handler_version == "1.1.23"
    assert view.status.code == "ProvisioningState/succeeded" and view.status.level == "Info"
    path = f"{_rg_path(emu)}/providers/Microsoft.HybridCompute/machines/val-arc/extensions/HybridWorkerExtension"
    status, _, body = emu.arm("PUT", path, _ext(emu, "HybridWorkerForWindows"), api_version=HYBRID)
    assert status == 409 and body["error"]["code"] == "PropertyChangeNotAllowed"


# ---- VM updates are long-running operations ---------------------------------------------------------------------
def test_vm_identity_patch_is_a_long_running_operation(emu, compute):
    rg = emu["resource_group"]
    compute.virtual_machines.begin_create_or_update(rg, "lro-vm", {"location": emu["location"]}).result()
    emu.admin("POST", "settings", {"lroSeconds": 1.0})
    path = f"{_rg_path(emu)}/providers/Microsoft.Compute/virtualMachines/lro-vm"
    status, headers, body = emu.arm("PATCH", path, {"identity": {"type": "SystemAssigned"}}, api_version=COMPUTE)
    assert status == 200 and body["properties"]["provisioningState"] == "Updating"
    assert headers["Azure-AsyncOperation"] and body["identity"]["principalId"]
    status, _, op = emu.call("GET", headers["Azure-AsyncOperation"], headers={"Authorization": f"Bearer {emu.token()}"})
    assert status == 200 and op["status"] == "InProgress"
    status, final = _wait_terminal(emu, path, COMPUTE)
    assert final["properties"]["provisioningState"] == "Succeeded" and final["identity"]["type"] == "SystemAssigned"
    vm = compute.virtual_machines.begin_update(rg, "lro-vm", {"tags": {"a": "b"}}).result()  # the SDK polls it through
    assert vm.provisioning_state == "Succeeded" and vm.tags == {"a": "b"}


# ---- vmResourceId -----------------------------------------------------------------------------------------------
def test_worker_vm_resource_id_is_returned_lower_cased(emu, automation):
    rg, aa = emu["resource_group"], emu["automation_account"]
    automation.hybrid_runbook_worker_group.create(rg, aa, "case", {})
    mixed = emu.vm_id("Case-VM")
    wid = "0d9a1d7e-3c4b-4f5a-9e8d-7c6b5a4f3e2d"
    created = automation.hybrid_runbook_workers.create(rg, aa, "case", wid, {"properties": {"vmResourceId": mixed}})
    assert created.properties.vm_resource_id == mixed.lower() and created.properties.worker_name == "Case-VM"
    listed = list(automation.hybrid_runbook_workers.list_by_hybrid_runbook_worker_group(rg, aa, "case"))
    assert [w.properties.vm_resource_id for w in listed] == [mixed.lower()]
