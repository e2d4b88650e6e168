#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: hrw_host_packages
short_description: Internal - list and change the modules and packages of a Hybrid Runbook Worker host for hrw_modules
version_added: 0.1.0
description:
  - B(Internal to the collection.) The M(azure_automation.hybrid_worker.hrw_modules) action runs this module on the host
    twice - O(mode=inventory) to list what is installed, then O(mode=apply) with the steps it planned on the controller;
    use M(azure_automation.hybrid_worker.hrw_modules), not this module.
  - It compares no versions and decides nothing; it lists and carries out steps.
  - The Linux implementation is this Python module; on Windows hosts Ansible runs C(hrw_host_packages.ps1) with the same options.
author:
  - Azure Automation Hybrid Worker contributors (@azure-automation)
options:
  mode:
    description: V(inventory) lists, V(apply) carries out O(steps) and lists again.
    type: str
    required: true
    choices: [inventory, apply]
  python:
    description: List the Python packages of O(python_executable).
    type: bool
    default: false
  python_executable:
    description: Python whose pip lists and installs; the system Python when omitted.
    type: str
  powershell_modules:
    description: PowerShell module names to list (versions visible to all users).
    type: list
    elements: str
    default: []
  runtime_paths:
    description: Runtime path variables to read (C(/etc/environment) on Linux, machine environment on Windows).
    type: list
    elements: str
    default: []
  test_paths:
    description: Paths to report as executable files or not.
    type: list
    elements: str
    default: []
  steps:
    description:
      - The steps to carry out in order, each a dict with C(kind) one of C(pip_uninstall) and C(pip_install) (with C(specs);
        C(pip_install) also C(files), the specs that are local files, expanded on the host like a path option),
        C(module_install) (C(name), C(version) or null for the latest), C(module_uninstall) (C(name), C(versions) or null for
        all) and C(environment) (C(values), a null value removes the variable).
    type: list
    elements: dict
    default: []
  pip_index_url:
    description: Package index URL for pip.
    type: str
  pip_find_links:
    description: Local wheel folder for pip (no index).
    type: path
  break_system_packages:
    description: Pass C(--break-system-packages) to pip (the controller sets it only for an externally managed Python).
    type: bool
    default: false
  powershell_repository:
    description: Repository to install PowerShell modules from.
    type: str
    default: PSGallery
seealso:
  - module: azure_automation.hybrid_worker.hrw_modules
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: O(mode=apply) changes nothing in check mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: [posix, windows]
"""

EXAMPLES = r"""
# Internal: run through azure_automation.hybrid_worker.hrw_modules.
- name: List two PowerShell modules
  azure_automation.hybrid_worker.hrw_host_packages:
    mode: inventory
    powershell_modules: [Az.Accounts, Az.Storage]
  register: listing
"""

RETURN = r"""
inventory:
  description:
    - What is installed (after the steps for O(mode=apply)) - C(python) (C(executable), C(installed) normalised name to version,
      C(externally_managed), C(error)), C(powershell) (C(available), C(installed) lower-case name to versions), C(environment)
      and C(executable).
  returned: always
  type: dict
  sample: {"python": {"executable": "/usr/bin/python3", "installed": {"requests": "2.32.3"}, "externally_managed": true, "error": null}}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils import _host_apply as host

ARGUMENT_SPEC = dict(
    mode=dict(type='str', required=True, choices=['inventory', 'apply']),
    python=dict(type='bool', default=False),
    python_executable=dict(type='str'),
    powershell_modules=dict(type='list', elements='str', default=[]),
    runtime_paths=dict(type='list', elements='str', default=[]),
    test_paths=dict(type='list', elements='str', default=[]),
    steps=dict(type='list', elements='dict', default=[]),
    pip_index_url=dict(type='str'),
    pip_find_links=dict(type='path'),
    break_system_packages=dict(type='bool', default=False),
    powershell_repository=dict(type='str', default='PSGallery'),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    try:
        if p['mode'] == 'inventory':
            module.exit_json(changed=False, inventory=host.inventory(module, p))
        if module.check_mode:
            module.exit_json(changed=bool(p['steps']), inventory=None)
        module.exit_json(changed=bool(p['steps']), inventory=host.apply(module, p))
    except host.HostError as exc:
        module.fail_json(msg=str(exc))


if __name__ == '__main__':
    main()
