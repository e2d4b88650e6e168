# -*- coding: utf-8 -*-
# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The Linux host side of ``hrw_modules``: list what is installed, carry out the steps the controller planned.

PRIVATE TO THIS COLLECTION: no compatibility promise for code outside it.

``inventory`` and ``apply`` are what the internal module hrw_host_packages runs (mode=inventory / mode=apply); the
Windows twin is _HrwPackages.psm1. Nothing here compares versions or decides what to change: _host_packages plans.
Python 3.8+, standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import pwd

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils import _host_packages as pk

ENVIRONMENT_FILE = '/etc/environment'
SYSTEM_PYTHON = '/usr/bin/python3'
_PEP668_PROBE = ("import os, sys, sysconfig; print(sys.prefix == getattr(sys, 'base_prefix', sys.prefix) and "
                 "os.path.isfile(os.path.join(sysconfig.get_path('stdlib'), 'EXTERNALLY-MANAGED')))")


class HostError(Exception):
    """A command on the host failed."""


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
            raise HostError('Failed to %s with %s: %s' % (action, self.python, (err or out).strip()[-2000:]))
        return out

    def listing(self):
        """{'executable', 'installed', 'error', 'detail'}: error 'no_pip' or 'list_failed' when pip list does not work."""
        facts = {'executable': self.python, 'installed': {}, 'error': None, 'detail': None}
        rc, out, err = self.module.run_command([self.python, '-m', 'pip', 'list', '--format', 'json'], environ_update=self.env)
        if rc != 0:
            facts['error'] = 'no_pip' if 'No module named pip' in err else 'list_failed'
            facts['detail'] = (err or out).strip()[-2000:]
            return facts
        try:
            facts['installed'] = pk.parse_pip_list(out)
        except (ValueError, KeyError, TypeError) as exc:
            facts['error'], facts['detail'] = 'list_failed', 'unreadable pip list output: %s' % exc
        return facts

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
            raise HostError('Failed to %s: %s' % (action, (err or out).strip()[-2000:]))
        return out

    def installed(self, names):
        return pk.parse_pwsh_list(self.run(pk.pwsh_list_script(names), 'list PowerShell modules'))


def python_for(module, executable):
    if executable:
        return executable
    return SYSTEM_PYTHON if os.access(SYSTEM_PYTHON, os.X_OK) else module.get_bin_path('python3')


def read_environment():
    """(text, {variable: first value}) of /etc/environment."""
    try:
        with open(ENVIRONMENT_FILE, 'r') as handle:
            text = handle.read()
    except (IOError, OSError):
        text = ''
    values = {}
    for line in text.splitlines():
        key, value = pk._parse_env_line(line)
        if key is not None and key not in values:
            values[key] = value
    return text, values


def inventory(module, args):
    """What is installed: Python packages (with PEP 668 state), PowerShell modules, runtime path variables."""
    found = {'python': None, 'powershell': None, 'environment': {}, 'executable': {}}
    if args['python']:
        python = python_for(module, args.get('python_executable'))
        if not python:
            found['python'] = {'executable': None, 'installed': {}, 'error': 'no_python', 'detail': None, 'externally_managed': False}
        else:
            pip = PythonPackages(module, python)
            found['python'] = pip.listing()
            found['python']['externally_managed'] = pip.externally_managed() if not found['python']['error'] else False
    if args['powershell_modules']:
        pwsh = module.get_bin_path('pwsh')
        found['powershell'] = {'available': bool(pwsh), 'installed': PowerShellModules(module, pwsh).installed(
            args['powershell_modules']) if pwsh else {}}
    if args['runtime_paths']:
        _text, values = read_environment()
        found['environment'] = dict((k, values.get(k)) for k in args['runtime_paths'])
    found['executable'] = dict((p, os.path.isfile(p) and os.access(p, os.X_OK)) for p in args.get('test_paths') or [])
    return found


def write_environment(module, values):
    text, _current = read_environment()
    new_text, diff = pk.plan_environment(text, dict((k, v or '') for k, v in values.items()))
    if not diff:
        return
    tmp = os.path.join(module.tmpdir, 'environment')
    with open(tmp, 'w') as handle:
        handle.write(new_text)
    os.chmod(tmp, os.stat(ENVIRONMENT_FILE).st_mode & 0o7777 if os.path.exists(ENVIRONMENT_FILE) else 0o644)
    module.atomic_move(tmp, ENVIRONMENT_FILE)


def apply(module, args):
    """Carry out ``args['steps']`` in order; returns the inventory afterwards (Python packages, PowerShell modules)."""
    python = args.get('python_executable')
    pwsh = None
    for step in args['steps']:
        kind = step['kind']
        if kind == 'pip_uninstall':
            PythonPackages(module, python).run(pk.pip_uninstall_argv(python, step['specs'], args['break_system_packages']),
                                               'remove %s' % ', '.join(step['specs']))
        elif kind == 'pip_install':
            files = step.get('files') or []
            specs = [os.path.expanduser(os.path.expandvars(s)) if s in files else s for s in step['specs']]
            PythonPackages(module, python).run(pk.pip_install_argv(python, specs, args.get('pip_index_url'),
                                                                   args.get('pip_find_links'), args['break_system_packages']),
                                               'install %s' % ', '.join(step['specs']))
        elif kind in ('module_install', 'module_uninstall'):
            pwsh = pwsh or module.get_bin_path('pwsh', required=True)
            action = 'install' if kind == 'module_install' else 'remove'
            PowerShellModules(module, pwsh).run(pk.pwsh_step_script(step, args['powershell_repository']),
                                                '%s PowerShell module %s' % (action, step['name']))
        elif kind == 'environment':
            write_environment(module, step['values'])
        else:
            raise HostError('unknown step %r' % kind)
    after = {'python': None, 'powershell': None}
    if args['python'] and python:
        after['python'] = PythonPackages(module, python).listing()
    if args['powershell_modules'] and module.get_bin_path('pwsh'):
        after['powershell'] = {'available': True, 'installed': PowerShellModules(module, module.get_bin_path('pwsh')).installed(
            args['powershell_modules'])}
    return after
