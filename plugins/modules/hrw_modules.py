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
  - The Linux implementation is this Python module; on Windows hosts Ansible runs C(hrw_modules.ps1) with the same options and result.
    There PowerShell modules are installed by Windows PowerShell 5.1 into C(C:\\Program Files\\WindowsPowerShell\\Modules)
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
  - Python package versions are compared on their release numbers; give the exact version string the index uses.
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

import os
import pwd

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils import _host_packages as pk

ENVIRONMENT_FILE = '/etc/environment'
SYSTEM_PYTHON = '/usr/bin/python3'
_PEP668_PROBE = ("import os, sys, sysconfig; print(sys.prefix == getattr(sys, 'base_prefix', sys.prefix) and "
                 "os.path.isfile(os.path.join(sysconfig.get_path('stdlib'), 'EXTERNALLY-MANAGED')))")


class ModulesError(Exception):
    pass


class PythonPackages(object):
    """pip of one interpreter."""

    def __init__(self, module, python):
        self.module = module
        self.python = python
        self.env = {'PIP_DISABLE_PIP_VERSION_CHECK': '1', 'PIP_NO_INPUT': '1', 'PIP_ROOT_USER_ACTION': 'ignore',
                    'HOME': pwd.getpwuid(os.geteuid()).pw_dir}

    def run(self, argv, action):
        rc, out, err = self.module.run_command(argv, environ_update=self.env)
        if rc != 0:
            raise ModulesError('Failed to %s with %s: %s' % (action, self.python, (err or out).strip()[-2000:]))
        return out

    def installed(self):
        rc, out, err = self.module.run_command([self.python, '-m', 'pip', 'list', '--format', 'json'], environ_update=self.env)
        if rc != 0 and 'No module named pip' in err:
            raise ModulesError('pip is not available for %s; install it first (Debian: apt install python3-pip).' % self.python)
        if rc != 0:
            raise ModulesError('Failed to list the Python packages with %s: %s' % (self.python, (err or out).strip()[-2000:]))
        try:
            return pk.parse_pip_list(out)
        except (ValueError, KeyError, TypeError) as exc:
            raise ModulesError('Failed to read the output of pip list of %s: %s' % (self.python, exc))

    def externally_managed(self):
        return self.run([self.python, '-c', _PEP668_PROBE], 'inspect the Python installation').strip() == 'True'


class PowerShellModules(object):
    """Install-Module / Uninstall-Module through pwsh."""

    def __init__(self, module, pwsh):
        self.module = module
        self.pwsh = pwsh

    def run(self, script, action):
        rc, out, err = self.module.run_command(pk.pwsh_argv(self.pwsh, script))
        if rc != 0:
            raise ModulesError('Failed to %s: %s' % (action, (err or out).strip()[-2000:]))
        return out

    def installed(self, names):
        return pk.parse_pwsh_list(self.run(pk.pwsh_list_script(names), 'list PowerShell modules'))


def apply_python(module, params, plan):
    python = params['python_executable'] or (SYSTEM_PYTHON if os.access(SYSTEM_PYTHON, os.X_OK)
                                             else module.get_bin_path('python3', required=True))
    pip = PythonPackages(module, python)
    requested = params['python_packages']
    plan.extend(pk.plan_python(requested, pip.installed(), params['state']))
    todo = [p for p in plan if p['type'] == 'python' and p['action'] != pk.NOOP]
    if not todo:
        return pip
    managed = pip.externally_managed()
    if managed and not params['break_system_packages']:
        raise ModulesError('%s is externally managed (PEP 668) and would need to change %s. Set break_system_packages=true to '
                           'install into its /usr/local site directory like "sudo -H pip install" (what the worker sees), '
                           'or point python_executable at another interpreter.'
                           % (python, ', '.join('%s (%s)' % (p['name'], p['action']) for p in todo)))
    if module.check_mode:
        return pip
    flag = managed and params['break_system_packages']
    removes = [p['spec'] for p in todo if p['action'] == pk.REMOVE]
    installs = [p['spec'] for p in todo if p['action'] != pk.REMOVE]
    if removes:
        pip.run(pk.pip_uninstall_argv(python, removes, flag), 'remove %s' % ', '.join(removes))
    if installs:
        pip.run(pk.pip_install_argv(python, installs, params['pip_index_url'], params['pip_find_links'], flag),
                'install %s' % ', '.join(installs))
    return pip


