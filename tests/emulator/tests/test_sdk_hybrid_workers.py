"""azure-mgmt-automation 2.x against the emulator: every hybrid worker and group operation."""

import uuid

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.mgmt.automation import models as m


def _worker_params(vm_id):
    return m.HybridRunbookWorkerCreateParameters(properties=m.HybridRunbookWorkerCreateOrUpdateParameters(vm_resource_id=vm_id))


def test_group_operations(emu, automation):
    rg, aa = emu["resource_group"], emu["automation_account"]
    created = automation.hybrid_runbook_worker_group.create(rg, aa, "grp-a", m.HybridRunbookWorkerGroupCreateOrUpdateParameters())
    assert created.name == "grp-a" and created.properties.group_type == "User"
    again = automation.hybrid_runbook_worker_group.create(
        rg, aa, "GRP-A", {"properties": {"credential": {"name": "runas"}}})
    assert again.id == created.id and again.properties.credential.name == "runas"
    updated = automation.hybrid_runbook_worker_group.update(
        rg, aa, "grp-a", m.HybridRunbookWorkerGroupCreateOrUpdateParameters(
            properties=m.HybridRunbookWorkerGroupCreateOrUpdateProperties(credential=m.RunAsCredentialAssociationProperty(name="other"))))
    assert updated.properties.credential.name == "other"
    assert automation.hybrid_runbook_worker_group.get(rg, aa, "grp-a").properties.credential.name == "other"
    automation.hybrid_runbook_worker_group.create(rg, aa, "grp-b", {})
    names = [g.name for g in automation.hybrid_runbook_worker_group.list_by_automation_account(rg, aa)]
    assert names == ["grp-a", "grp-b"]
    filtered = automation.hybrid_runbook_worker_group.list_by_automation_account(rg, aa, filter="name eq 'grp-b'")
    assert [g.name for g in filtered] == ["grp-b"]
    automation.hybrid_runbook_worker_group.delete(rg, aa, "grp-b")
    with pytest.raises(ResourceNotFoundError):
        automation.hybrid_runbook_worker_group.get(rg, aa, "grp-b")
    with pytest.raises(ResourceNotFoundError):
        automation.hybrid_runbook_worker_group.update(rg, aa, "missing", {})


def test_worker_operations_and_move(emu, automation):
    rg, aa = emu["resource_group"], emu["automation_account"]
    for group in ("g1", "g2"):
        automation.hybrid_runbook_worker_group.create(rg, aa, group, {})
    vm = emu.vm_id("vm-move")
    wid = str(uuid.uuid4())
    created = automation.hybrid_runbook_workers.create(rg, aa, "g1", wid, _worker_params(vm))
    assert created.properties.vm_resource_id == vm.lower() and created.properties.worker_type == "HybridV2"
    assert created.properties.worker_name == "vm-move" and created.properties.registered_date_time
    assert automation.hybrid_runbook_workers.create(rg, aa, "g1", wid, _worker_params(vm.upper().replace("/SUBSCRIPTIONS", "/subscriptions"))).name == wid
    patched = automation.hybrid_runbook_workers.patch(rg, aa, "g1", wid)
    assert patched.name == wid
    patched = automation.hybrid_runbook_workers.patch(rg, aa, "g1", wid, _worker_params(vm))
    assert patched.properties.vm_resource_id == vm.lower()  # the service lower-cases it (azure-rest-api-specs#43706)
    assert automation.hybrid_runbook_workers.get(rg, aa, "G1", wid.upper()).name == wid
    listed = list(automation.hybrid_runbook_workers.list_by_hybrid_runbook_worker_group(rg, aa, "g1"))
    assert [w.name for w in listed] == [wid]
    by_vm = automation.hybrid_runbook_workers.list_by_hybrid_runbook_worker_group(
        rg, aa, "g1", filter=f"properties/vmResourceId eq '{vm.lower()}'")
    assert [w.name for w in by_vm] == [wid]
    automation.hybrid_runbook_workers.move(rg, aa, "g1", wid, m.HybridRunbookWorkerMoveParameters(hybrid_runbook_worker_group_name="g2"))
    with pytest.raises(ResourceNotFoundError):
        automation.hybrid_runbook_workers.get(rg, aa, "g1", wid)
    moved = automation.hybrid_runbook_workers.get(rg, aa, "g2", wid)
    assert moved.id.endswith(f"/hybridRunbookWorkerGroups/g2/hybridRunbookWorkers/{wid}")
    with pytest.raises(ResourceNotFoundError):
        automation.hybrid_runbook_workers.move(rg, aa, "g2", wid, {"hybridRunbookWorkerGroupName": "nope"})
    automation.hybrid_runbook_workers.delete(rg, aa, "g2", wid)
    with pytest.raises(ResourceNotFoundError):
        automation.hybrid_runbook_workers.get(rg, aa, "g2", wid)
    automation.hybrid_runbook_workers.delete(rg, aa, "g2", wid)  # 204: already gone


def test_paging_with_page_size_one(emu, automation):
    rg, aa = emu["resource_group"], emu["automation_account"]
    emu.admin("POST", "settings", {"pageSize": 1})
    automation.hybrid_runbook_worker_group.create(rg, aa, "paged", {})
    for index in range(3):
        automation.hybrid_runbook_workers.create(rg, aa, "paged", str(uuid.UUID(int=index + 1)), _worker_params(emu.vm_id(f"p{index}")))
        automation.hybrid_runbook_worker_group.create(rg, aa, f"extra{index}", {})
    emu.admin("DELETE", "requests")
    workers = [w.name for w in automation.hybrid_runbook_workers.list_by_hybrid_runbook_worker_group(rg, aa, "paged")]
    assert workers == [str(uuid.UUID(int=i + 1)) for i in range(3)]
    groups = [g.name for g in automation.hybrid_runbook_worker_group.list_by_automation_account(rg, aa)]
    assert groups == ["extra0", "extra1", "extra2", "paged"]
    lists = [r for r in emu.admin("GET", "requests") if r["method"] == "GET" and r["area"] == "arm"]
    assert len(lists) == 3 + 4
    assert all(len(r["response_body"]["value"]) == 1 for r in lists)
    assert sum("$skiptoken" in r["query"] for r in lists) == 2 + 3


