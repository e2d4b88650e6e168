# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""hrw_register decisions against in-memory services: create, reuse, move, check mode, absent, fleet, heartbeat."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import threading

import pytest

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._errors import (
    NotFoundError, OperationTimeout, OptionError, StateError)
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._extension import LEGACY_FINGERPRINT_TAG
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._ids import derive_worker_id, parse_machine_id
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._register import (
    Registrar, effective_concurrency, run_bounded, specs_from_params)

from hrw_fakes import FakeAutomation, FakeClock, FakeMachines, arc_id, iso, vm_id

WID = "11111111-1111-4111-8111-111111111111"


def params(**kwargs):
    base = dict(group="g1", vm_resource_id=vm_id("vm1"), worker_id=None, workers=None, state="present", move=False,
                install_extension=True, os_type=None, type_handler_version="1.1", auto_upgrade_minor_version=True,
                enable_automatic_upgrade=True, proxy_server=None, proxy_username=None, proxy_password=None, force=False,
                enable_system_identity=True, wait_for_heartbeat=False, heartbeat_timeout=60, heartbeat_max_age=90,
                update_protected_settings="on_create", recreate_group=False, concurrency=16, wait_timeout=600)
    base.update(kwargs)
    return base


@pytest.fixture
def world():
    automation, machines = FakeAutomation(), FakeMachines()
    automation.add_group("g1")
    automation.add_group("g2")
    for name in ("vm1", "vm2", "vm3"):
        machines.add(vm_id(name))
    machines.add(arc_id("srv1"), os_type="Windows", identity=False)
    return automation, machines


def run(world, check_mode=False, **kwargs):
    automation, machines = world
    p = params(**kwargs)
    clock = FakeClock()
    registrar = Registrar(automation, machines, p, check_mode=check_mode, sleep=clock.sleep, clock=clock)
    specs = specs_from_params(p)
    if p["workers"] is not None:
        return registrar.reconcile_all(specs, concurrency=4)
    return registrar.reconcile(specs[0], registrar.prepare(specs))


def writes(world):
    return world[0].writes + world[1].writes


def test_first_run_creates_record_with_derived_id_then_extension(world):
    result = run(world)
    assert result["changed"] and result["actions"] == ["create_record", "install_extension"]
    assert result["worker_id"] == derive_worker_id(parse_machine_id(vm_id("vm1")))
    assert result["extension"]["type"] == "HybridWorkerForLinux"
    assert [w[0] for w in writes(world)] == ["create_worker", "put_extension"]


def test_second_run_makes_no_write(world):
    run(world)
    before = len(writes(world))
    result = run(world)
    assert not result["changed"] and result["actions"] == [] and len(writes(world)) == before
    assert result["diff"]["before"] == result["diff"]["after"] or result["diff"]["before"]["record"] == result["diff"]["after"]["record"]


def test_check_mode_predicts_and_writes_nothing(world):
    predicted = run(world, check_mode=True)
    assert predicted["changed"] and not writes(world)
    real = run(world)
    assert predicted["actions"] == real["actions"]
    assert not run(world, check_mode=True)["changed"]


def test_existing_record_is_reused_whatever_its_id(world):
    world[0].add_worker("g1", WID, vm_id("VM1").upper().replace("/SUBSCRIPTIONS", "/subscriptions"))
    result = run(world)
    assert result["worker_id"] == WID and "create_record" not in result["actions"]


def test_requested_id_conflicting_with_existing_record_fails(world):
    world[0].add_worker("g1", WID, vm_id("vm1"))
    with pytest.raises(StateError, match="worker_id"):
        run(world, worker_id="22222222-2222-4222-8222-222222222222")


def test_requested_id_taken_by_another_machine_fails(world):
    world[0].add_worker("g1", WID, vm_id("vm2"))
    with pytest.raises(StateError, match="already belongs"):
        run(world, worker_id=WID)


def test_registered_elsewhere_needs_move(world):
    world[0].add_worker("g2", WID, vm_id("vm1"))
    with pytest.raises(StateError, match="move=true"):
        run(world)
    assert not writes(world)
    result = run(world, move=True)
    assert result["actions"][0] == "move_record" and result["worker_id"] == WID
    assert WID in world[0].workers["g1"] and WID not in world[0].workers["g2"]
    assert not run(world, move=True)["changed"]


