#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: hrw_group_info
short_description: List Azure Automation hybrid runbook worker groups with their workers
version_added: 0.1.0
description:
  - Returns one or all hybrid runbook worker groups of an Automation account, each with its workers.
  - Costs one paged list of groups (or one read of the named group) and one paged list of workers per group.
author:
  - Azure Automation Hybrid Worker contributors (@azure-automation)
options:
  name:
    description:
      - Only this group. When not set, every group of the account.
      - A group that does not exist gives an empty RV(groups), not an error.
    type: str
  include_workers:
    description:
      - List the workers of each group.
    type: bool
    default: true
extends_documentation_fragment:
  - azure_automation.hybrid_worker._azure_auth
  - azure_automation.hybrid_worker._attributes
  - azure_automation.hybrid_worker._attributes.info_module
  - azure_automation.hybrid_worker._attributes.actiongroup_hrw
seealso:
  - module: azure_automation.hybrid_worker.hrw_group
  - module: azure_automation.hybrid_worker.hrw_worker_info
"""

EXAMPLES = r"""
- name: List every group with its workers
  azure_automation.hybrid_worker.hrw_group_info:
    resource_group: rg-automation
    automation_account: aa-ops
  register: hrw_groups

- name: Show the names of empty groups
  ansible.builtin.debug:
    msg: "{{ hrw_groups.groups | selectattr('workers', 'equalto', []) | map(attribute='name') | list }}"
"""

RETURN = r"""
groups:
  description: The groups.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Group name.
      type: str
      sample: linux-workers
    id:
      description: ARM resource id.
      type: str
      sample: "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/\
        Microsoft.Automation/automationAccounts/aa/hybridRunbookWorkerGroups/linux-workers"
    group_type:
      description: V(User) or V(System).
      type: str
      sample: User
    credential_name:
      description: The Run As credential asset, or null.
      type: str
      sample: runbook-runner
    workers:
      description: The group's workers (when O(include_workers=true)).
      type: list
      elements: dict
      returned: when O(include_workers=true)
      sample:
        - group: linux-workers
          worker_id: 6d1f0e9b-7c70-5e0b-8d8a-0f3c1f7c2d11
          id: "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/\
            Microsoft.Automation/automationAccounts/aa/hybridRunbookWorkerGroups/linux-workers/hybridRunbookWorkers/6d1f0e9b-7c70-5e0b-8d8a-0f3c1f7c2d11"
          worker_name: vm1
          worker_type: HybridV2
          vm_resource_id: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1
          ip: 10.0.0.4
          registered: "2026-11-01T10:00:00.000Z"
          last_seen: "2026-11-22T02:00:00.000Z"
arm_requests:
  description: ARM requests of this run.
  returned: always
  type: dict
  sample: {reads: 3, writes: 0, retries: 0, throttled: 0}
"""

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._groups import describe_groups
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._ids import validate_group_name
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._module import HrwModule


def run(hrw):
    params = hrw.params
    if params["name"] is not None:
        validate_group_name(params["name"], "name")
    hrw.resolve()
    return {"changed": False,
            "groups": describe_groups(hrw.automation(), params["name"], include_workers=params["include_workers"])}


def main():
    hrw = HrwModule(dict(
        name=dict(type="str"),
        include_workers=dict(type="bool", default=True),
    ))
    hrw.run(run)


if __name__ == "__main__":
    main()
