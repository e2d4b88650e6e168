# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wrong or unlucky input fails with a message naming the option (or item, or variable) and changes nothing."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import pytest

from ansible.module_utils import basic

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils import _module
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._ids import parse_machine_id
from ansible_collections.azure_automation.hybrid_worker.plugins.modules import hrw_group, hrw_group_info, hrw_register

from hrw_fakes import arc_id, iso, vm_id

REAL_RESOLVE = _module.HrwModule.resolve  # the services fixture replaces it

SUB = "00000000-0000-0000-0000-000000000001"


@pytest.fixture
def world(services):
    automation, machines = services
    automation.add_group("g")
    for name in ("vm1", "vm2"):
        machines.add(vm_id(name))
    machines.add(arc_id("srv1"), os_type="Windows")
    machines.add(arc_id("quiet"), os_type=None)
    return automation, machines


def assert_refused(outcome, option, automation, machines=None, reads=False):
    assert outcome.failed, outcome.result
    assert "'%s'" % option in outcome.result["msg"], outcome.result["msg"]
    assert not automation.writes and not (machines and machines.writes)
    if not reads:
        assert not automation.reads and not automation.resolved


# -- hrw_group ----------------------------------------------------------------------------------------------------------
def test_group_force_delete_with_negative_wait_timeout_removes_nothing(world, run_module):
    # Before: the workers' extensions were deleted, then the removal timed out at once, leaving records and group.
    automation, machines = world
    automation.add_worker("g", "w1", vm_id("vm1"))
    machines.put_extension(parse_machine_id(vm_id("vm1")), {"properties": {}})
    machines.writes[:] = []
    outcome = run_module(hrw_group.main, {"name": "g", "state": "absent", "force": True, "wait_timeout": -1})
    assert_refused(outcome, "wait_timeout", automation, machines)
    assert "g" in automation.groups and machines.extensions


@pytest.mark.parametrize("args,option", [
    ({"name": "g", "credential_name": "c" * 300}, "credential_name"),
    ({"name": "g", "credential_name": "svc.runner"}, "credential_name"),
    ({"name": u"g\u200b"}, "name"),
    ({"name": u"line\u0445"}, "name"),  # Cyrillic ha at the end of a Latin name
])
def test_group_bad_names(world, run_module, args, option):
    automation, machines = world
    outcome = run_module(hrw_group.main, args)
    assert_refused(outcome, option, automation, machines)


def test_group_info_refuses_a_look_alike_name(world, run_module):
    automation, machines = world
    outcome = run_module(hrw_group_info.main, {"name": u"linux\u2060workers"})
    assert_refused(outcome, "name", automation)
    assert "U+2060" in outcome.result["msg"]


# -- hrw_register -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("args,option", [
    ({"type_handler_version": "banana"}, "type_handler_version"),
    ({"proxy_server": "not a proxy at all"}, "proxy_server"),
    ({"proxy_server": "ftp://10.0.0.1:21"}, "proxy_server"),
    ({"group": u"g\u200b"}, "group"),
    ({"heartbeat_timeout": 0}, "heartbeat_timeout"),
    ({"wait_timeout": 10 ** 7}, "wait_timeout"),
])
def test_register_bad_options(world, run_module, args, option):
    automation, machines = world
    outcome = run_module(hrw_register.main, dict({"group": "g", "vm_resource_id": vm_id("vm1")}, **args))
    assert_refused(outcome, option, automation, machines)


def test_heartbeat_wait_without_any_extension_fails_at_once(world, run_module):
    # Before: the record was created, then the task waited out heartbeat_timeout for a heartbeat nothing could send.
    automation, machines = world
    args = {"group": "g", "vm_resource_id": vm_id("vm1"), "install_extension": False, "wait_for_heartbeat": True,
            "heartbeat_timeout": 2}
    outcome = run_module(hrw_register.main, args)
    assert_refused(outcome, "wait_for_heartbeat", automation, machines, reads=True)
    assert "install_extension" in outcome.result["msg"] and "HybridWorkerExtension" in outcome.result["msg"]
    assert not automation.workers["g"]


def test_heartbeat_wait_with_an_extension_installed_by_other_means(world, run_module):
    automation, machines = world
    machines.put_extension(parse_machine_id(vm_id("vm1")), {"properties": {}})
    automation.add_worker("g", "w1", vm_id("vm1"), last_seen=iso(5))
    args = {"group": "g", "vm_resource_id": vm_id("vm1"), "install_extension": False, "wait_for_heartbeat": True}
    outcome = run_module(hrw_register.main, args)
    assert not outcome.failed and outcome.result["worker"]["worker_id"] == "w1"


def test_register_fleet_items_are_checked_before_any_call(world, run_module):
    automation, machines = world
    workers = [{"vm_resource_id": vm_id("vm1")}, {"vm_resource_id": vm_id("vm2"), "worker_id": "nope"}]
    outcome = run_module(hrw_register.main, {"group": "g", "workers": workers})
    assert_refused(outcome, "workers[1].worker_id", automation, machines)
    outcome = run_module(hrw_register.main, {"group": "g", "workers": workers[:1], "type_handler_version": "1.x"})
    assert_refused(outcome, "type_handler_version", automation, machines)