def test_identity_is_enabled_for_arc_machine(world):
    result = run(world, vm_resource_id=arc_id("srv1"))
    assert result["actions"] == ["create_record", "enable_system_identity", "install_extension"]
    assert result["extension"]["type"] == "HybridWorkerForWindows"


def test_identity_missing_and_not_allowed_writes_nothing(world):
    with pytest.raises(StateError, match="enable_system_identity"):
        run(world, vm_resource_id=arc_id("srv1"), enable_system_identity=False)
    assert writes(world) == []


def test_missing_machine_fails_naming_the_option_and_writes_nothing(world):
    with pytest.raises(StateError, match="does not exist \\(option vm_resource_id\\); check the subscription"):
        run(world, vm_resource_id=vm_id("ghost"))
    assert writes(world) == []  # no worker record left pointing at a machine that is not there


def test_deleted_arc_machine_says_how_to_reconnect_the_agent(world):
    # The agent on the host still reports this id, but the resource was deleted in Azure.
    with pytest.raises(StateError, match="azcmagent disconnect --force-local-only"):
        run(world, vm_resource_id=arc_id("deleted"))
    assert writes(world) == []


def test_unknown_os_type_writes_nothing(world):
    world[1].add(arc_id("bare"), os_type=None)
    with pytest.raises(StateError, match="set os_type"):
        run(world, vm_resource_id=arc_id("bare"))
    assert writes(world) == []


def test_missing_group_fails_naming_the_option(world):
    with pytest.raises(StateError, match="option group"):
        run(world, group="nope")


def test_check_mode_with_missing_group_predicts_the_registration_and_warns(world):
    automation, machines = world
    warnings = []
    p = params(group="new-group", workers=[{"vm_resource_id": vm_id("vm1")}, {"vm_resource_id": vm_id("vm2")}])
    registrar = Registrar(automation, machines, p, check_mode=True, warn=warnings.append)
    results = registrar.reconcile_all(specs_from_params(p), concurrency=2)
    assert [r["actions"] for r in results] == [["create_record", "install_extension"]] * 2
    assert all(r["changed"] and not r.get("failed") for r in results)
    assert not writes(world)
    assert len(warnings) == 1 and "new-group" in warnings[0] and "check mode" in warnings[0]


PROXY = dict(proxy_server="p:1", proxy_username="u")


def sent(world, name="vm1", maker=vm_id):
    """The protected settings the machine got with the last extension write (what Azure never returns)."""
    return world[1].protected.get(maker(name).lower())


@pytest.mark.parametrize("os_type", ["Linux", "Windows"])
def test_proxy_password_on_create_and_always(world, os_type):
    world[1].add(vm_id("vm1"), os_type=os_type)
    first = run(world, proxy_password="one", **PROXY)
    assert first["actions"] == ["create_record", "install_extension"] and "one" in json.dumps(sent(world))
    assert first["diff"]["after"]["extension"]["proxy_password"] == "(set)"
    before = len(writes(world))
    # on_create (the default): a new password alone is not detected, nothing is written
    assert not run(world, proxy_password="two", **PROXY)["changed"] and len(writes(world)) == before
    assert "one" in json.dumps(sent(world))
    # always: sent on every run, reported as a change (also in check mode, which writes nothing)
    predicted = run(world, check_mode=True, proxy_password="two", update_protected_settings="always", **PROXY)
    assert predicted["actions"] == ["update_extension"] and len(writes(world)) == before
    for attempt in (1, 2):
        result = run(world, proxy_password="two", update_protected_settings="always", **PROXY)
        assert result["changed"] and result["actions"] == ["update_extension"] and "two" in json.dumps(sent(world))
        assert result["diff"]["after"]["extension"]["proxy_password"] == "(changed)", attempt
    assert run(world, proxy_password="three", force=True, **PROXY)["actions"] == ["update_extension"]
    assert "three" in json.dumps(sent(world))
    # always without a password: on Windows nothing is protected then, so no write; on Linux the proxy URL still is
    before = len(writes(world))
    assert run(world, update_protected_settings="always", **PROXY)["changed"] is (os_type == "Linux")
    assert len(writes(world)) == before + (os_type == "Linux")


@pytest.mark.parametrize("os_type", ["Linux", "Windows"])
def test_a_write_for_another_reason_keeps_the_password(world, os_type):
    world[1].add(vm_id("vm1"), os_type=os_type)
    run(world, proxy_password="keep-me", **PROXY)
    result = run(world, proxy_password="keep-me", type_handler_version="1.2", **PROXY)
    assert result["actions"] == ["update_extension"]
    assert "keep-me" in json.dumps(sent(world))  # the PUT replaced the extension and carried the protected settings
    assert result["diff"]["after"]["extension"]["proxy_password"] == "(changed)"


