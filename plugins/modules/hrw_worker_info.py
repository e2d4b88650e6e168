#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: hrw_worker_info
short_description: List Azure Automation hybrid runbook workers with their heartbeat and extension state
version_added: 0.1.0
description:
  - Returns the workers of one group or of every group of the account, optionally only those of one machine or only those
    that have not sent a heartbeat for a while.
  - For each extension-based (V2) worker it also reads the C(HybridWorkerExtension) of its Azure VM or Arc machine.
author:
  - Azure Automation Hybrid Worker contributors (@azure-automation)
options:
  group:
    description:
      - Only workers of this group. When not set, workers of every group. A group that does not exist is an error.
    type: str
  vm_resource_id:
    description:
      - Only the worker of this Azure VM or Arc machine (resource ids compare case-insensitively).
    type: str
  stale_for:
    description:
      - Only workers whose last heartbeat (C(lastSeenDateTime)) is older than this, or that never sent one.
      - Seconds, or a duration such as V(90s), V(15m), V(2h), V(1d), V(1h30m) or ISO 8601 V(PT15M).
      - Workers poll every 30 seconds, so a few minutes means the worker is not running.
    type: str
  include_extension:
    description:
      - Read the HybridWorker extension of each V2 worker's machine (one read per worker).
    type: bool
    default: true
extends_documentation_fragment:
  - azure_automation.hybrid_worker._azure_auth
  - azure_automation.hybrid_worker._attributes
  - azure_automation.hybrid_worker._attributes.info_module
  - azure_automation.hybrid_worker._attributes.actiongroup_hrw
seealso:
  - module: azure_automation.hybrid_worker.hrw_register
  - module: azure_automation.hybrid_worker.hrw_group_info
"""

EXAMPLES = r"""
- name: Find workers of a group silent for more than 30 minutes
  azure_automation.hybrid_worker.hrw_worker_info:
    resource_group: rg-automation
    automation_account: aa-ops
    group: linux-workers
    stale_for: 30m
  register: stale

- name: Show the worker of one VM
  azure_automation.hybrid_worker.hrw_worker_info:
    resource_group: rg-automation
    automation_account: aa-ops
    vm_resource_id: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-vms/providers/Microsoft.Compute/virtualMachines/vm1
"""

RETURN = r"""
workers:
  description: The selected workers.
  returned: always
  type: list
  elements: dict
  contains:
    group:
      description: Group of the worker.
      type: str
      sample: linux-workers
    worker_id:
      description: Worker GUID (the record's name).
      type: str
      sample: 6d1f0e9b-7c70-5e0b-8d8a-0f3c1f7c2d11
    id:
      description: ARM id of the worker record.
      type: str
      sample: "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/\
        Microsoft.Automation/automationAccounts/aa/hybridRunbookWorkerGroups/linux-workers/hybridRunbookWorkers/6d1f0e9b-7c70-5e0b-8d8a-0f3c1f7c2d11"
    worker_name:
      description: Machine name the worker reported.
      type: str
      sample: vm1
    worker_type:
      description: V(HybridV2) (extension-based) or V(HybridV1) (agent-based, retired).
      type: str
      sample: HybridV2
    vm_resource_id:
      description: Azure VM or Arc machine id (empty for V1 workers).
      type: str
      sample: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-vms/providers/Microsoft.Compute/virtualMachines/vm1
    ip:
      description: Address the worker reported.
      type: str
      sample: 10.0.0.4
    registered:
      description: When the record was created.
      type: str
      sample: "2026-11-01T10:00:00.000Z"
    last_seen:
      description: Last heartbeat, or null if none.
      type: str
      sample: "2026-11-22T02:00:00.000Z"
    last_seen_age_seconds:
      description: Seconds since the last heartbeat, or null if none.
      type: int
      sample: 12
    stale:
      description: Whether the worker matched O(stale_for) (null when O(stale_for) is not set).
      type: bool
      sample: false
    extension:
      description:
        - The HybridWorker extension of the machine (null for V1 workers or when O(include_extension=false)).
        - C(exists) is false when the extension or the machine is gone.
        - Same keys as the C(extension) result of M(azure_automation.hybrid_worker.hrw_register); C(legacy_fingerprint_tag) finds
          machines that still carry the password fingerprint tag of earlier versions (run M(azure_automation.hybrid_worker.hrw_register)
          on them to remove it).
      type: dict
      returned: when O(include_extension=true)
      sample:
        exists: true
        name: HybridWorkerExtension
        publisher: Microsoft.Azure.Automation.HybridWorker
        type: HybridWorkerForLinux
        type_handler_version: "1.1"
        auto_upgrade_minor_version: true
        enable_automatic_upgrade: true
        automation_account_url: https://0000.jrds.weu.azure-automation.net/automationAccounts/0000
        proxy_server: null
        proxy_username: null
        proxy_password: null
        provisioning_state: Succeeded
        legacy_fingerprint_tag: false
arm_requests:
  description: ARM requests of this run.
  returned: always
  type: dict
  sample: {reads: 4, writes: 0, retries: 0, throttled: 0}
"""

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._ids import validate_group_name
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._info import describe_workers
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._module import HrwModule
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._timeutil import parse_duration


def run(hrw):
    params = hrw.params
    if params["group"] is not None:
        validate_group_name(params["group"], "group")
    stale_for = parse_duration(params["stale_for"], "stale_for") if params["stale_for"] is not None else None
    hrw.resolve()
    workers = describe_workers(hrw.automation(), hrw.machines(), params["group"], params["vm_resource_id"], stale_for,
                               params["include_extension"])
    return {"changed": False, "workers": workers}


def main():
    hrw = HrwModule(dict(
        group=dict(type="str"),
        vm_resource_id=dict(type="str"),
        stale_for=dict(type="str"),
        include_extension=dict(type="bool", default=True),
    ))
    hrw.run(run)


if __name__ == "__main__":
    main()
