# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""_hybrid_worker: the ARM clients of the Automation record and of the machine with its extension, over a scripted
transport (paths, bodies, views, error translation), and ArmClient.post_once, the non-idempotent POST they move with."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._arm import ArmClient, RetryPolicy, TransportError
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._errors import (
    ArmError, ConflictError, StateError)
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._hybrid_worker import (
    AutomationService, MachineService, group_view, worker_view)
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._ids import parse_machine_id

from hrw_fakes import FakeClock, ScriptedTransport, arc_id, resp, vm_id

BASE = "/subscriptions/sub/resourceGroups/rg%20one/providers/Microsoft.Automation/automationAccounts/aa"


def arm_for(responses, max_retries=3):
    clock = FakeClock()
    warnings = []
    arm = ArmClient(ScriptedTransport(responses), "sub", warn=warnings.append, clock=clock, sleep=clock.sleep,
                    retry=RetryPolicy(max_retries=max_retries, base=1.0, cap=8.0, rand=lambda a, b: b))
    return arm, warnings


def automation(responses, max_retries=3):
    arm, warnings = arm_for(responses, max_retries)
    return AutomationService(arm, "sub", "rg one", "aa"), arm, warnings


def lost():
    return TransportError("the answer was cut off or lost", code="ResponseLost", sent=True)


def test_views():
    assert group_view({"name": "g", "id": "/g", "properties": {"credential": {"name": "runas"}}}) == {
        "name": "g", "id": "/g", "group_type": "User", "credential_name": "runas"}
    props = {"workerName": "host1", "workerType": "HybridV2", "vmResourceId": "/vm", "ip": "10.0.0.1", "registeredDateTime": "r",
             "lastSeenDateTime": "l"}
    record = {"name": "w1", "id": "/w1", "properties": props}
    assert worker_view("g", record) == {"group": "g", "worker_id": "w1", "id": "/w1", "worker_name": "host1",
                                        "worker_type": "HybridV2", "vm_resource_id": "/vm", "ip": "10.0.0.1",
                                        "registered": "r", "last_seen": "l"}
    assert worker_view("g", {"name": "v1"})["vm_resource_id"] == ""


def test_worker_writes_go_to_the_quoted_paths_with_their_bodies():
    service, arm, _warnings = automation([resp(201, {"name": "w1"}), resp(204)])
    assert service.create_worker("g/1", "w1", "/vm") == {"name": "w1"}
    service.delete_worker("g/1", "w1")
    (put, put_url, _put_params, put_body), (delete, delete_url, _delete_params, _delete_body) = arm.transport.calls
    assert (put, delete) == ("PUT", "DELETE")
    assert put_url == delete_url == BASE + "/hybridRunbookWorkerGroups/g%2F1/hybridRunbookWorkers/w1"
    assert put_body == {"properties": {"vmResourceId": "/vm"}}


def test_group_is_created_with_its_credential_only_when_there_is_one():
    service, arm, _warnings = automation([resp(201, {}), resp(200, {})])
    service.create_group("g")
    service.create_group("g", "runas")
    assert [c[3] for c in arm.transport.calls] == [{}, {"properties": {"credential": {"name": "runas"}}}]


def test_unknown_account_names_the_options():
    service, _arm, _warnings = automation([resp(404, {"error": {"code": "ResourceNotFound", "message": "not found"}})])
    with pytest.raises(ArmError) as info:
        service.account()
    assert "options automation_account, resource_group, subscription_id" in info.value.msg


def test_account_is_read_once_and_its_hybrid_service_url_is_required():
    service, arm, _warnings = automation([resp(200, {"properties": {}})])
    with pytest.raises(StateError) as info:
        service.hybrid_service_url()
    assert "automationHybridServiceUrl" in info.value.msg
    with pytest.raises(StateError):
        service.hybrid_service_url()
    assert len(arm.transport.calls) == 1


def test_workers_of_a_missing_group_are_none():
    service, _arm, _warnings = automation([resp(404, {"error": {"code": "NotFound", "message": "no group"}})])
    assert service.list_workers("gone") == []


