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
