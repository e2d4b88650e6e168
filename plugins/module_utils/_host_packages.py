# -*- coding: utf-8 -*-
# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one planner of ``hrw_modules``: what is installed + what is wanted -> a plan, and the steps for it.

PRIVATE TO THIS COLLECTION: no compatibility promise for code outside it.

Pure functions (no I/O) so each plan decision is unit-tested. The action plugin runs them on the controller for Linux
and Windows hosts alike: the host reports an inventory (hrw_host_packages mode=inventory: _host_apply.py on Linux,
_HrwPackages.psm1 on Windows) and carries out the steps it is given (mode=apply); it compares no versions.
Python versions compare by PEP 440, PowerShell module versions by SemVer 2.0 precedence (prerelease below release).
Python 3.8+, standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import os
import re

INSTALL = 'install'
UPGRADE = 'upgrade'
DOWNGRADE = 'downgrade'
REMOVE = 'remove'
NOOP = 'noop'

RUNTIME_PATH_VARIABLES = ('powershell_7_2_path', 'python_3_10_path')


# ---------------------------------------------------------------------------------------------------- versions

def normalize_pip_name(name):
    """PEP 503 normalised project name."""
    return re.sub(r'[-_.]+', '-', name).lower()


def _release(text):
    numbers = [int(p) for p in text.split('.')]
    while len(numbers) > 1 and numbers[-1] == 0:  # 1.0 == 1.0.0
        numbers.pop()
    return tuple(numbers)


_PEP440 = re.compile(
    r'^v?(?:(?P<epoch>\d+)!)?(?P<release>\d+(?:\.\d+)*)'
    r'(?:[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>\d+)?)?'
    r'(?:-(?P<post_n1>\d+)|[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>\d+)?)?'
    r'(?:[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>\d+)?)?'
    r'(?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?$')
_PRE_RANK = {'a': 0, 'alpha': 0, 'b': 1, 'beta': 1, 'c': 2, 'rc': 2, 'pre': 2, 'preview': 2}
_TOP = float('inf')


def pep440_key(version):
    """Sort key of a Python package version by PEP 440: 1.0.dev1 < 1.0a1 < 1.0b2 < 1.0rc1 < 1.0 < 1.0.post1 < 1.0+local.
    A string that is not a PEP 440 version sorts below every valid one, by its text."""
    text = str(version).strip().lower()
    match = _PEP440.match(text)
    if not match:
        return (0, text)
    pre = post = dev = None
    if match.group('pre_l'):
        pre = (_PRE_RANK[match.group('pre_l')], int(match.group('pre_n') or 0))
    if match.group('post_n1') or match.group('post_l'):
        post = int(match.group('post_n1') or match.group('post_n2') or 0)
    if match.group('dev_l'):
        dev = int(match.group('dev_n') or 0)
    if pre is None and post is None and dev is not None:
        pre_key = (-1, 0)           # 1.0.dev1 sorts before 1.0a1
    else:
        pre_key = pre if pre is not None else (3, 0)
    local = tuple((1, int(p), '') if p.isdigit() else (0, 0, p) for p in re.split(r'[-_.]', match.group('local') or '') if p)
    return (1, int(match.group('epoch') or 0), _release(match.group('release')), pre_key,
            -1 if post is None else post, _TOP if dev is None else dev, local)


_SEMVER = re.compile(r'^v?(?P<release>\d+(?:\.\d+)*)(?:-(?P<pre>[0-9a-z.-]+))?(?:\+[0-9a-z.-]+)?$')


def semver_key(version):
    """Sort key of a PowerShell module version by SemVer 2.0 precedence ('2.0.0-preview' < '2.0.0'; prerelease
    identifiers numeric below alphanumeric; build metadata ignored); up to four release numbers as PowerShell allows."""
    text = str(version).strip().lower()
    match = _SEMVER.match(text)
    if not match:
        return (0, text)
    pre = match.group('pre')
    if pre is None:
        pre_key = (1,)
    else:
        pre_key = (0,) + tuple((0, int(p), '') if p.isdigit() else (1, 0, p) for p in pre.split('.'))
    return (1, _release(match.group('release')), pre_key)


def is_prerelease(version):
    """Whether a PowerShell module version carries a SemVer prerelease label ('3.0.0-preview'); False for text that is no version."""
    key = semver_key(version)
    return key[0] == 1 and key[2] != (1,)


