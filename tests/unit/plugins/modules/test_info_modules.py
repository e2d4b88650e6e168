# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.azure_automation.hybrid_worker.plugins.modules import hrw_group_info, hrw_worker_info

from hrw_fakes import iso, vm_id


def test_group_info(services, run_module):
    automation, machines = services
    automation.add_group("a")
    automation.add_worker("a", "w1", vm_id("vm1"), last_seen=iso(5))
    outcome = run_module(hrw_group_info.main, {})
    assert not outcome.result["changed"] and outcome.result["groups"][0]["workers"][0]["worker_id"] == "w1"
    assert run_module(hrw_group_info.main, {"name": "zzz"}).result["groups"] == []


def test_worker_info_filters_and_extension_state(services, run_module):
    automation, machines = services
    automation.add_group("a")
    automation.add_group("b")
    automation.add_worker("a", "w1", vm_id("vm1"), last_seen=iso(5))
    automation.add_worker("b", "w2", vm_id("vm2"), last_seen=iso(4000))
    automation.add_worker("b", "w3", "", worker_type="HybridV1")
    machines.add(vm_id("vm1"))
    machines.extensions[vm_id("vm1").lower()] = {"name": "HybridWorkerExtension",
                                                 "properties": {"type": "HybridWorkerForLinux", "provisioningState": "Succeeded"}}
    everything = run_module(hrw_worker_info.main, {}).result["workers"]
    assert sorted(w["worker_id"] for w in everything) == ["w1", "w2", "w3"]
    by_id = dict((w["worker_id"], w) for w in everything)
    assert by_id["w1"]["extension"]["exists"] and by_id["w1"]["extension"]["provisioning_state"] == "Succeeded"
    assert by_id["w2"]["extension"] == {"exists": False} and by_id["w3"]["extension"] is None
    stale = run_module(hrw_worker_info.main, {"stale_for": "1h"}).result["workers"]
    assert sorted(w["worker_id"] for w in stale) == ["w2", "w3"]
    one = run_module(hrw_worker_info.main, {"vm_resource_id": vm_id("vm2"), "include_extension": False}).result["workers"]
    assert [w["worker_id"] for w in one] == ["w2"] and "extension" not in one[0]


def test_worker_info_bad_input(services, run_module):
    automation, machines = services
    assert "'stale_for'" in run_module(hrw_worker_info.main, {"stale_for": "soon"}).result["msg"]
    assert "'group'" in run_module(hrw_worker_info.main, {"group": "missing"}).result["msg"]
