# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._errors import StateError
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._groups import GroupManager, describe_groups
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._info import select_workers

from hrw_fakes import FakeAutomation, FakeMachines, iso, vm_id


@pytest.fixture
def services():
    return FakeAutomation(), FakeMachines()


def test_create_then_no_change_then_credential_update(services):
    automation, machines = services
    predicted = GroupManager(automation, machines, check_mode=True).present("g", "cred")
    assert predicted["changed"] and not automation.writes
    result = GroupManager(automation, machines).present("g", "cred")
    assert result["actions"] == ["create_group"] and result["group"]["credential_name"] == "cred"
    assert not GroupManager(automation, machines).present("g", "cred")["changed"]
    assert not GroupManager(automation, machines).present("g", None)["changed"]
    updated = GroupManager(automation, machines).present("g", "other")
    assert updated["actions"] == ["update_credential"]
    assert updated["diff"] == {"before": dict(updated["diff"]["before"], credential_name="cred"),
                               "after": dict(updated["diff"]["before"], credential_name="other")}
    assert [w[0] for w in automation.writes] == ["create_group", "update_group"]


def test_system_group_is_never_changed(services):
    automation, machines = services
    automation.add_group("sys", group_type="System")
    assert not GroupManager(automation, machines).present("sys")["changed"]
    with pytest.raises(StateError, match="System group"):
        GroupManager(automation, machines).present("sys", "cred")
    with pytest.raises(StateError, match="System group"):
        GroupManager(automation, machines).absent("sys", force=True)
    assert not automation.writes


def test_absent_with_workers_needs_force(services):
    automation, machines = services
    automation.add_group("g")
    automation.add_worker("g", "w1", vm_id("vm1"))
    automation.add_worker("g", "w2", "", worker_type="HybridV1")
    machines.add(vm_id("vm1"))
    machines.extensions[vm_id("vm1").lower()] = {"name": "HybridWorkerExtension", "properties": {}}
    with pytest.raises(StateError, match="force=true"):
        GroupManager(automation, machines).absent("g")
    predicted = GroupManager(automation, machines, check_mode=True).absent("g", force=True)
    assert predicted["changed"] and not automation.writes and not machines.writes
    result = GroupManager(automation, machines).absent("g", force=True)
    assert result["actions"] == ["remove_extension:%s" % vm_id("vm1"), "remove_record:w1", "remove_record:w2", "delete_group"]
    assert "g" not in automation.groups and not machines.extensions
    assert not GroupManager(automation, machines).absent("g")["changed"]


def worker_arrives(automation, group, worker_id, vm):
    """Another run (a sliced deploy) registering into the group."""
    return lambda: automation.add_worker(group, worker_id, vm)


def test_worker_registered_just_before_the_delete_keeps_the_group_and_fails_clearly(services):
    automation, machines = services
    automation.add_group("g")
    automation.before["delete_group"] = worker_arrives(automation, "g", "w9", vm_id("vm9"))
    with pytest.raises(StateError, match="while it was being deleted, another run registered 1 worker.*vm9.*force=true"):
        GroupManager(automation, machines).absent("g")
    assert "g" in automation.groups and "w9" in automation.workers["g"]


def test_only_if_empty_keeps_a_used_group_without_failing(services):
    automation, machines = services
    automation.add_group("g")
    automation.add_worker("g", "w1", vm_id("vm1"))
    result = GroupManager(automation, machines).absent("g", only_if_empty=True)
    assert not result["changed"] and result["actions"] == [] and "Kept" in result["msg"] and "still has 1" in result["msg"]
    assert result["group"]["workers"] == ["w1"] and not automation.writes
    automation.workers["g"].clear()
    automation.before["delete_group"] = worker_arrives(automation, "g", "w9", vm_id("vm9"))
    raced = GroupManager(automation, machines).absent("g", only_if_empty=True)
    assert not raced["changed"] and "another run registered 1 worker(s) (vm9)" in raced["msg"]
    assert raced["group"]["workers"] == ["w9"] and "g" in automation.groups
    automation.workers["g"].clear()
    done = GroupManager(automation, machines).absent("g", only_if_empty=True)
    assert done["changed"] and done["actions"] == ["delete_group"] and "g" not in automation.groups


def test_force_looks_again_right_before_deleting(services):
    automation, machines = services
    automation.add_group("g")
    automation.add_worker("g", "w1", vm_id("vm1"))

    def second_list():  # the first list passes; before the second one (after w1 was removed) w9 arrives
        automation.before["list_workers"] = worker_arrives(automation, "g", "w9", vm_id("vm9"))
    automation.before["list_workers"] = second_list
    with pytest.raises(StateError, match="another run registered 1 worker.*vm9.*run again") as info:
        GroupManager(automation, machines).absent("g", force=True)
    assert info.value.extra["changed"] is True
    assert ("delete_worker", "g", "w1") in automation.writes and not [w for w in automation.writes if w[0] == "delete_group"]
    assert list(automation.workers["g"]) == ["w9"]


def test_describe_groups(services):
    automation, machines = services
    automation.add_group("a", credential="c")
    automation.add_group("b")
    automation.add_worker("a", "w1", vm_id("vm1"))
    groups = describe_groups(automation)
    assert [(g["name"], g["credential_name"], len(g["workers"])) for g in groups] == [("a", "c", 1), ("b", None, 0)]
    assert describe_groups(automation, "missing") == []
    assert "workers" not in describe_groups(automation, "a", include_workers=False)[0]


def test_select_workers_by_vm_and_staleness():
    workers = [
        {"vm_resource_id": vm_id("fresh"), "last_seen": iso(10)},
        {"vm_resource_id": vm_id("old"), "last_seen": iso(7200)},
        {"vm_resource_id": vm_id("never"), "last_seen": None},
    ]
    assert [w["vm_resource_id"] for w in select_workers(workers, stale_for=3600)] == [vm_id("old"), vm_id("never")]
    only = select_workers(workers, vm_resource_id=vm_id("FRESH").replace("/SUBSCRIPTIONS", "/subscriptions"))
    assert len(only) == 1 and only[0]["stale"] is None and 5 <= only[0]["last_seen_age_seconds"] <= 60