def same_version(a, b, key=pep440_key):
    return a is not None and b is not None and key(a) == key(b)


def compare_versions(a, b, key=pep440_key):
    """-1, 0, 1 (PEP 440 unless ``key`` says otherwise)."""
    ka, kb = key(a), key(b)
    return (ka > kb) - (ka < kb)


_WHEEL = re.compile(r'^(?P<name>[^-]+)-(?P<version>[^-]+)(-\d[^-]*)?-[^-]+-[^-]+-[^-]+\.whl$')
_SDIST = re.compile(r'^(?P<name>.+)-(?P<version>\d[^-]*)\.(tar\.gz|zip|tar\.bz2)$')


def version_from_filename(path):
    """(name, version) of a wheel or sdist file name, or (None, None)."""
    base = os.path.basename(path or '')
    match = _WHEEL.match(base) or _SDIST.match(base)
    if not match:
        return None, None
    return match.group('name'), match.group('version')


# ---------------------------------------------------------------------------------------------------- plans

def _item(kind, name, action, before, after, spec=None):
    item = {'type': kind, 'name': name, 'action': action, 'before': before, 'after': after}
    if spec is not None:
        item['spec'] = spec
    return item


def plan_python(requested, installed, state):
    """``requested``: [{name, version, src}]; ``installed``: {normalised name: version}; -> list of actions.

    present without version: install when missing; with version (or a ``src`` file whose name carries one): install, upgrade or
    downgrade until that version is installed. absent: remove when installed (and, with a version, only that version).
    """
    plan = []
    for req in requested:
        name = req['name']
        current = installed.get(normalize_pip_name(name))
        wanted = req.get('version')
        src = req.get('src')
        if not wanted and src:
            wanted = version_from_filename(src)[1]
        if state == 'absent':
            if current is not None and (not wanted or same_version(current, wanted)):
                plan.append(_item('python', name, REMOVE, current, None, name))
            else:
                plan.append(_item('python', name, NOOP, current, current))
            continue
        spec = src or ('%s==%s' % (name, wanted) if wanted else name)
        if current is None:
            plan.append(_item('python', name, INSTALL, None, wanted or 'latest', spec))
        elif not wanted or same_version(current, wanted):
            plan.append(_item('python', name, NOOP, current, current))
        else:
            action = UPGRADE if compare_versions(wanted, current) > 0 else DOWNGRADE
            plan.append(_item('python', name, action, current, wanted, spec))
    return plan


def plan_powershell(requested, installed, state):
    """``requested``: [{name, version}]; ``installed``: {lower name: [versions visible to all users]}.

    Versions of PowerShell modules live side by side: present with a version installs that version next to the others;
    absent with a version removes only that version, without one removes all versions.
    """
    plan = []
    for req in requested:
        name = req['name']
        versions = sorted(installed.get(name.lower(), []), key=semver_key)
        wanted = req.get('version')
        has_wanted = any(same_version(v, wanted, semver_key) for v in versions) if wanted else bool(versions)
        if state == 'absent':
            if has_wanted:
                after = [v for v in versions if wanted and not same_version(v, wanted, semver_key)]
                plan.append(_item('powershell', name, REMOVE, versions, after))
            else:
                plan.append(_item('powershell', name, NOOP, versions, versions))
            continue
        if has_wanted:
            plan.append(_item('powershell', name, NOOP, versions, versions))
        elif not versions:
            plan.append(_item('powershell', name, INSTALL, [], [wanted or 'latest']))
        else:
            newer = all(compare_versions(wanted, v, semver_key) > 0 for v in versions)
            plan.append(_item('powershell', name, UPGRADE if newer else INSTALL, versions,
                              sorted(versions + [wanted], key=semver_key)))
    return plan


def changes(plan):
    return [p for p in plan if p['action'] != NOOP]


# ---------------------------------------------------------------------------------------------------- commands

def pip_install_argv(python, specs, index_url=None, find_links=None, break_system_packages=False):
    argv = [python, '-m', 'pip', 'install', '--disable-pip-version-check', '--no-input']
    if break_system_packages:
        argv.append('--break-system-packages')
    if find_links:
        argv += ['--no-index', '--find-links', find_links]
    elif index_url:
        argv += ['--index-url', index_url]
    return argv + list(specs)