def test_proxy_server_change_is_diffed_on_linux_and_windows(world):
    world[1].add(arc_id("srv1"), os_type="Windows")
    for vm in (vm_id("vm1"), arc_id("srv1")):
        run(world, vm_resource_id=vm, proxy_password="pw-Secret-1", **PROXY)
        result = run(world, vm_resource_id=vm, diff=True, proxy_server="q:2", proxy_username="u", proxy_password="pw-Secret-1")
        assert result["actions"] == ["update_extension"]
        before, after = result["diff"]["before"]["extension"], result["diff"]["after"]["extension"]
        linux = "/virtualMachines/" in vm
        assert before["proxy_server"] == ("http://p:1" if linux else "p:1")
        assert after["proxy_server"] == ("http://q:2" if linux else "q:2") == result["extension"]["proxy_server"]
        assert before["proxy_password"] == "(unknown)" and after["proxy_password"] == "(changed)"
        assert after["provisioning_state"] == "Succeeded"
        assert "pw-Secret-1" not in json.dumps(result)
        unchanged = run(world, vm_resource_id=vm, proxy_server="q:2", proxy_username="u", proxy_password="pw-Secret-1")
        assert not unchanged["changed"] and unchanged["diff"]["before"] == unchanged["diff"]["after"]


def with_legacy_tag(world, name="vm1", maker=vm_id):
    """Leave the extension as earlier versions did: a salted SHA-256 of the protected settings in a tag."""
    ext = world[1].extensions[maker(name).lower()]
    ext["tags"] = dict(ext.get("tags") or {}, owner="ops", **{LEGACY_FINGERPRINT_TAG: "v1:00112233aabbccdd:" + "ab" * 32})


def test_legacy_fingerprint_tag_is_removed_by_a_tag_patch(world):
    run(world, proxy_password="pw", **PROXY)
    with_legacy_tag(world)
    before = len(writes(world))
    predicted = run(world, check_mode=True, proxy_password="pw", **PROXY)
    assert predicted["changed"] and predicted["actions"] == ["remove_fingerprint_tag"] and len(writes(world)) == before
    assert predicted["diff"]["before"]["extension"]["legacy_fingerprint_tag"] is True
    assert predicted["diff"]["after"]["extension"]["legacy_fingerprint_tag"] is False
    result = run(world, proxy_password="pw", **PROXY)
    assert result["actions"] == ["remove_fingerprint_tag"] and writes(world)[before:] == [("update_extension_tags", vm_id("vm1"))]
    tags = world[1].extensions[vm_id("vm1").lower()]["tags"]
    assert LEGACY_FINGERPRINT_TAG not in tags and tags["owner"] == "ops"
    assert "pw" in json.dumps(sent(world))  # the PATCH kept the protected settings
    assert not run(world, proxy_password="pw", **PROXY)["changed"]


def test_legacy_fingerprint_tag_goes_with_a_write_that_happens_anyway(world):
    run(world, proxy_password="pw", **PROXY)
    with_legacy_tag(world)
    result = run(world, proxy_password="pw", type_handler_version="1.2", **PROXY)
    assert result["actions"] == ["update_extension", "remove_fingerprint_tag"]
    assert [w[0] for w in writes(world)][-1] == "put_extension"
    assert LEGACY_FINGERPRINT_TAG not in world[1].extensions[vm_id("vm1").lower()]["tags"]


def test_linux_extension_of_an_earlier_version_is_rewritten_once(world):
    run(world, proxy_password="pw", **PROXY)
    ext = world[1].extensions[vm_id("vm1").lower()]
    ext["tags"] = {LEGACY_FINGERPRINT_TAG: "v1:00112233aabbccdd:" + "ab" * 32}  # no proxy tags: the old release wrote none
    result = run(world, proxy_password="pw", **PROXY)
    assert result["actions"] == ["update_extension", "remove_fingerprint_tag"] and "pw" in json.dumps(sent(world))
    assert world[1].extensions[vm_id("vm1").lower()]["tags"] == {"hrw-proxy-server": "http://p:1", "hrw-proxy-username": "u"}
    assert not run(world, proxy_password="pw", **PROXY)["changed"]


