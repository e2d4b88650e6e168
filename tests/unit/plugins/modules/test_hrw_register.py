# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import pytest

from ansible.module_utils import basic

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils import _module, _register
from ansible_collections.azure_automation.hybrid_worker.plugins.modules import hrw_register

from hrw_fakes import vm_id


@pytest.fixture
def world(services):
    automation, machines = services
    automation.add_group("g")
    for name in ("vm1", "vm2"):
        machines.add(vm_id(name))
    return automation, machines


def test_single_machine_cycle(world, run_module):
    automation, machines = world
    args = {"group": "g", "vm_resource_id": vm_id("vm1"), "_ansible_diff": True}
    check = run_module(hrw_register.main, dict(args, _ansible_check_mode=True))
    assert check.result["changed"] and not automation.writes and not machines.writes
    real = run_module(hrw_register.main, args)
    assert real.result["actions"] == check.result["actions"] == ["create_record", "install_extension"]
    assert real.result["diff"]["before"]["record"] is None and real.result["diff"]["after"]["record"]["group"] == "g"
    again = run_module(hrw_register.main, args)
    assert not again.result["changed"]


def test_fleet_summary_and_failure_message(world, run_module):
    automation, machines = world
    args = {"group": "g", "workers": [{"vm_resource_id": vm_id("vm1")}, {"vm_resource_id": vm_id("ghost")}]}
    outcome = run_module(hrw_register.main, args)
    assert outcome.failed and outcome.result["msg"].startswith("Failed to reconcile 1 of 2 machines with group 'g'")
    assert outcome.result["summary"] == {"total": 2, "changed": 1, "unchanged": 0, "failed": 1}
    ok = run_module(hrw_register.main, {"group": "g", "workers": [{"vm_resource_id": vm_id("vm1")}, {"vm_resource_id": vm_id("vm2")}]})
    assert ok.result["summary"] == {"total": 2, "changed": 1, "unchanged": 1, "failed": 0}


@pytest.mark.parametrize("args,option", [
    ({"vm_resource_id": "not-an-id"}, "vm_resource_id"),
    ({"vm_resource_id": vm_id("vm1"), "worker_id": "123"}, "worker_id"),
    ({"vm_resource_id": vm_id("vm1"), "group": "a/b"}, "group"),
    ({"vm_resource_id": vm_id("vm1"), "concurrency": 0}, "concurrency"),
    ({"vm_resource_id": vm_id("vm1"), "proxy_password": "x"}, "proxy_password"),
    ({"workers": [{"vm_resource_id": vm_id("vm1")}], "worker_id": "11111111-1111-1111-1111-111111111111"}, "worker_id"),
    ({"workers": [{"vm_resource_id": "/subscriptions/x"}]}, "workers[0].vm_resource_id"),
])
def test_bad_input_names_the_option_and_makes_no_call(world, run_module, args, option):
    automation, machines = world
    outcome = run_module(hrw_register.main, dict({"group": "g"}, **args))
    assert outcome.failed and "'%s'" % option in outcome.result["msg"]
    assert not automation.reads and not automation.writes and not automation.resolved


def test_both_forms_are_mutually_exclusive(world, run_module):
    outcome = run_module(hrw_register.main, {"group": "g", "vm_resource_id": vm_id("vm1"), "workers": []})
    assert outcome.failed and "mutually exclusive" in outcome.result["msg"]


def test_proxy_password_never_in_the_result(world, run_module):
    args = {"group": "g", "vm_resource_id": vm_id("vm1"), "proxy_server": "10.0.0.1:3128", "proxy_username": "u",
            "proxy_password": "Pr0xy-S3cret", "_ansible_diff": True}
    outcome = run_module(hrw_register.main, args)
    assert outcome.result["changed"] and "Pr0xy-S3cret" not in json.dumps(outcome.result)


@pytest.mark.parametrize("machines,used", [(1, 1), (100, 64)])
def test_a_huge_concurrency_is_capped_before_the_arm_client_is_built(world, run_module, monkeypatch, machines, used):
    # concurrency 3000000 sized the connection pool (concurrency + 4): 42 s for one machine.
    automation, fakes = world
    for n in range(machines):
        fakes.add(vm_id("m%d" % n))
    seen, warned = [], []
    monkeypatch.setattr(_module.HrwModule, "automation", lambda self: seen.append(self.params["concurrency"]) or automation)
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, message: warned.append(message))
    # the in-memory fakes are not thread-safe: run the machines one after another (the threads are tested in test_register)
    monkeypatch.setattr(_register, "run_bounded", lambda work, count, concurrency: [work(i) for i in range(count)])
    args = {"group": "g", "install_extension": False, "concurrency": 3000000,
            "workers": [{"vm_resource_id": vm_id("m%d" % n)} for n in range(machines)]}
    outcome = run_module(hrw_register.main, args)
    assert not outcome.failed and outcome.result["summary"]["changed"] == machines
    assert seen == [used]
    assert warned == ["concurrency 3000000 is more than the maximum of 64; using 64"]