def pip_uninstall_argv(python, names, break_system_packages=False):
    argv = [python, '-m', 'pip', 'uninstall', '--disable-pip-version-check', '--no-input', '-y']
    if break_system_packages:
        argv.append('--break-system-packages')
    return argv + list(names)


def parse_pip_list(text):
    """``pip list --format json`` -> {normalised name: version}."""
    data = json.loads(text or '[]')
    return dict((normalize_pip_name(p['name']), p['version']) for p in data)


def ps_quote(value):
    return "'%s'" % str(value).replace("'", "''")


def pwsh_list_script(names):
    """Script printing JSON [{Name, Version, ModuleBase}] of the modules visible to all users (CurrentUser scope, under $HOME, excluded)."""
    return (
        "$found = @(Get-Module -ListAvailable -Name @(%s) | Where-Object { -not $_.ModuleBase.StartsWith($HOME) } |\n"
        "    ForEach-Object { $pre = $_.PrivateData.PSData.Prerelease; $v = $_.Version.ToString(); if ($pre) { $v += '-' + $pre }\n"
        "        [pscustomobject]@{ Name = $_.Name; Version = $v; ModuleBase = $_.ModuleBase } })\n"
        "ConvertTo-Json -InputObject $found -Compress -Depth 2\n" % ', '.join(ps_quote(n) for n in names))


def pwsh_step_script(step, repository):
    """Install-Module / Uninstall-Module for one module step (AllUsers scope)."""
    name = ps_quote(step['name'])
    if step['kind'] == 'module_uninstall':
        # PowerShellGet refuses a prerelease RequiredVersion without -AllowPrerelease, and -AllVersions leaves prereleases without it.
        prerelease = ' -AllowPrerelease' if step.get('prerelease') else ''
        if step.get('versions'):
            return '\n'.join("Uninstall-Module -Name %s -RequiredVersion %s%s -Force -ErrorAction Stop" % (name, ps_quote(v), prerelease)
                             for v in step['versions'])
        return "Uninstall-Module -Name %s -AllVersions%s -Force -ErrorAction Stop" % (name, prerelease)
    version = ' -RequiredVersion %s' % ps_quote(step['version']) if step.get('version') else ''
    prerelease = ' -AllowPrerelease' if step.get('prerelease') else ''
    return ("Install-Module -Name %s%s%s -Repository %s -Scope AllUsers -Force -AllowClobber -AcceptLicense "
            "-SkipPublisherCheck -ErrorAction Stop" % (name, version, prerelease, ps_quote(repository)))


def pwsh_change_script(item, repository):
    """The script of the step for one planned item."""
    return pwsh_step_script(_module_step(item), repository)


PWSH_PREAMBLE = "$ErrorActionPreference = 'Stop'; $ProgressPreference = 'SilentlyContinue'\n"


def pwsh_argv(pwsh, script):
    """pwsh command line running ``script`` as -EncodedCommand (UTF-16LE base64): no quoting or stdin parsing issues."""
    encoded = base64.b64encode((PWSH_PREAMBLE + script).encode('utf-16-le')).decode('ascii')
    return [pwsh, '-NoLogo', '-NoProfile', '-NonInteractive', '-EncodedCommand', encoded]


def decode_pwsh_argv(argv):
    """The script of a pwsh_argv command line (for tests and debugging)."""
    return base64.b64decode(argv[-1]).decode('utf-16-le')


def parse_pwsh_list(text):
    """JSON from pwsh_list_script -> {lower name: [versions]}."""
    text = (text or '').strip()
    data = json.loads(text) if text else []
    if isinstance(data, dict):
        data = [data]
    found = {}
    for item in data or []:
        found.setdefault(item['Name'].lower(), [])
        if item['Version'] not in found[item['Name'].lower()]:
            found[item['Name'].lower()].append(item['Version'])
    return found


# ---------------------------------------------------------------------------------------------------- /etc/environment

def _format_env_value(value):
    if re.search(r'[\s"\'#$\\]', value):
        return '"%s"' % value.replace('\\', '\\\\').replace('"', '\\"')
    return value