def test_fleet_removes_legacy_tags_and_honours_always(world):
    fleet = [{"vm_resource_id": vm_id(n)} for n in ("vm1", "vm2", "vm3")]
    run(world, vm_resource_id=None, workers=fleet, proxy_password="pw", **PROXY)
    with_legacy_tag(world, "vm2")
    results = run(world, vm_resource_id=None, workers=fleet, proxy_password="pw", **PROXY)
    assert [r["actions"] for r in results] == [[], ["remove_fingerprint_tag"], []]
    results = run(world, vm_resource_id=None, workers=fleet, proxy_password="new", update_protected_settings="always", **PROXY)
    assert [r["actions"] for r in results] == [["update_extension"]] * 3
    assert all("new" in json.dumps(sent(world, n)) for n in ("vm1", "vm2", "vm3"))


def seed_extension(world, vm, ext_type="HybridWorkerForWindows", publisher="Microsoft.Azure.Automation.HybridWorker", tags=None):
    """An extension named HybridWorkerExtension that Azure would refuse to turn into the wanted one with a PUT."""
    world[1].extensions[vm.lower()] = {"name": "HybridWorkerExtension", "tags": dict(tags or {}), "properties": {
        "publisher": publisher, "type": ext_type, "typeHandlerVersion": "1.1", "autoUpgradeMinorVersion": True,
        "enableAutomaticUpgrade": True, "settings": {"AutomationAccountURL": "https://acc.jrds.emu.azure-automation.net/x"},
        "provisioningState": "Succeeded"}}


@pytest.mark.parametrize("ext_type, publisher, changed", [
    ("HybridWorkerForWindows", "Microsoft.Azure.Automation.HybridWorker", "type"),  # the machine runs Linux now
    ("HybridWorkerForLinux", "Contoso.Tools", "publisher"),                         # another publisher's extension of that name
    ("CustomScript", "Microsoft.Azure.Extensions", "publisher"),
])
def test_extension_of_another_type_or_publisher_is_replaced(world, ext_type, publisher, changed):
    seed_extension(world, vm_id("vm1"), ext_type, publisher, tags={"owner": "ops"})
    predicted = run(world, check_mode=True, diff=True)
    assert predicted["actions"] == ["create_record", "replace_extension"] and not writes(world)
    before, after = predicted["diff"]["before"]["extension"], predicted["diff"]["after"]["extension"]
    assert (before["type"], before["publisher"]) == (ext_type, publisher)
    assert (after["type"], after["publisher"]) == ("HybridWorkerForLinux", "Microsoft.Azure.Automation.HybridWorker")
    assert before[changed] != after[changed]
    result = run(world, diff=True)
    assert result["actions"] == predicted["actions"] and result["diff"]["after"] == predicted["diff"]["after"]
    assert [w[0] for w in writes(world)] == ["create_worker", "delete_extension", "put_extension"]
    ext = world[1].extensions[vm_id("vm1").lower()]
    assert ext["properties"]["type"] == "HybridWorkerForLinux" and ext["tags"] == {"owner": "ops"}
    assert ext["properties"]["settings"]["AutomationAccountURL"].endswith("/automationAccounts/acc")
    assert result["extension"]["type"] == "HybridWorkerForLinux" and result["extension"]["provisioning_state"] == "Succeeded"
    count = len(writes(world))
    again = run(world)
    assert not again["changed"] and len(writes(world)) == count


def test_a_case_change_of_the_type_is_no_replacement(world):
    seed_extension(world, vm_id("vm1"), "hybridworkerforlinux", "microsoft.azure.automation.hybridworker")
    world[1].extensions[vm_id("vm1").lower()]["properties"]["settings"]["AutomationAccountURL"] = (
        "https://acc.jrds.emu.azure-automation.net/automationAccounts/acc")
    assert run(world)["actions"] == ["create_record"]


@pytest.mark.parametrize("os_type", ["Linux", "Windows"])
def test_a_replaced_extension_gets_the_password_as_a_new_one(world, os_type):
    world[1].add(vm_id("vm1"), os_type=os_type)
    other = "HybridWorkerForWindows" if os_type == "Linux" else "HybridWorkerForLinux"
    seed_extension(world, vm_id("vm1"), other, tags={LEGACY_FINGERPRINT_TAG: "v1:00112233aabbccdd:" + "ab" * 32})
    result = run(world, diff=True, proxy_password="pw-Secret-9", **PROXY)
    assert result["actions"] == ["create_record", "replace_extension", "remove_fingerprint_tag"]
    assert "pw-Secret-9" in json.dumps(sent(world)) and "pw-Secret-9" not in json.dumps(result)
    assert result["diff"]["after"]["extension"]["proxy_password"] == "(set)"
    assert LEGACY_FINGERPRINT_TAG not in world[1].extensions[vm_id("vm1").lower()]["tags"]


