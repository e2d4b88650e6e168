"""Compute / HybridCompute SDK extension LROs, the agent channel and the test hooks around them."""

import time

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.hybridcompute import HybridComputeManagementClient

PUBLISHER = "Microsoft.Azure.Automation.HybridWorker"


def _ext(emu, os_type="Linux", url=None):
    return {"location": emu["location"], "properties": {
        "publisher": PUBLISHER, "type": f"HybridWorkerFor{os_type}", "typeHandlerVersion": "1.1",
        "autoUpgradeMinorVersion": True, "enableAutomaticUpgrade": True,
        "settings": {"AutomationAccountURL": url or emu["hybrid_service_url"]},
        "protectedSettings": {"Proxy_URL": "http://user:pw@proxy"}}}


@pytest.fixture
def compute(emu):
    return emu.client(ComputeManagementClient)


@pytest.fixture
def hybrid(emu):
    return emu.client(HybridComputeManagementClient)


def test_vm_put_patch_identity_and_os_type(emu, compute):
    rg = emu["resource_group"]
    vm = compute.virtual_machines.begin_create_or_update(rg, "win1", {
        "location": emu["location"], "properties": {"osProfile": {"computerName": "win1", "windowsConfiguration": {}}}}).result()
    assert vm.storage_profile.os_disk.os_type == "Windows" and vm.identity is None
    vm = compute.virtual_machines.begin_update(rg, "win1", {"identity": {"type": "SystemAssigned"}}).result()
    assert vm.identity.type == "SystemAssigned" and vm.identity.principal_id and vm.identity.tenant_id == emu["tenant_id"]
    got = compute.virtual_machines.get(rg, "win1", expand="instanceView")
    assert got.os_profile.computer_name == "win1" and got.instance_view.statuses
    assert "win1" in [v.name for v in compute.virtual_machines.list(rg)]


def test_vm_extension_lro_and_simulated_heartbeat(emu, compute, automation):
    rg, aa = emu["resource_group"], emu["automation_account"]
    disk = {"osType": "Linux", "createOption": "FromImage"}  # createOption is required (Compute 2024-07-01 schema)
    compute.virtual_machines.begin_create_or_update(rg, "vm1", {"location": emu["location"], "identity": {"type": "SystemAssigned"},
                                                                "properties": {"storageProfile": {"osDisk": disk}}}).result()
    automation.hybrid_runbook_worker_group.create(rg, aa, "vmg", {})
    wid = "6f1d3c55-5b8e-4f1e-9a4e-2a8d4c1c0a01"
    automation.hybrid_runbook_workers.create(rg, aa, "vmg", wid, {"properties": {"vmResourceId": emu.vm_id("vm1")}})
    assert automation.hybrid_runbook_workers.get(rg, aa, "vmg", wid).properties.last_seen_date_time is None
    emu.admin("DELETE", "requests")
    ext = compute.virtual_machine_extensions.begin_create_or_update(rg, "vm1", "HybridWorkerExtension", _ext(emu)).result()
    assert ext.provisioning_state == "Succeeded" and ext.protected_settings is None
    log = [r for r in emu.admin("GET", "requests") if r["area"] == "arm"]
    assert log[0]["status"] == 201 and log[0]["request_body"]["properties"]["protectedSettings"] == "***"
    assert any("/operations/" in r["path"] and r["response_body"]["status"] == "InProgress" for r in log)
    worker = automation.hybrid_runbook_workers.get(rg, aa, "vmg", wid)
    assert worker.properties.last_seen_date_time is not None and worker.properties.ip.startswith("10.")
    compute.virtual_machine_extensions.begin_delete(rg, "vm1", "HybridWorkerExtension").result()
    with pytest.raises(HttpResponseError):
        compute.virtual_machine_extensions.get(rg, "vm1", "HybridWorkerExtension")