def _parse_env_line(line):
    stripped = line.strip()
    if not stripped or stripped.startswith('#') or '=' not in stripped:
        return None, None
    if stripped.startswith('export '):
        stripped = stripped[len('export '):].strip()
    key, value = stripped.split('=', 1)
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in '"\'':
        value = value[1:-1]
    return key.strip(), value


def plan_environment(text, wanted):
    """Edit an /etc/environment text. ``wanted``: {variable: value}; '' removes it, None leaves it alone.

    Returns (new text, {variable: (before, after)} of the variables that change). Other lines stay as they are;
    a changed variable keeps its position (later duplicates of it are dropped), a new one is appended.
    """
    wanted = dict((k, v) for k, v in wanted.items() if v is not None)
    lines = (text or '').splitlines()
    current = {}
    for line in lines:
        key, value = _parse_env_line(line)
        if key in wanted and key not in current:
            current[key] = value
    diff = {}
    for key, value in wanted.items():
        before = current.get(key)
        after = value or None
        if before != after:
            diff[key] = (before, after)
    if not diff:
        return text or '', {}
    out, written = [], set()
    for line in lines:
        key, _value = _parse_env_line(line)
        if key in diff:
            if key in written or diff[key][1] is None:
                continue
            out.append('%s=%s' % (key, _format_env_value(diff[key][1])))
            written.add(key)
        else:
            out.append(line)
    for key in sorted(diff):
        if key not in written and diff[key][1] is not None:
            out.append('%s=%s' % (key, _format_env_value(diff[key][1])))
    return '\n'.join(out) + '\n', diff


# ---------------------------------------------------------------------------------------------------- the controller's side

