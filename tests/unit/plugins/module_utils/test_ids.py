# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import uuid

import pytest

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._errors import OptionError
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._ids import (
    WORKER_ID_NAMESPACE, derive_worker_id, normalize_guid, parse_machine_id, validate_account_name, validate_group_name)
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._timeutil import (
    age_seconds, parse_duration, parse_timestamp)

from hrw_fakes import SUB, arc_id, vm_id


def test_parse_vm_and_arc():
    vm = parse_machine_id(vm_id("web-01"))
    assert (vm.kind, vm.name, vm.resource_group, vm.subscription_id) == ("vm", "web-01", "rg-vms", SUB)
    arc = parse_machine_id(arc_id("srv01").replace("Microsoft.HybridCompute", "microsoft.hybridcompute"))
    assert arc.kind == "arc" and arc.provider == "Microsoft.HybridCompute"


@pytest.mark.parametrize("value,fragment", [
    ("", "required"),
    ("web-01", "not a resource id"),
    ("/subscriptions/not-a-guid/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm", "not a GUID"),
    ("/subscriptions/%s/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/nic" % SUB, "only Microsoft.Compute"),
    ("/subscriptions/%s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm/extensions/x" % SUB, "not a resource id"),
    ("/subscriptions/%s/resourceGroups/rg./providers/Microsoft.Compute/virtualMachines/vm" % SUB, "resource group"),
    ("/subscriptions/%s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/bad name" % SUB, "machine name"),
    ("/subs/%s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm" % SUB, "not a resource id"),
])
def test_malformed_ids_name_the_option(value, fragment):
    with pytest.raises(OptionError) as info:
        parse_machine_id(value, "workers[3].vm_resource_id")
    assert info.value.option == "workers[3].vm_resource_id"
    assert "'workers[3].vm_resource_id'" in info.value.msg and fragment in info.value.msg


def test_worker_id_is_deterministic_and_case_insensitive():
    first = derive_worker_id(parse_machine_id(vm_id("Web-01")))
    assert first == derive_worker_id(parse_machine_id(vm_id("web-01").upper().replace("/SUBSCRIPTIONS", "/subscriptions")))
    assert first == str(uuid.uuid5(WORKER_ID_NAMESPACE, vm_id("web-01").lower()))
    assert first != derive_worker_id(parse_machine_id(vm_id("web-02")))
    assert uuid.UUID(first).version == 5


def test_guid_normalized():
    assert normalize_guid("ABCDEF01-2345-6789-ABCD-EF0123456789", "worker_id") == "abcdef01-2345-6789-abcd-ef0123456789"
    with pytest.raises(OptionError, match="worker_id"):
        normalize_guid("1234", "worker_id")


@pytest.mark.parametrize("name", ["a", "linux-workers", "Group_1 prod", "x" * 128])
def test_group_names_accepted(name):
    assert validate_group_name(name) == name


@pytest.mark.parametrize("name", ["", "x" * 129, "a/b", "a?b", "tab\there", "trailing.", " lead", "a<b>"])
def test_group_names_refused(name):
    with pytest.raises(OptionError, match="'group'"):
        validate_group_name(name, "group")


@pytest.mark.parametrize("name,ok", [("hrw-aa", True), ("a", False), ("1abcde", False), ("abcde-", False), ("ab_cdef", False)])
def test_account_names(name, ok):
    if ok:
        assert validate_account_name(name)
    else:
        with pytest.raises(OptionError, match="automation_account"):
            validate_account_name(name)


@pytest.mark.parametrize("value,seconds", [(90, 90), ("90", 90), ("90s", 90), ("15m", 900), ("2h", 7200), ("1d", 86400),
                                           ("1h30m", 5400), ("PT15M", 900), ("P1DT1H", 90000)])
def test_durations(value, seconds):
    assert parse_duration(value, "stale_for") == seconds


@pytest.mark.parametrize("value", ["", "soon", "15x", "P", "-5"])
def test_bad_durations(value):
    with pytest.raises(OptionError, match="stale_for"):
        parse_duration(value, "stale_for")


def test_timestamps():
    stamp = parse_timestamp("2026-11-22T02:00:00.1234567+01:00")
    assert stamp.hour == 1 and stamp.microsecond == 123456
    assert parse_timestamp("garbage") is None and age_seconds(None) is None
    assert age_seconds("2026-11-22T02:00:00Z", now=parse_timestamp("2026-11-22T02:01:00Z")) == 60
