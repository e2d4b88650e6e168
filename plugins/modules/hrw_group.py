#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: hrw_group
short_description: Manage Azure Automation hybrid runbook worker groups
version_added: 0.1.0
description:
  - Creates, updates or deletes a hybrid runbook worker group of an Azure Automation account, and sets the Run As credential
    its jobs use.
  - The module reads the group first and writes only what differs.
  - System groups (created by Update Management) are never changed.
author:
  - Azure Automation Hybrid Worker contributors (@azure-automation)
options:
  name:
    description:
      - Name of the hybrid worker group.
      - 1 to 128 characters, none of C(<>*%&:\?/+#|") and no control characters; no leading or trailing space, no trailing dot.
      - Invisible and look-alike characters are refused, naming the code point; for example a zero-width space, a
        non-breaking space, a fullwidth letter, or a Cyrillic letter among Latin ones. Such a name looks like another group's.
    type: str
    required: true
  credential_name:
    description:
      - Name of an Automation credential asset; the group's jobs then run as that account instead of the worker's default
        account (Local System on Windows, C(hweautomation) on Linux).
      - When not set, the group's current credential is left as it is.
      - 1 to 128 characters, none of C(<>*%&:\?.+/) and no control, invisible or look-alike characters; not ending with a space
        (Azure's rules for credential asset names). Checked before any call to Azure.
    type: str
  state:
    description:
      - V(present) creates the group or updates its credential.
      - V(absent) deletes the group. It fails while the group still has workers unless O(force=true).
    type: str
    choices: [present, absent]
    default: present
  force:
    description:
      - With O(state=absent), first remove every worker of the group, each with its HybridWorker extension, then delete the group.
    type: bool
    default: false
  only_if_empty:
    description:
      - With O(state=absent), delete the group only if it has no workers. A group that still has workers is kept and the task
        is ok (not changed), with C(msg) saying why, instead of failing.
      - Also when another run registers a worker into the group while it is being deleted (ARM refuses to delete a group
        that has workers); the C(remove_hrw) playbook uses it for the groups it empties.
      - Mutually exclusive with O(force).
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait for each extension removal with O(force=true).
      - From 1 to 86400. Checked before anything is removed.
      - Also how long ARM may stay unreachable (connection refused or reset, answers lost) once it has answered in this
        run; each request is retried until then, so a run outlives an ARM restart that is shorter. A re-run converges after
        any interruption, also after the controller was killed.
    type: int
    default: 600
extends_documentation_fragment:
  - azure_automation.hybrid_worker._azure_auth
  - azure_automation.hybrid_worker._attributes
  - azure_automation.hybrid_worker._attributes.actiongroup_hrw
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
seealso:
  - module: azure_automation.hybrid_worker.hrw_group_info
  - module: azure_automation.hybrid_worker.hrw_register
"""

EXAMPLES = r"""
- name: Ensure the group exists, running its jobs as a credential asset
  azure_automation.hybrid_worker.hrw_group:
    resource_group: rg-automation
    automation_account: aa-ops
    name: linux-workers
    credential_name: runbook-runner

- name: Set the account once for every module of the collection
  module_defaults:
    group/azure_automation.hybrid_worker.hrw:
      resource_group: rg-automation
      automation_account: aa-ops
  block:
    - name: Delete a group and the workers it still has
      azure_automation.hybrid_worker.hrw_group:
        name: old-workers
        state: absent
        force: true

    - name: Delete a group if no worker is left in it (keep it, without failing, if another run is still using it)
      azure_automation.hybrid_worker.hrw_group:
        name: linux-workers
        state: absent
        only_if_empty: true
"""

RETURN = r"""
group:
  description: The group after the change (with O(state=absent), the group that was deleted, or that O(only_if_empty) kept).
  returned: success, unless O(state=absent) and the group did not exist
  type: dict
  contains:
    name:
      description: Group name.
      type: str
      sample: linux-workers
    id:
      description: ARM resource id (null in check mode for a group that would be created).
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
      description: Worker ids the group had before it was deleted, or has now when O(only_if_empty) kept it (O(state=absent) only).
      type: list
      elements: str
      returned: when O(state=absent) and the group existed
      sample: [6d1f0e9b-7c70-5e0b-8d8a-0f3c1f7c2d11]
msg:
  description: Why the group was kept (with O(only_if_empty=true)).
  returned: when O(only_if_empty=true) kept a group that has workers
  type: str
  sample: "Kept hybrid worker group 'linux-workers' of ...: it still has 1 worker(s) (vm1)"
actions:
  description: What was done (or would be done in check mode).
  returned: always
  type: list
  elements: str
  sample: [create_group]
arm_requests:
  description: ARM requests of this run.
  returned: always
  type: dict
  sample: {reads: 1, writes: 1, retries: 0, throttled: 0}
"""

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._groups import GroupManager
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._module import HrwModule
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._validate import validate_group_options


def run(hrw):
    params = hrw.params
    validate_group_options(params)  # every option, before any call: bad input changes nothing
    hrw.resolve()  # credentials and common options are checked before any call
    manager = GroupManager(hrw.automation(), hrw.machines(timeout=params["wait_timeout"]), check_mode=hrw.check_mode)
    if params["state"] == "present":
        return manager.present(params["name"], params["credential_name"])
    return manager.absent(params["name"], force=params["force"], only_if_empty=params["only_if_empty"])


def main():
    hrw = HrwModule(dict(
        name=dict(type="str", required=True),
        credential_name=dict(type="str"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        force=dict(type="bool", default=False),
        only_if_empty=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=600),
    ), mutually_exclusive=[("force", "only_if_empty")])
    hrw.run(run)


if __name__ == "__main__":
    main()