# The hrw_modules options, validated once (by the module when it runs in-process, else by the action plugin).
ARGUMENT_SPEC = dict(
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
MUTUALLY_EXCLUSIVE = [('pip_index_url', 'pip_find_links')]


class PlanError(Exception):
    """The plan cannot be carried out; ``plan`` is what was planned so far (returned as actions)."""

    def __init__(self, message, plan):
        super(PlanError, self).__init__(message)
        self.plan = plan


def _src_of(params, name):
    for req in params['python_packages']:
        if req['name'] == name:
            return req.get('src')
    return None


def _wanted_paths(params):
    return dict((k, v) for k, v in (params.get('runtime_paths') or {}).items() if v is not None)


def inventory_request(params):
    """hrw_host_packages arguments for mode=inventory: what to list, nothing that decides."""
    wanted = _wanted_paths(params)
    return {'mode': 'inventory', 'python': bool(params['python_packages']), 'python_executable': params.get('python_executable'),
            'powershell_modules': [m['name'] for m in params['powershell_modules']],
            'runtime_paths': sorted(wanted), 'test_paths': sorted(set(v for v in wanted.values() if v))}


def _module_step(item):
    if item['action'] == REMOVE:
        removed = [v for v in item['before'] if v not in item['after']]
        return {'kind': 'module_uninstall', 'name': item['name'], 'versions': removed if item['after'] else None,
                'prerelease': any(is_prerelease(v) for v in removed)}
    new = [v for v in item['after'] if v not in item['before']][0]
    version = None if new == 'latest' else new
    return {'kind': 'module_install', 'name': item['name'], 'version': version, 'prerelease': bool(version) and is_prerelease(version)}


def plan_all(params, inventory):
    """(plan, apply arguments or None, warnings) from the options and the host's inventory; PlanError when it cannot be done."""
    plan, steps, warnings = [], [], []
    flag = False
    if params['python_packages']:
        python = inventory['python']
        error = python.get('error')
        if error == 'no_pip':
            raise PlanError('pip is not available for %s; install it first (Debian: apt install python3-pip).' % python['executable'], plan)
        if error == 'no_python':
            raise PlanError('Python packages were requested but no Python interpreter was found on this host; install Python 3 '
                            'or set python_executable.', plan)
        if error:
            raise PlanError('Failed to list the Python packages with %s: %s' % (python['executable'], python.get('detail')), plan)
        installed = dict((normalize_pip_name(k), v) for k, v in python['installed'].items())  # Windows lists names as pip prints them
        plan.extend(plan_python(params['python_packages'], installed, params['state']))
        todo = [p for p in plan if p['type'] == 'python' and p['action'] != NOOP]
        if todo:
            managed = bool(python.get('externally_managed'))
            if managed and not params['break_system_packages']:
                raise PlanError('%s is externally managed (PEP 668) and would need to change %s. Set break_system_packages=true to '
                                'install into its /usr/local site directory like "sudo -H pip install" (what the worker sees), '
                                'or point python_executable at another interpreter.'
                                % (python['executable'], ', '.join('%s (%s)' % (p['name'], p['action']) for p in todo)), plan)
            flag = managed and params['break_system_packages']
            removes = [p['spec'] for p in todo if p['action'] == REMOVE]
            installs = [p['spec'] for p in todo if p['action'] != REMOVE]
            if removes:
                steps.append({'kind': 'pip_uninstall', 'specs': removes})
            if installs:
                # Local files (src) are expanded on the host (~, $VAR), not here on the controller.
                files = [p['spec'] for p in todo if p['action'] != REMOVE and p['spec'] == _src_of(params, p['name'])]
                steps.append({'kind': 'pip_install', 'specs': installs, 'files': files})
    if params['powershell_modules']:
        shell = inventory['powershell']
        if not shell.get('available'):
            raise PlanError('PowerShell modules were requested (%s) but pwsh is not installed on this host; install PowerShell 7 '
                            'first.' % ', '.join(m['name'] for m in params['powershell_modules']), plan)
        items = plan_powershell(params['powershell_modules'], shell['installed'], params['state'])
        plan.extend(items)
        steps.extend(_module_step(item) for item in items if item['action'] != NOOP)
    wanted = _wanted_paths(params)
    if wanted:
        current = inventory.get('environment') or {}
        executable = inventory.get('executable') or {}
        for key, value in sorted(wanted.items()):
            if value and not executable.get(value):
                warnings.append('runtime_paths.%s: %s is not an executable file on this host.' % (key, value))
        changes_ = {}
        for key in sorted(wanted):
            before, after = current.get(key) or None, wanted[key] or None
            action = NOOP if before == after else ('unset' if after is None else 'set')
            plan.append({'type': 'environment', 'name': key, 'action': action, 'before': before, 'after': after})
            if action != NOOP:
                changes_[key] = after
        if changes_:
            steps.append({'kind': 'environment', 'values': changes_})
    if not steps:
        return plan, None, warnings
    request = {'mode': 'apply', 'steps': steps, 'python_executable': (inventory.get('python') or {}).get('executable'),
               'pip_index_url': params.get('pip_index_url'), 'pip_find_links': params.get('pip_find_links'),
               'break_system_packages': flag, 'powershell_repository': params['powershell_repository'],
               'python': bool(params['python_packages']), 'powershell_modules': [m['name'] for m in params['powershell_modules']]}
    return plan, request, warnings


def public_actions(plan):
    """The plan as returned: without the internal pip ``spec``."""
    return [dict((k, v) for k, v in item.items() if k != 'spec') for item in plan]


def module_result(params, plan, after=None, diff=False):
    """What hrw_modules returns. ``after``: the inventory the apply step returned (None when nothing ran: check mode or no change)."""
    python_after, powershell_after = {}, {}
    for item in (p for p in plan if p['type'] == 'python'):
        if after is not None and after.get('python'):
            installed = dict((normalize_pip_name(k), v) for k, v in after['python']['installed'].items())
            python_after[item['name']] = installed.get(normalize_pip_name(item['name']))
        else:
            python_after[item['name']] = item['after'] if item['after'] != 'latest' else None
    for item in (p for p in plan if p['type'] == 'powershell'):
        if after is not None and after.get('powershell'):
            powershell_after[item['name']] = sorted(after['powershell']['installed'].get(item['name'].lower(), []), key=semver_key)
        else:
            powershell_after[item['name']] = item['after']
    result = dict(changed=bool(changes(plan)), actions=public_actions(plan), python_packages=python_after,
                  powershell_modules=powershell_after,
                  restart_required=any(p['type'] == 'environment' and p['action'] != NOOP for p in plan))
    if diff:
        before_, after_ = {}, {}
        for item in plan:
            section = {'python': 'python_packages', 'powershell': 'powershell_modules', 'environment': 'environment'}[item['type']]
            before_.setdefault(section, {})[item['name']] = item['before']
            after_.setdefault(section, {})[item['name']] = item['after']
        result['diff'] = {'before': before_, 'after': after_}
    return result