def test_duplicate_vm_refused(emu, automation):
    rg, aa = emu["resource_group"], emu["automation_account"]
    automation.hybrid_runbook_worker_group.create(rg, aa, "dup1", {})
    automation.hybrid_runbook_worker_group.create(rg, aa, "dup2", {})
    vm = emu.vm_id("vm-dup")
    first = str(uuid.uuid4())
    automation.hybrid_runbook_workers.create(rg, aa, "dup1", first, _worker_params(vm))
    with pytest.raises(HttpResponseError) as info:
        automation.hybrid_runbook_workers.create(rg, aa, "dup2", str(uuid.uuid4()), _worker_params(vm.lower()))
    assert info.value.status_code == 400
    assert info.value.error.code == "BadRequest"
    assert (f"An active hybrid runbook worker {first} already exists in hybrid worker group dup1 with same "
            "AzureResourceId") in info.value.message


def test_group_with_workers_cannot_be_deleted(emu, automation):
    rg, aa = emu["resource_group"], emu["automation_account"]
    automation.hybrid_runbook_worker_group.create(rg, aa, "busy", {})
    wid = str(uuid.uuid4())
    automation.hybrid_runbook_workers.create(rg, aa, "busy", wid, _worker_params(emu.vm_id("vm-busy")))
    with pytest.raises(ResourceExistsError) as info:
        automation.hybrid_runbook_worker_group.delete(rg, aa, "busy")
    assert info.value.status_code == 409 and "delete the worker" in info.value.message
    automation.hybrid_runbook_workers.delete(rg, aa, "busy", wid)
    automation.hybrid_runbook_worker_group.delete(rg, aa, "busy")


def test_system_group_is_read_only(emu, automation):
    rg, aa = emu["resource_group"], emu["automation_account"]
    emu.admin("POST", "system-group", {"name": "sys-upd"})
    group = automation.hybrid_runbook_worker_group.get(rg, aa, "sys-upd")
    assert group.properties.group_type == "System"
    for call in (lambda: automation.hybrid_runbook_worker_group.create(rg, aa, "sys-upd", {}),
                 lambda: automation.hybrid_runbook_worker_group.update(rg, aa, "sys-upd", {}),
                 lambda: automation.hybrid_runbook_worker_group.delete(rg, aa, "sys-upd"),
                 lambda: automation.hybrid_runbook_workers.create(rg, aa, "sys-upd", str(uuid.uuid4()),
                                                                 _worker_params(emu.vm_id("vm-sys")))):
        with pytest.raises(HttpResponseError) as info:
            call()
        assert info.value.status_code == 400 and "System" in info.value.message


def test_bad_vm_id_and_missing_parent(emu, automation):
    rg, aa = emu["resource_group"], emu["automation_account"]
    automation.hybrid_runbook_worker_group.create(rg, aa, "val", {})
    with pytest.raises(HttpResponseError) as info:
        automation.hybrid_runbook_workers.create(rg, aa, "val", str(uuid.uuid4()), _worker_params("not-an-id"))
    assert info.value.status_code == 400
    with pytest.raises(ResourceNotFoundError) as info:
        automation.hybrid_runbook_worker_group.get(rg, "no-such-account", "val")
    assert info.value.error.code == "ParentResourceNotFound"


def test_account_url_keys_and_registration(emu, automation):
    rg, aa = emu["resource_group"], emu["automation_account"]
    account = automation.automation_account.get(rg, aa)
    assert account.automation_hybrid_service_url == emu["hybrid_service_url"]
    keys = automation.keys.list_by_automation_account(rg, aa)["keys"]
    assert [k.key_name for k in keys] == ["Primary", "Secondary"] and all(k.value for k in keys)
    info = automation.agent_registration_information.get(rg, aa)
    assert info["keys"]["primary"] == keys[0].value
    new = automation.automation_account.create_or_update(rg, "second", {"location": "westeurope", "properties": {"sku": {"name": "Basic"}}})
    assert new.automation_hybrid_service_url != account.automation_hybrid_service_url
    assert {a.name for a in automation.automation_account.list_by_resource_group(rg)} == {aa, "second"}


def test_concurrent_puts_are_consistent(emu):
    """16 threads race to register the same 8 VMs under fresh ids: exactly one record per VM survives."""
    import threading
    from collections import Counter
    token = emu.token()
    emu.arm("PUT", f"{emu.account_path}/hybridRunbookWorkerGroups/race", {}, token=token)
    statuses = Counter()
    lock = threading.Lock()

    def register(index):
        vm = emu.vm_id(f"race{index % 8}")
        status, _, _ = emu.arm("PUT", f"{emu.account_path}/hybridRunbookWorkerGroups/race/hybridRunbookWorkers/{uuid.uuid4()}",
                               {"properties": {"vmResourceId": vm}}, token=token)
        with lock:
            statuses[status] += 1

    threads = [threading.Thread(target=register, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == Counter({201: 8, 400: 8})
    _, _, body = emu.arm("GET", f"{emu.account_path}/hybridRunbookWorkerGroups/race/hybridRunbookWorkers", token=token)
    assert sorted(w["properties"]["workerName"] for w in body["value"]) == [f"race{i}" for i in range(8)]