def test_fleet_replaces_only_the_extension_of_the_wrong_type(world):
    fleet = [{"vm_resource_id": vm_id(n)} for n in ("vm1", "vm2", "vm3")]
    run(world, vm_resource_id=None, workers=fleet)
    seed_extension(world, vm_id("vm2"))
    results = run(world, vm_resource_id=None, workers=fleet)
    assert [r["actions"] for r in results] == [[], ["replace_extension"], []]
    assert not any(r.get("failed") for r in results)


def test_record_only(world):
    result = run(world, install_extension=False)
    assert result["actions"] == ["create_record"] and result["extension"] is None and not world[1].writes


def test_absent_removes_extension_and_record_and_tolerates_gone(world):
    run(world)
    result = run(world, state="absent")
    assert result["actions"] == ["remove_extension", "remove_record"]
    assert not run(world, state="absent")["changed"]
    run(world)
    world[1].machines.clear()
    world[1].extensions.clear()
    assert run(world, state="absent")["actions"] == ["remove_record"]


def test_absent_leaves_a_worker_of_another_group_alone(world):
    world[0].add_worker("g2", WID, vm_id("vm1"))
    world[1].extensions[vm_id("vm1").lower()] = {"name": "HybridWorkerExtension", "properties": {}}
    result = run(world, state="absent")
    assert not result["changed"] and not writes(world)


def test_absent_with_missing_group_is_a_no_op(world):
    assert not run(world, group="gone", state="absent")["changed"]


def registrar(world, check_mode=False, **kwargs):
    """A Registrar whose warnings are kept, and its specs."""
    p = params(**kwargs)
    warnings = []
    clock = FakeClock()
    reg = Registrar(world[0], world[1], p, check_mode=check_mode, sleep=clock.sleep, clock=clock, warn=warnings.append)
    return reg, specs_from_params(p), warnings


@pytest.mark.parametrize("fleet", [False, True])
@pytest.mark.parametrize("check_mode", [False, True])
def test_absent_with_a_typo_in_the_group_leaves_a_worker_of_another_group_alone(world, fleet, check_mode):
    # Issue 8 section 6 (High): the extension of vm1, a worker of g2, was removed when the group named did not exist.
    world[0].add_worker("g2", WID, vm_id("vm1"))
    world[1].extensions[vm_id("vm1").lower()] = {"name": "HybridWorkerExtension", "properties": {}}
    world[1].extensions[vm_id("vm2").lower()] = {"name": "HybridWorkerExtension", "properties": {}}
    extra = {"workers": [{"vm_resource_id": vm_id("vm1")}, {"vm_resource_id": vm_id("vm2")}]} if fleet else {}
    reg, specs, warnings = registrar(world, check_mode=check_mode, group="g-typo", state="absent", **extra)
    if fleet:
        results = reg.reconcile_all(specs, concurrency=4)
    else:
        results = [reg.reconcile(specs[0], reg.prepare(specs))]
    assert all(not r["changed"] and r["actions"] == [] for r in results)
    assert not writes(world) and len(world[1].extensions) == 2 and WID in world[0].workers["g2"]
    assert len(warnings) == 1 and "'g-typo' of" in warnings[0] and "does not exist" in warnings[0]
    assert "groups: 'g1', 'g2'" in warnings[0] and "nothing was removed" in warnings[0]


def test_missing_group_for_present_names_the_groups_of_the_account(world):
    reg, specs, warnings = registrar(world, group="g-typo")
    with pytest.raises(StateError, match="'g-typo'.*does not exist.*groups: 'g1', 'g2'.*hrw_group"):
        reg.prepare(specs)
    assert not writes(world)


def delete_group_now(world, name):
    """Another run removing the group's last worker and then the emptied group, between our read and our write."""
    def hook():
        world[0].workers[name].clear()
        world[0].delete_group(name)
    return hook


