#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: hrw_modules
short_description: Install PowerShell modules, Python packages and runtime paths for Hybrid Runbook Worker jobs
version_added: 0.1.0
description:
  - Azure Automation does not push account modules to hybrid workers; they must be installed on each worker for all users.
    This module does that for PowerShell modules (C(Install-Module -Scope AllUsers)) and Python packages (the system Python's pip),
    and sets the C(powershell_7_2_path)/C(python_3_10_path) variables the worker uses to find the PowerShell 7.2 and Python 3.10 runtimes.
  - It reads the installed versions first (C(Get-Module -ListAvailable), C(pip list --format json)) and changes only what differs,
    so it is idempotent, predicts every change in check mode, and reports before/after in diff mode.
  - The host only lists and acts; the plan is made on the controller. The action plugin runs the internal module
    C(hrw_host_packages) on the host to list what is installed, compares versions and plans there (PEP 440 for Python
    packages, SemVer precedence for PowerShell modules, so C(1.0.0) over C(1.0.0rc1) and C(2.0.0) over C(2.0.0-preview) are
    upgrades), and then, unless in check mode, has the host carry out the planned steps.
  - On Windows hosts PowerShell modules are installed by Windows PowerShell 5.1 into C(C:\\Program Files\\WindowsPowerShell\\Modules)
    (also on the PowerShell 7 module path) and O(runtime_paths) are machine environment variables.
author:
  - Azure Automation Hybrid Worker contributors (@azure-automation)
options:
  state:
    description:
      - V(present) installs the listed modules and packages (the given version, or the latest when none is given and none is installed).
      - V(absent) removes them (only the given version when one is given).
      - O(runtime_paths) is applied in both states.
    type: str
    default: present
    choices: [present, absent]
  powershell_modules:
    description:
      - PowerShell modules for all users. Needs C(pwsh) on Linux; asking for modules on a host without it is an error.
      - Versions live side by side; V(present) with a version installs that version next to others.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Module name, for example C(Az.Accounts).
        type: str
        required: true
      version:
        description: Exact version (C(-RequiredVersion)). Without it any installed version satisfies V(present).
        type: str
  powershell_repository:
    description: Registered PowerShell repository to install from (C(Register-PSRepository) it first for a private feed).
    type: str
    default: PSGallery
  python_packages:
    description:
      - Python packages for Python runbooks, installed with the pip of O(python_executable).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Project name on the index (compared PEP 503-normalised).
        type: str
        required: true
      version:
        description: Exact version (C(name==version)); upgrades or downgrades to it. Without it any installed version satisfies V(present).
        type: str
      src:
        description:
          - Offline path of a wheel or sdist file to install instead of resolving O(python_packages[].name) on an index.
          - When O(python_packages[].version) is not given, the version in the file name is the wanted version.
        type: path
  python_executable:
    description:
      - Python whose pip installs the packages. Default C(/usr/bin/python3), the system Python the worker runs Python 3 runbooks
        with (C(python3) on C(PATH) when that file does not exist). A virtual environment's python works too (useful in tests).
      - On Windows the default is C(python) found on C(PATH).
    type: str
  pip_index_url:
    description: Package index URL (C(--index-url)), for a private mirror.
    type: str
  pip_find_links:
    description:
      - Local folder of wheels. Installs with C(--no-index --find-links <folder>), so nothing is downloaded.
    type: path
  break_system_packages:
    description:
      - Debian 12 and other distributions mark their Python as externally managed (PEP 668) and pip refuses system-wide installs.
        The documented way to give a worker packages is C(sudo -H pip install), that is the system Python's site directory under
        C(/usr/local), which apt does not manage; set this to V(true) to allow it (C(--break-system-packages)).
      - Without it, the module fails with an explanation when the Python is externally managed and a package must change.
      - Only passed to pip when the interpreter really is externally managed; it has no effect on Windows.
    type: bool
    default: false
  runtime_paths:
    description:
      - Paths the worker uses for the PowerShell 7.2 and Python 3.10 runtimes. Linux writes them to C(/etc/environment) (other lines
        are kept), Windows sets machine environment variables. An empty string removes the variable; omitted keys are left alone.
      - The worker reads them when it starts, so a change returns RV(restart_required=true); restart the worker service (C(hwd)
        on Linux) afterwards, as the C(linux_worker) role does.
    type: dict
    suboptions:
      powershell_7_2_path:
        description: Path of the PowerShell 7.2+ executable, for example C(/opt/microsoft/powershell/7/pwsh).
        type: str
      python_3_10_path:
        description: Path of the Python 3.10+ executable, for example C(/usr/bin/python3).
        type: str
notes:
  - Runs as root (C(become)); pip runs with C(HOME) set to the invoking user's home like C(sudo -H).
  - Python package versions are compared by PEP 440, PowerShell module versions (with their prerelease label, for example
    C(2.0.0-preview)) by SemVer 2.0 precedence.
seealso:
  - module: azure_automation.hybrid_worker.hrw_health
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: [posix, windows]
"""

EXAMPLES = r"""
- name: Install the Az modules and a Python package for all users
  azure_automation.hybrid_worker.hrw_modules:
    powershell_modules:
      - name: Az.Accounts
        version: 2.13.2
      - name: Az.Storage
    python_packages:
      - name: requests
        version: 2.32.3
    break_system_packages: true
  become: true

- name: Install Python packages from a local wheel folder, nothing downloaded
  azure_automation.hybrid_worker.hrw_modules:
    python_packages:
      - name: azure-identity
    pip_find_links: /srv/wheels
    break_system_packages: true
  become: true

- name: Point the worker at PowerShell 7 and Python 3 and restart it when they change
  azure_automation.hybrid_worker.hrw_modules:
    runtime_paths:
      powershell_7_2_path: /opt/microsoft/powershell/7/pwsh
      python_3_10_path: /usr/bin/python3
  become: true
  register: runtimes

- name: Restart the worker after a runtime path change
  ansible.builtin.service:
    name: hwd
    state: restarted
  become: true
  when: runtimes.restart_required

- name: Remove one module version
  azure_automation.hybrid_worker.hrw_modules:
    state: absent
    powershell_modules:
      - name: Az.Accounts
        version: 2.12.0
  become: true
"""

RETURN = r"""
actions:
  description: One item per requested module, package and runtime variable, with the decision taken (or, in check mode, that would be).
  returned: always
  type: list
  elements: dict
  contains:
    type:
      description: C(python), C(powershell) or C(environment).
      type: str
      sample: python
    name:
      description: Package, module or variable name.
      type: str
      sample: requests
    action:
      description: C(install), C(upgrade), C(downgrade), C(remove), C(set), C(unset) or C(noop).
      type: str
      sample: upgrade
    before:
      description: Installed version (Python), list of installed versions (PowerShell) or value (environment) before; null/empty when none.
      type: raw
      sample: 2.31.0
    after:
      description: Version(s) or value after the change; C(latest) when the newest version is installed and not yet known (check mode).
      type: raw
      sample: 2.32.3
  sample:
    - {"type": "python", "name": "requests", "action": "upgrade", "before": "2.31.0", "after": "2.32.3"}
python_packages:
  description: Installed versions of the requested Python packages after the run (null when not installed).
  returned: always
  type: dict
  sample: {"requests": "2.32.3"}
powershell_modules:
  description: Versions of the requested PowerShell modules visible to all users after the run.
  returned: always
  type: dict
  sample: {"Az.Accounts": ["2.13.2"]}
restart_required:
  description: Whether a runtime path changed, so the worker service must be restarted to see it.
  returned: always
  type: bool
  sample: false
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils import _host_apply as host
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils import _host_packages as pk


def run_in_process(module):
    """Inventory, plan and apply on this host: what hrw_modules does when it is executed without its action plugin.

    Through Ansible the action plugin (plugins/action/hrw_modules.py) runs instead: hrw_host_packages lists and applies on
    the host, and the plan is made on the controller, with the same functions.
    """
    params = module.params
    plan = []
    try:
        found = host.inventory(module, pk.inventory_request(params))
        plan, request, warnings = pk.plan_all(params, found)
        for warning in warnings:
            module.warn(warning)
        after = None
        if request and not module.check_mode:
            after = host.apply(module, request)
    except pk.PlanError as exc:
        module.fail_json(msg=str(exc), actions=pk.public_actions(exc.plan))
    except host.HostError as exc:
        module.fail_json(msg=str(exc), actions=pk.public_actions(plan))
    return pk.module_result(params, plan, after, module._diff)


def main():
    module = AnsibleModule(argument_spec=pk.ARGUMENT_SPEC, supports_check_mode=True, mutually_exclusive=pk.MUTUALLY_EXCLUSIVE)
    module.exit_json(**run_in_process(module))


if __name__ == '__main__':
    main()