def test_extension_put_replaces_protected_settings_and_tags_patch_keeps_them(emu, compute):
    rg = emu["resource_group"]
    disk = {"osType": "Linux", "createOption": "FromImage"}
    compute.virtual_machines.begin_create_or_update(rg, "ps1", {"location": emu["location"], "identity": {"type": "SystemAssigned"},
                                                                "properties": {"storageProfile": {"osDisk": disk}}}).result()
    mid = emu.vm_id("ps1")

    def machine_side():
        _, _, body = emu.call("GET", f"{emu['agent_url']}/extensions?resourceId={mid}")
        return body["value"][0]["protectedSettings"]

    body = dict(_ext(emu), tags={"owner": "ops", "other": "x"})
    compute.virtual_machine_extensions.begin_create_or_update(rg, "ps1", "HybridWorkerExtension", body).result()
    compute.virtual_machine_extensions.begin_update(rg, "ps1", "HybridWorkerExtension", {"tags": {"owner": "ops"}}).result()
    ext = compute.virtual_machine_extensions.get(rg, "ps1", "HybridWorkerExtension")
    assert ext.tags == {"owner": "ops"} and machine_side() == {"Proxy_URL": "http://user:pw@proxy"}  # PATCH: tags only
    bare = _ext(emu)
    del bare["properties"]["protectedSettings"]
    compute.virtual_machine_extensions.begin_create_or_update(rg, "ps1", "HybridWorkerExtension", bare).result()
    ext = compute.virtual_machine_extensions.get(rg, "ps1", "HybridWorkerExtension")
    assert not ext.tags and machine_side() == {}  # PUT: the resource is replaced, password and tags gone


def test_extension_fails_without_identity_and_by_hook(emu, compute):
    rg = emu["resource_group"]
    compute.virtual_machines.begin_create_or_update(rg, "noid", {"location": emu["location"]}).result()
    with pytest.raises(HttpResponseError) as info:
        compute.virtual_machine_extensions.begin_create_or_update(rg, "noid", "HybridWorkerExtension", _ext(emu)).result()
    assert "system-assigned managed identity" in str(info.value)
    assert compute.virtual_machine_extensions.get(rg, "noid", "HybridWorkerExtension").provisioning_state == "Failed"
    compute.virtual_machines.begin_update(rg, "noid", {"identity": {"type": "SystemAssigned"}}).result()
    emu.admin("POST", "fail-next-extension", {"resourceId": emu.vm_id("noid"), "message": "boom from the hook"})
    with pytest.raises(HttpResponseError) as info:
        compute.virtual_machine_extensions.begin_create_or_update(rg, "noid", "HybridWorkerExtension", _ext(emu)).result()
    assert "boom from the hook" in str(info.value)
    ext = compute.virtual_machine_extensions.begin_create_or_update(rg, "noid", "HybridWorkerExtension", _ext(emu)).result()
    assert ext.provisioning_state == "Succeeded"


def test_arc_machine_extension_completed_by_agent(emu, hybrid):
    rg = emu["resource_group"]
    machine = hybrid.machines.create_or_update(rg, "arc1", {"location": emu["location"], "identity": {"type": "SystemAssigned"},
                                                            "properties": {"osType": "linux"}})
    assert machine.identity.principal_id and machine.os_type == "linux"
    mid = emu.vm_id("arc1", kind="machine")
    emu.admin("POST", "settings", {"lroSeconds": 0.3})
    status, _, body = emu.call("GET", f"{emu['agent_url']}/extensions?resourceId={mid}")  # agent becomes active
    assert status == 200 and body == {"value": []}
    poller = hybrid.machine_extensions.begin_create_or_update(rg, "arc1", "HybridWorkerExtension", _ext(emu))
    time.sleep(1.2)
    assert not poller.done()  # the agent is active: the timer does not complete it
    status, _, body = emu.call("GET", f"{emu['agent_url']}/extensions?resourceId={mid}")
    pending = body["value"][0]
    assert pending["pendingOperation"] == "Create" and pending["protectedSettings"] == {"Proxy_URL": "http://user:pw@proxy"}
    assert pending["settings"]["AutomationAccountURL"] == emu["hybrid_service_url"]
    status, _, _ = emu.call("POST", f"{emu['agent_url']}/extensions/status",
                            {"resourceId": mid, "name": "HybridWorkerExtension", "status": "Succeeded", "message": "installed"})
    assert status == 200
    assert poller.result().properties.provisioning_state == "Succeeded"
    assert [e.name for e in hybrid.machine_extensions.list(rg, "arc1")] == ["HybridWorkerExtension"]
    deleting = hybrid.machine_extensions.begin_delete(rg, "arc1", "HybridWorkerExtension")
    status, _, body = emu.call("GET", f"{emu['agent_url']}/extensions?resourceId={mid}")
    assert body["value"][0]["pendingOperation"] == "Delete"
    emu.call("POST", f"{emu['agent_url']}/extensions/status",
             {"resourceId": mid, "name": "HybridWorkerExtension", "status": "Succeeded", "message": "removed"})
    deleting.result()
    assert list(hybrid.machine_extensions.list(rg, "arc1")) == []