def test_group_deleted_between_read_and_register_is_recreated_once_with_its_credential(world):
    world[0].add_group("g1", credential="runner")
    world[0].before["create_worker"] = delete_group_now(world, "g1")
    reg, specs, warnings = registrar(world, recreate_group=True)
    result = reg.reconcile(specs[0], reg.prepare(specs))
    assert result["actions"] == ["create_record", "install_extension"]
    assert [w for w in world[0].writes if w[0] == "create_group"] == [("create_group", "g1", "runner")]
    assert world[0].groups["g1"]["credential"] == "runner" and len(world[0].workers["g1"]) == 1
    assert len(warnings) == 1 and "Re-created" in warnings[0] and "recreate_group" in warnings[0]


def test_group_deleted_during_a_fleet_is_recreated_once(world):
    world[0].before["create_worker"] = delete_group_now(world, "g1")
    machines = [{"vm_resource_id": vm_id(n)} for n in ("vm1", "vm2", "vm3")]
    reg, specs, warnings = registrar(world, recreate_group=True, workers=machines)
    results = reg.reconcile_all(specs, concurrency=3)
    assert [r.get("failed") for r in results] == [None] * 3
    assert len([w for w in world[0].writes if w[0] == "create_group"]) == 1 and len(world[0].workers["g1"]) == 3


def test_group_deleted_twice_by_two_removals_is_recreated_twice_then_a_third_loss_fails(world):
    world[0].add_group("g1")
    deletions = [delete_group_now(world, "g1") for _attempt in range(2)]

    def delete_then_arm_next():  # removal A, then removal B right after our re-creation
        deletions.pop(0)()
        if deletions:
            world[0].before["create_worker"] = delete_then_arm_next
    world[0].before["create_worker"] = delete_then_arm_next
    reg, specs, warnings = registrar(world, recreate_group=True)
    result = reg.reconcile(specs[0], reg.prepare(specs))
    assert result["changed"] and len([w for w in world[0].writes if w[0] == "create_group"]) == 2 and len(warnings) == 2
    deletions.extend(delete_group_now(world, "g1") for _attempt in range(3))
    world[0].workers["g1"].clear()
    world[0].before["create_worker"] = delete_then_arm_next
    with pytest.raises(NotFoundError):
        reg.reconcile(specs[0], reg.prepare(specs))


def test_group_deleted_before_the_task_is_recreated_with_the_option(world):
    world[0].delete_group("g1")
    reg, specs, warnings = registrar(world, recreate_group=True)
    result = reg.reconcile(specs[0], reg.prepare(specs))
    assert result["changed"] and ("create_group", "g1", None) in world[0].writes and len(world[0].workers["g1"]) == 1
    assert "Re-created" in warnings[0]


def test_group_deleted_during_the_task_fails_clearly_without_the_option(world):
    world[0].before["create_worker"] = delete_group_now(world, "g1")
    reg, specs, warnings = registrar(world)
    index = reg.prepare(specs)
    with pytest.raises(StateError, match="group was deleted while this task ran.*recreate_group=true"):
        reg.reconcile(specs[0], index)
    assert "g1" not in world[0].groups and not [w for w in world[0].writes if w[0] == "create_group"]


def test_move_into_a_group_deleted_meanwhile_recreates_it(world):
    world[0].add_worker("g2", WID, vm_id("vm1"))
    world[0].before["move_worker"] = delete_group_now(world, "g1")
    reg, specs, warnings = registrar(world, recreate_group=True, move=True)
    result = reg.reconcile(specs[0], reg.prepare(specs))
    assert "move_record" in result["actions"] and WID in world[0].workers["g1"] and not world[0].workers["g2"]


def test_a_missing_record_is_not_mistaken_for_a_missing_group(world):
    # The 404 of a move whose source record is gone must not re-create anything: the group is there.
    world[0].add_worker("g2", WID, vm_id("vm1"))

    def record_gone():
        world[0].workers["g2"].clear()
    world[0].before["move_worker"] = record_gone
    reg, specs, warnings = registrar(world, recreate_group=True, move=True)
    with pytest.raises(NotFoundError):
        reg.reconcile(specs[0], reg.prepare(specs))
    assert not [w for w in world[0].writes if w[0] == "create_group"] and not warnings


