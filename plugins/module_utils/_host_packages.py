# -*- coding: utf-8 -*-
# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Decision rules of ``hrw_modules``: what is installed + what is wanted -> a plan, and the commands for it.

PRIVATE TO THIS COLLECTION: no compatibility promise for code outside it.

Pure functions (no I/O) so each plan decision is unit-tested; ``_HybridWorkerHost.psm1`` mirrors them for Windows.
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


_PRE_TAGS = ('dev', 'a', 'alpha', 'b', 'beta', 'c', 'pre', 'preview', 'rc')


def _release_key(version):
    """Sort key: the dotted release numbers (trailing zeros dropped, so 1.0 == 1.0.0), then the suffix:
    a pre-release (rc1, beta2, -preview) sorts below the release, anything else (post1, +local) above it."""
    text = str(version).strip().lower().lstrip('v')
    match = re.match(r'(\d+(?:\.\d+)*)(.*)$', text)
    if not match:
        return ((), (1, text))
    release = [int(p) for p in match.group(1).split('.')]
    while len(release) > 1 and release[-1] == 0:
        release.pop()
    suffix = match.group(2).lstrip('.-_+')
    if not suffix:
        return (tuple(release), (1, ''))
    tag = re.match(r'[a-z]*', suffix).group(0)
    number = re.search(r'\d+', suffix)
    rank = 0 if tag in _PRE_TAGS else 2
    return (tuple(release), (rank, tag, int(number.group(0)) if number else 0))


def same_version(a, b):
    return a is not None and b is not None and _release_key(a) == _release_key(b)


def compare_versions(a, b):
    """-1, 0, 1."""
    ka, kb = _release_key(a), _release_key(b)
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
        versions = sorted(installed.get(name.lower(), []), key=_release_key)
        wanted = req.get('version')
        has_wanted = any(same_version(v, wanted) for v in versions) if wanted else bool(versions)
        if state == 'absent':
            if has_wanted:
                after = [v for v in versions if wanted and not same_version(v, wanted)]
                plan.append(_item('powershell', name, REMOVE, versions, after))
            else:
                plan.append(_item('powershell', name, NOOP, versions, versions))
            continue
        if has_wanted:
            plan.append(_item('powershell', name, NOOP, versions, versions))
        elif not versions:
            plan.append(_item('powershell', name, INSTALL, [], [wanted or 'latest']))
        else:
            newer = all(compare_versions(wanted, v) > 0 for v in versions)
            plan.append(_item('powershell', name, UPGRADE if newer else INSTALL, versions,
                              sorted(versions + [wanted], key=_release_key)))
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
        "    ForEach-Object { [pscustomobject]@{ Name = $_.Name; Version = $_.Version.ToString(); ModuleBase = $_.ModuleBase } })\n"
        "ConvertTo-Json -InputObject $found -Compress -Depth 2\n" % ', '.join(ps_quote(n) for n in names))


def pwsh_change_script(item, repository):
    """Install-Module / Uninstall-Module for one planned item (AllUsers scope)."""
    name = ps_quote(item['name'])
    if item['action'] == REMOVE:
        removed = [v for v in item['before'] if v not in item['after']]
        if item['after']:
            return '\n'.join("Uninstall-Module -Name %s -RequiredVersion %s -Force -ErrorAction Stop" % (name, ps_quote(v))
                             for v in removed)
        return "Uninstall-Module -Name %s -AllVersions -Force -ErrorAction Stop" % name
    new = [v for v in item['after'] if v not in item['before']][0]
    version = '' if new == 'latest' else ' -RequiredVersion %s' % ps_quote(new)
    return ("Install-Module -Name %s%s -Repository %s -Scope AllUsers -Force -AllowClobber -AcceptLicense "
            "-SkipPublisherCheck -ErrorAction Stop" % (name, version, ps_quote(repository)))


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