def test_arc_extension_failed_by_agent_and_machine_crud(emu, hybrid):
    rg = emu["resource_group"]
    status, _, machine = emu.call("POST", f"{emu['agent_url']}/machines/connect",
                                  {"resourceId": emu.vm_id("arc2", kind="machine"), "osType": "windows", "hostname": "arc2.lab"})
    assert status == 200 and machine["identity"]["type"] == "SystemAssigned"
    poller = hybrid.machine_extensions.begin_create_or_update(rg, "arc2", "HybridWorkerExtension", _ext(emu, "Windows"))
    emu.call("POST", f"{emu['agent_url']}/extensions/status", {"resourceId": emu.vm_id("arc2", kind="machine"),
                                                               "name": "HybridWorkerExtension", "status": "Failed",
                                                               "message": "handler said no"})
    with pytest.raises(HttpResponseError) as info:
        poller.result()
    assert "handler said no" in str(info.value)
    updated = hybrid.machines.update(rg, "arc2", {"tags": {"a": "b"}})
    assert updated.tags == {"a": "b"} and hybrid.machines.get(rg, "arc2").os_type == "windows"
    hybrid.machines.begin_delete(rg, "arc2").result()
    plain = hybrid.machines.create_or_update(rg, "arc3", {"location": emu["location"]})
    assert plain.identity.type == "SystemAssigned" and plain.identity.principal_id
    assert hybrid.machines.update(rg, "arc3", {"identity": {"type": "None"}}).identity.principal_id is None
    assert "arc2" not in [m.name for m in hybrid.machines.list_by_resource_group(rg)]


def test_bulk_vms_hook_is_cheap(emu, compute):
    started = time.perf_counter()
    ids = emu.admin("POST", "vms", {"count": 300, "prefix": "bulk", "osType": "Windows"})["ids"]
    assert len(ids) == 300 and time.perf_counter() - started < 5
    vm = compute.virtual_machines.get(emu["resource_group"], "bulk7")
    assert vm.storage_profile.os_disk.os_type == "Windows" and vm.identity.type == "SystemAssigned"


def test_agent_channel_errors_and_no_vm_simulation(emu, compute, automation):
    rg, aa = emu["resource_group"], emu["automation_account"]
    status, _, body = emu.call("GET", f"{emu['agent_url']}/extensions?resourceId={emu.vm_id('nope', 'machine')}")
    assert status == 404
    emu.admin("POST", "vms", {"count": 1, "prefix": "quiet"})
    emu.admin("POST", "settings", {"simulateVmWorkers": False})
    automation.hybrid_runbook_worker_group.create(rg, aa, "quiet", {})
    wid = "0b7c1a8e-44a4-4d8e-9c3f-6f7d9a1e2b3c"
    automation.hybrid_runbook_workers.create(rg, aa, "quiet", wid, {"properties": {"vmResourceId": emu.vm_id("quiet0")}})
    compute.virtual_machine_extensions.begin_create_or_update(rg, "quiet0", "HybridWorkerExtension", _ext(emu)).result()
    assert automation.hybrid_runbook_workers.get(rg, aa, "quiet", wid).properties.last_seen_date_time is None
    status, _, body = emu.call("POST", f"{emu['agent_url']}/extensions/status",
                               {"resourceId": emu.vm_id("quiet0"), "name": "HybridWorkerExtension", "status": "Succeeded"})
    assert status == 409 and body["error"]["code"] == "Conflict"
    status, _, body = emu.call("POST", f"{emu['agent_url']}/extensions/status",
                               {"resourceId": emu.vm_id("quiet0"), "name": "Other", "status": "Succeeded"})
    assert status == 404
    emu.admin("POST", "settings", {"simulateVmWorkers": True})