def test_proxy_credentials_in_the_address_are_refused_and_masked(world, run_module, monkeypatch):
    automation, machines = world
    hidden = []
    original = basic.AnsibleModule.fail_json

    def capture(self, msg, **kwargs):
        hidden.extend(self.no_log_values)
        return original(self, msg, **kwargs)

    monkeypatch.setattr(basic.AnsibleModule, "fail_json", capture)
    outcome = run_module(hrw_register.main, {"group": "g", "vm_resource_id": vm_id("vm1"),
                                             "proxy_server": "http://hrw:Pr0xy-S3cret@10.0.0.1:3128"})
    assert_refused(outcome, "proxy_server", automation, machines)
    assert "Pr0xy-S3cret" not in json.dumps(outcome.result) and "proxy_password" in outcome.result["msg"]
    assert "Pr0xy-S3cret" in hidden  # masked in the invocation Ansible prints at -vvv


def test_os_type_the_machine_contradicts_is_refused_before_any_write(world, run_module):
    automation, machines = world
    outcome = run_module(hrw_register.main, {"group": "g", "vm_resource_id": vm_id("vm1"), "os_type": "windows"})
    assert_refused(outcome, "os_type", automation, machines, reads=True)
    assert "runs Linux" in outcome.result["msg"] and "HybridWorkerForWindows" in outcome.result["msg"]
    assert not automation.workers["g"]
    agreed = run_module(hrw_register.main, {"group": "g", "vm_resource_id": arc_id("srv1"), "os_type": "windows"})
    assert not agreed.failed
    # A machine that does not report its OS still needs os_type, and takes it.
    quiet = run_module(hrw_register.main, {"group": "g", "vm_resource_id": arc_id("quiet"), "os_type": "linux"})
    assert not quiet.failed and quiet.result["extension"]["type"] == "HybridWorkerForLinux"


def test_fleet_item_os_type_mismatch_names_the_item(world, run_module):
    automation, machines = world
    workers = [{"vm_resource_id": vm_id("vm1")}, {"vm_resource_id": vm_id("vm2"), "os_type": "windows"}]
    outcome = run_module(hrw_register.main, {"group": "g", "workers": workers})
    assert outcome.failed and "'workers[1].os_type'" in outcome.result["msg"]
    assert [w.get("failed", False) for w in outcome.result["workers"]] == [False, True]
    assert not [w for w in automation.writes if vm_id("vm2") in w]


@pytest.mark.parametrize("state", ["present", "absent"])
def test_register_refuses_a_system_group_before_writing(world, run_module, state):
    # Before: the worker PUT was sent and Azure answered 400 (after the extension, for absent, was already removed).
    automation, machines = world
    automation.add_group("updates", group_type="System")
    automation.add_worker("updates", "w1", vm_id("vm1"))
    outcome = run_module(hrw_register.main, {"group": "updates", "vm_resource_id": vm_id("vm1"), "state": state})
    assert outcome.failed and "System group" in outcome.result["msg"] and "'updates'" in outcome.result["msg"]
    assert not automation.writes and not machines.writes
    check = run_module(hrw_register.main, {"group": "updates", "vm_resource_id": vm_id("vm2"), "state": state,
                                           "_ansible_check_mode": True})
    assert check.failed and "System group" in check.result["msg"]


# -- connection options through the real resolution (no Azure call can happen: the check comes first) -------------------
# The metadata URL is on loopback, so even code that skipped the checks could not reach anything else.
CONNECTION = {"subscription_id": SUB, "client_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
              "tenant": "99999999-8888-7777-6666-555555555555", "secret": "s3cr3t",
              "cloud_environment": "https://127.0.0.1:9/metadata/endpoints?api-version=2022-09-01"}


@pytest.fixture
def real_resolve(services, monkeypatch):
    monkeypatch.setattr(_module.HrwModule, "resolve", REAL_RESOLVE)
    return services


def test_missing_ca_bundle_fails_with_the_variable_and_file(real_resolve, run_module, monkeypatch, tmp_path):
    # Before: requests raised a bare OSError ("Could not find a suitable TLS CA certificate bundle") out of the module.
    missing = str(tmp_path / "ca-bundle.pem")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", missing)
    outcome = run_module(hrw_group_info.main, dict(CONNECTION))
    assert outcome.failed and "REQUESTS_CA_BUNDLE" in outcome.result["msg"] and missing in outcome.result["msg"]


def test_empty_secret_option_fails_naming_it(real_resolve, run_module, monkeypatch):
    # Before: "" hid AZURE_SECRET and auth_source auto fell back to the Azure CLI / managed identity.
    monkeypatch.setenv("AZURE_SECRET", "from-the-environment")
    outcome = run_module(hrw_group_info.main, dict(CONNECTION, secret=""))
    assert outcome.failed and "'secret'" in outcome.result["msg"]