@pytest.mark.parametrize("requested,count,used", [(3000000, 1, 1), (3000000, 1000, 64), (16, 3, 3), (1, 50, 1), (64, 64, 64)])
def test_concurrency_is_capped_at_the_machines_and_the_maximum(requested, count, used):
    assert effective_concurrency(requested, count) == used
    threads = set()
    lock = threading.Lock()

    def work(position):
        with lock:
            threads.add(threading.current_thread().name)
    run_bounded(work, count, requested)
    assert len(threads) <= used


def test_heartbeat_wait_succeeds_when_fresh(world):
    run(world)
    wid = derive_worker_id(parse_machine_id(vm_id("vm1")))
    world[0].workers["g1"][wid]["lastSeenDateTime"] = iso(5)
    result = run(world, wait_for_heartbeat=True)
    assert result["worker"]["worker_id"] == wid


def test_heartbeat_wait_times_out(world):
    run(world)
    wid = derive_worker_id(parse_machine_id(vm_id("vm1")))
    world[0].workers["g1"][wid]["lastSeenDateTime"] = iso(3600)
    with pytest.raises(OperationTimeout) as info:
        run(world, wait_for_heartbeat=True, heartbeat_timeout=30)
    assert "heartbeat_timeout" in info.value.msg and wid in info.value.msg


@pytest.mark.parametrize("timeout, max_age, poll, sleeps", [
    (0, 90, 5, []),  # heartbeat_timeout=0 means no waiting at all, not the old fallback of 300 s
    (7, 90, 2, [2, 2, 2, 1]),  # the poll interval is the Registrar's own, not an option read from params
])
def test_heartbeat_wait_uses_the_options_as_given(world, timeout, max_age, poll, sleeps):
    run(world)
    wid = derive_worker_id(parse_machine_id(vm_id("vm1")))
    world[0].workers["g1"][wid]["lastSeenDateTime"] = iso(3600)
    p = params(wait_for_heartbeat=True, heartbeat_timeout=timeout, heartbeat_max_age=max_age)
    clock = FakeClock()
    registrar = Registrar(world[0], world[1], p, sleep=clock.sleep, clock=clock, poll_interval=poll)
    specs = specs_from_params(p)
    with pytest.raises(OperationTimeout):
        registrar.reconcile(specs[0], registrar.prepare(specs))
    assert clock.sleeps == sleeps


def test_heartbeat_max_age_is_honoured_as_given(world):
    run(world)
    wid = derive_worker_id(parse_machine_id(vm_id("vm1")))
    world[0].workers["g1"][wid]["lastSeenDateTime"] = iso(100)
    assert run(world, wait_for_heartbeat=True, heartbeat_max_age=120)["worker"]["worker_id"] == wid


def test_fleet_reads_each_group_once_and_rerun_writes_nothing(world):
    fleet = [{"vm_resource_id": vm_id(n)} for n in ("vm1", "vm2", "vm3")] + [{"vm_resource_id": arc_id("srv1")}]
    results = run(world, vm_resource_id=None, workers=fleet)
    assert [r["changed"] for r in results] == [True] * 4
    lists = [r for r in world[0].reads if r.startswith("list_workers")]
    assert sorted(lists) == ["list_workers:g1", "list_workers:g2"]
    world[0].reads[:] = []
    count = len(writes(world))
    results = run(world, vm_resource_id=None, workers=fleet)
    assert not any(r["changed"] for r in results) and len(writes(world)) == count
    assert [r for r in world[0].reads if r.startswith("list")] == ["list_workers:g1"]


def test_fleet_reports_failures_per_machine(world):
    fleet = [{"vm_resource_id": vm_id("vm1")}, {"vm_resource_id": vm_id("ghost")}]
    results = run(world, vm_resource_id=None, workers=fleet)
    assert results[0]["changed"] and results[1]["failed"] and "ghost" in results[1]["msg"]


def test_fleet_input_is_validated_with_the_index():
    with pytest.raises(OptionError, match=r"workers\[1\].vm_resource_id"):
        specs_from_params(params(vm_resource_id=None, workers=[{"vm_resource_id": vm_id("a")}, {"vm_resource_id": "bad"}]))
    with pytest.raises(OptionError, match="listed twice"):
        specs_from_params(params(vm_resource_id=None, workers=[{"vm_resource_id": vm_id("a")}, {"vm_resource_id": vm_id("A")}]))
    with pytest.raises(OptionError, match=r"workers\[0\].worker_id"):
        specs_from_params(params(vm_resource_id=None, workers=[{"vm_resource_id": vm_id("a"), "worker_id": "x"}]))