def apply_powershell(module, params, plan):
    pwsh = module.get_bin_path('pwsh')
    if not pwsh:
        raise ModulesError('PowerShell modules were requested (%s) but pwsh is not installed on this host; install PowerShell 7 '
                           'first.' % ', '.join(m['name'] for m in params['powershell_modules']))
    shell = PowerShellModules(module, pwsh)
    names = [m['name'] for m in params['powershell_modules']]
    plan.extend(pk.plan_powershell(params['powershell_modules'], shell.installed(names), params['state']))
    if module.check_mode:
        return shell
    for item in plan:
        if item['type'] == 'powershell' and item['action'] != pk.NOOP:
            shell.run(pk.pwsh_change_script(item, params['powershell_repository']),
                      '%s PowerShell module %s' % (item['action'], item['name']))
    return shell


def apply_runtime_paths(module, params, plan):
    wanted = dict((k, v) for k, v in (params['runtime_paths'] or {}).items() if v is not None)
    if not wanted:
        return False
    try:
        with open(ENVIRONMENT_FILE, 'r') as handle:
            text = handle.read()
    except (IOError, OSError):
        text = ''
    new_text, diff = pk.plan_environment(text, wanted)
    for key, value in sorted(wanted.items()):
        if value and not (os.path.isfile(value) and os.access(value, os.X_OK)):
            module.warn('runtime_paths.%s: %s is not an executable file on this host.' % (key, value))
    for key in sorted(wanted):
        before, after = diff.get(key, (wanted[key] or None, wanted[key] or None))
        action = 'noop' if key not in diff else ('unset' if after is None else 'set')
        plan.append({'type': 'environment', 'name': key, 'action': action, 'before': before, 'after': after})
    if diff and not module.check_mode:
        tmp = os.path.join(module.tmpdir, 'environment')
        with open(tmp, 'w') as handle:
            handle.write(new_text)
        if os.path.exists(ENVIRONMENT_FILE):
            os.chmod(tmp, os.stat(ENVIRONMENT_FILE).st_mode & 0o7777)
        else:
            os.chmod(tmp, 0o644)
        module.atomic_move(tmp, ENVIRONMENT_FILE)
    return bool(diff)


def public_actions(plan):
    """The plan as returned: without the internal pip ``spec``."""
    return [dict((k, v) for k, v in item.items() if k != 'spec') for item in plan]


def main():
    argument_spec = dict(
        state=dict(type='str', default='present', choices=['present', 'absent']),
        powershell_modules=dict(type='list', elements='dict', default=[], options=dict(
            name=dict(type='str', required=True), version=dict(type='str'))),
        powershell_repository=dict(type='str', default='PSGallery'),
        python_packages=dict(type='list', elements='dict', default=[], options=dict(
            name=dict(type='str', required=True), version=dict(type='str'), src=dict(type='path'))),
        python_executable=dict(type='str'),
        pip_index_url=dict(type='str'),
        pip_find_links=dict(type='path'),
        break_system_packages=dict(type='bool', default=False),
        runtime_paths=dict(type='dict', options=dict(
            powershell_7_2_path=dict(type='str'), python_3_10_path=dict(type='str'))),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           mutually_exclusive=[('pip_index_url', 'pip_find_links')])
    params = module.params
    plan = []
    python_after, powershell_after = {}, {}
    try:
        pip = apply_python(module, params, plan) if params['python_packages'] else None
        shell = apply_powershell(module, params, plan) if params['powershell_modules'] else None
        restart_required = apply_runtime_paths(module, params, plan)
        changed = bool(pk.changes(plan))
        if pip:
            installed = pip.installed() if changed and not module.check_mode else None
            for item in (p for p in plan if p['type'] == 'python'):
                python_after[item['name']] = (installed.get(pk.normalize_pip_name(item['name'])) if installed is not None
                                              else item['after'] if item['after'] != 'latest' else None)
        if shell:
            installed = shell.installed([m['name'] for m in params['powershell_modules']]) \
                if changed and not module.check_mode else None
            for item in (p for p in plan if p['type'] == 'powershell'):
                powershell_after[item['name']] = (installed.get(item['name'].lower(), []) if installed is not None
                                                  else item['after'])
    except ModulesError as exc:
        module.fail_json(msg=str(exc), actions=public_actions(plan))
    result = dict(changed=changed, actions=public_actions(plan), python_packages=python_after, powershell_modules=powershell_after,
                  restart_required=restart_required)
    if module._diff:
        before, after = {}, {}
        for item in plan:
            section = {'python': 'python_packages', 'powershell': 'powershell_modules', 'environment': 'environment'}[item['type']]
            before.setdefault(section, {})[item['name']] = item['before']
            after.setdefault(section, {})[item['name']] = item['after']
        result['diff'] = {'before': before, 'after': after}
    module.exit_json(**result)


if __name__ == '__main__':
    main()
