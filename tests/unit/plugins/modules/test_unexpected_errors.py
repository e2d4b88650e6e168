# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An unexpected Python error fails the task with a named message; the fleet form keeps every machine's result (issue 8)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._errors import HrwError
from ansible_collections.azure_automation.hybrid_worker.plugins.modules import hrw_register

from hrw_fakes import vm_id


@pytest.fixture
def world(services):
    automation, machines = services
    automation.add_group("g")
    for name in ("vm1", "vm2"):
        machines.add(vm_id(name))
    original = machines.get_extension

    def get_extension(machine_id, name="HybridWorkerExtension"):
        if machine_id.id.endswith("/vm2"):
            raise AttributeError("'NoneType' object has no attribute 'get'")
        return original(machine_id, name)

    machines.get_extension = get_extension
    return automation, machines


def test_single_form_names_the_unexpected_error(world, run_module):
    outcome = run_module(hrw_register.main, {"group": "g", "vm_resource_id": vm_id("vm2")})
    assert outcome.failed
    assert outcome.result["msg"].startswith("Failed with an unexpected AttributeError: 'NoneType' object has no attribute 'get'")
    assert "Traceback" in outcome.result["exception"]


def test_fleet_form_keeps_every_machine_result(world, run_module):
    outcome = run_module(hrw_register.main, {"group": "g", "concurrency": 2,
                                             "workers": [{"vm_resource_id": vm_id("vm1")}, {"vm_resource_id": vm_id("vm2")}]})
    assert outcome.failed and outcome.result["summary"] == {"total": 2, "changed": 1, "unchanged": 0, "failed": 1}
    first, second = outcome.result["workers"]
    assert first["vm_resource_id"] == vm_id("vm1") and not first.get("failed")
    assert second["failed"] and "unexpected AttributeError" in second["msg"]
    assert "Failed to reconcile 1 of 2 machines with group 'g'" in outcome.result["msg"]


def test_fleet_result_never_raises_on_a_missing_result():
    with pytest.raises(HrwError) as info:
        hrw_register.fleet_result({"group": "g"}, [{"vm_resource_id": "a", "changed": False, "actions": []}, None])
    assert info.value.extra["summary"]["failed"] == 1 and "no result was recorded" in info.value.msg
