# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.azure_automation.hybrid_worker.plugins.modules import hrw_group

from hrw_fakes import vm_id


def test_create_check_then_real_then_idempotent(services, run_module):
    automation, machines = services
    first = run_module(hrw_group.main, {"name": "g", "_ansible_check_mode": True, "_ansible_diff": True})
    assert not first.failed and first.result["changed"] and not automation.writes
    assert first.result["diff"]["before"] == {} and first.result["diff"]["after"]["name"] == "g"
    second = run_module(hrw_group.main, {"name": "g"})
    assert second.result["changed"] and "diff" not in second.result and automation.writes == [("create_group", "g", None)]
    third = run_module(hrw_group.main, {"name": "g"})
    assert not third.result["changed"] and len(automation.writes) == 1


@pytest.mark.parametrize("name", ["bad/name", "x" * 129, "trailing."])
def test_bad_names_fail_before_any_call(services, run_module, name):
    automation, machines = services
    outcome = run_module(hrw_group.main, {"name": name})
    assert outcome.failed and "'name'" in outcome.result["msg"]
    assert not automation.reads and not automation.resolved


def test_delete_with_workers_is_one_clear_failure(services, run_module):
    automation, machines = services
    automation.add_group("g")
    automation.add_worker("g", "w1", vm_id("vm1"))
    outcome = run_module(hrw_group.main, {"name": "g", "state": "absent"})
    assert outcome.failed and "still has 1 worker(s)" in outcome.result["msg"] and "force=true" in outcome.result["msg"]
    assert outcome.result["workers"] == ["w1"] and not automation.writes
    forced = run_module(hrw_group.main, {"name": "g", "state": "absent", "force": True})
    assert forced.result["changed"] and forced.result["actions"][-1] == "delete_group"


def test_only_if_empty_keeps_a_used_group_and_excludes_force(services, run_module):
    automation, machines = services
    automation.add_group("g")
    automation.add_worker("g", "w1", vm_id("vm1"))
    kept = run_module(hrw_group.main, {"name": "g", "state": "absent", "only_if_empty": True})
    assert not kept.failed and not kept.result["changed"] and kept.result["msg"].startswith("Kept hybrid worker group 'g'")
    both = run_module(hrw_group.main, {"name": "g", "state": "absent", "only_if_empty": True, "force": True})
    assert both.failed and "mutually exclusive" in both.result["msg"] and not automation.writes


def test_empty_credential_name_is_refused(services, run_module):
    outcome = run_module(hrw_group.main, {"name": "g", "credential_name": " "})
    assert outcome.failed and "'credential_name'" in outcome.result["msg"]