class TestMove:
    def test_answered_move_is_sent_once(self):
        service, arm, _warnings = automation([resp(200, {})])
        service.move_worker("g1", "w1", "g2")
        assert [(c[0], c[1], c[3]) for c in arm.transport.calls] == [
            ("POST", BASE + "/hybridRunbookWorkerGroups/g1/hybridRunbookWorkers/w1/move", {"hybridRunbookWorkerGroupName": "g2"})]

    def test_lost_answer_of_a_move_that_happened_is_not_sent_again(self):
        service, arm, warnings = automation([lost(), resp(200, {"name": "w1"})])
        service.move_worker("g1", "w1", "g2")
        assert [c[0] for c in arm.transport.calls] == ["POST", "GET"]
        assert arm.transport.calls[1][1].endswith("/hybridRunbookWorkerGroups/g2/hybridRunbookWorkers/w1")
        assert warnings == []

    def test_move_that_did_not_happen_is_sent_again_after_the_re_read(self):
        service, arm, warnings = automation([resp(503, {}), resp(404, {}), resp(200, {})])
        service.move_worker("g1", "w1", "g2")
        assert [c[0] for c in arm.transport.calls] == ["POST", "GET", "POST"]
        assert warnings and warnings[0].startswith("Move of hybrid worker 'w1' in group 'g1'")
        assert "did not happen; trying again (attempt 1 of 3)" in warnings[0]

    def test_conflict_and_client_errors_are_not_retried(self):
        service, arm, _warnings = automation([resp(409, {"error": {"code": "Conflict", "message": "busy"}})])
        with pytest.raises(ConflictError):
            service.move_worker("g1", "w1", "g2")
        service, arm, _warnings = automation([resp(400, {"error": {"code": "BadRequest", "message": "no"}})])
        with pytest.raises(ArmError) as info:
            service.move_worker("g1", "w1", "g2")
        assert info.value.status == 400 and len(arm.transport.calls) == 1

    def test_gives_up_after_the_retry_budget(self):
        service, arm, _warnings = automation([resp(503, {}), resp(404, {})] * 2 + [resp(503, {})], max_retries=2)
        with pytest.raises(ArmError) as info:
            service.move_worker("g1", "w1", "g2")
        assert info.value.status == 503
        assert [c[0] for c in arm.transport.calls] == ["POST", "GET", "POST", "GET", "POST"]


def test_post_once_reports_whether_its_own_post_answered():
    arm, _warnings = arm_for([lost()])
    assert arm.post_once("automation", "/x/act", "act on", "x", lambda: True, "Acting on x") is False
    arm, _warnings = arm_for([resp(202)])
    assert arm.post_once("automation", "/x/act", "act on", "x", lambda: False, "Acting on x") is True


class TestMachine:
    def test_os_type_and_identity_are_read_from_vm_and_arc_shapes(self):
        vm = {"properties": {"storageProfile": {"osDisk": {"osType": "Linux"}}}, "identity": {"type": "SystemAssigned, UserAssigned"}}
        arc = {"properties": {"osType": "windows"}, "identity": {"type": "None"}}
        assert MachineService.os_type(vm) == "linux" and MachineService.os_type(arc) == "windows"
        assert MachineService.os_type({"properties": {"osType": "plan9"}}) is None
        assert MachineService.has_system_identity(vm) and not MachineService.has_system_identity(arc)

    def test_provider_and_label_follow_the_machine_kind(self):
        vm, arc = parse_machine_id(vm_id("vm1")), parse_machine_id(arc_id("m1"))
        assert (MachineService.provider(vm), MachineService.provider(arc)) == ("compute", "hybridcompute")
        assert MachineService.label(vm).startswith("Azure VM") and MachineService.label(arc).startswith("Arc machine")

    def test_enabling_the_system_identity_keeps_user_assigned_identities(self):
        arm, _warnings = arm_for([resp(200, {"properties": {"provisioningState": "Succeeded"}})] * 3)
        machine_id = parse_machine_id(vm_id("vm1"))
        MachineService(arm).enable_system_identity(machine_id, {"identity": {"type": "UserAssigned",
                                                                             "userAssignedIdentities": {"/id/u1": {"principalId": "p"}}}})
        method, url, _params, body = arm.transport.calls[0]
        assert method == "PATCH" and url == vm_id("vm1")
        assert body == {"identity": {"type": "SystemAssigned, UserAssigned", "userAssignedIdentities": {"/id/u1": {}}}}

    def test_extension_path_and_missing_extension(self):
        arm, _warnings = arm_for([resp(404, {"error": {"code": "NotFound", "message": "none"}})])
        machine_id = parse_machine_id(arc_id("m1"))
        assert MachineService(arm).get_extension(machine_id) is None
        assert arm.transport.calls[0][1] == arc_id("m1") + "/extensions/HybridWorkerExtension"
