# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""hrw_modules (Linux): plans carried out through fake pip/pwsh, check mode, diff, errors; one run with a real venv."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys

import pytest

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils import _host_apply as host_apply
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils import _host_packages as pk
from ansible_collections.azure_automation.hybrid_worker.plugins.modules import hrw_modules

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hrw_host_testing import make_wheel, run_module  # noqa: E402


class FakeHost(object):
    """pip and pwsh as run_command sees them."""

    def __init__(self, packages=None, modules=None, managed=False, pwsh=True):
        self.packages = dict(packages or {})
        self.modules = dict((k, list(v)) for k, v in (modules or {}).items())
        self.managed = managed
        self.pwsh = pwsh
        self.no_pip = False
        self.calls = []

    def run_command(self, module, args, data=None, **kwargs):
        self.calls.append((list(args), data))
        if args[0].endswith('pwsh'):
            assert args[1:5] == ['-NoLogo', '-NoProfile', '-NonInteractive', '-EncodedCommand']
            script = pk.decode_pwsh_argv(args)
            self.calls[-1] = (list(args), script)
            return self._pwsh(script)
        if args[1:3] == ['-m', 'pip']:
            return self._pip(args[3:])
        if args[1] == '-c':
            return 0, 'True\n' if self.managed else 'False\n', ''
        raise AssertionError('unexpected command %r' % args)

    def _pip(self, argv):
        if self.no_pip:
            return 1, '', '/usr/bin/python3: No module named pip'
        if argv[0] == 'list':
            return 0, json.dumps([{'name': k, 'version': v} for k, v in self.packages.items()]), ''
        if self.managed and '--break-system-packages' not in argv:
            return 1, '', 'error: externally-managed-environment'
        specs = [a for a in argv[1:] if not a.startswith('-') and a not in ('/wheels',)]
        for spec in specs:
            if argv[0] == 'install':
                name, _sep, version = spec.partition('==')
                self.packages[name.lower()] = version or '9.9.9'
            else:
                self.packages.pop(spec.lower(), None)
        return 0, '', ''

    def _pwsh(self, script):
        if 'Get-Module -ListAvailable' in script:
            items = [{'Name': n, 'Version': v, 'ModuleBase': '/usr/local/share/powershell/Modules/%s/%s' % (n, v)}
                     for n, vs in self.modules.items() for v in vs]
            return 0, json.dumps(items), ''
        for line in script.splitlines()[1:]:  # after the preamble
            words = line.split()
            name = words[words.index('-Name') + 1].strip("'")
            version = words[words.index('-RequiredVersion') + 1].strip("'") if '-RequiredVersion' in words else None
            if words[0] == 'Install-Module':
                self.modules.setdefault(name, []).append(version or '1.0.0')
            elif '-AllVersions' in words:
                self.modules.pop(name, None)
            else:
                self.modules[name].remove(version)
        return 0, '', ''


@pytest.fixture
def host(monkeypatch, tmp_path):
    fake = FakeHost()

    def run_command(module, args, **kwargs):
        return fake.run_command(module, args, **kwargs)

    def get_bin_path(module, name, required=False, opt_dirs=None):
        if name == 'pwsh':
            return '/usr/bin/pwsh' if fake.pwsh else None
        return '/usr/bin/' + name

    monkeypatch.setattr(AnsibleModule, 'run_command', run_command)
    monkeypatch.setattr(AnsibleModule, 'get_bin_path', get_bin_path)
    monkeypatch.setattr(host_apply, 'ENVIRONMENT_FILE', str(tmp_path / 'environment'))
    monkeypatch.setattr(host_apply, 'SYSTEM_PYTHON', str(tmp_path / 'no-python'))
    return fake


def changing_calls(fake):
    return [c for c in fake.calls if c[0][3:4] in (['install'], ['uninstall']) or (c[1] and 'Get-Module' not in c[1])]


PY = {'python_packages': [{'name': 'requests', 'version': '2.32.3'}, {'name': 'six'}], 'pip_find_links': '/wheels'}


def test_python_check_mode_predicts_without_installing(host, capsys):
    host.packages = {'requests': '2.31.0'}
    rc, result = run_module(hrw_modules.main, capsys, PY, check_mode=True, diff=True)
    assert rc == 0 and result['changed'] is True
    assert [(a['name'], a['action']) for a in result['actions']] == [('requests', 'upgrade'), ('six', 'install')]
    assert result['diff']['before']['python_packages'] == {'requests': '2.31.0', 'six': None}
    assert result['diff']['after']['python_packages'] == {'requests': '2.32.3', 'six': 'latest'}
    assert changing_calls(host) == []
    assert host.packages == {'requests': '2.31.0'}


def test_python_install_then_idempotent(host, capsys):
    host.packages = {'requests': '2.31.0'}
    rc, result = run_module(hrw_modules.main, capsys, PY)
    assert rc == 0 and result['changed'] is True
    install = [c[0] for c in host.calls if c[0][3:4] == ['install']]
    assert install == [['/usr/bin/python3', '-m', 'pip', 'install', '--disable-pip-version-check', '--no-input',
                        '--no-index', '--find-links', '/wheels', 'requests==2.32.3', 'six']]
    assert result['python_packages'] == {'requests': '2.32.3', 'six': '9.9.9'}
    assert 'spec' not in result['actions'][0]
    rc, again = run_module(hrw_modules.main, capsys, PY)
    assert rc == 0 and again['changed'] is False
    assert set(a['action'] for a in again['actions']) == {'noop'}


def test_python_remove(host, capsys):
    host.packages = {'requests': '2.32.3', 'six': '1.16.0'}
    rc, result = run_module(hrw_modules.main, capsys, dict(PY, state='absent'))
    assert rc == 0 and result['changed'] is True
    assert [(a['name'], a['action']) for a in result['actions']] == [('requests', 'remove'), ('six', 'remove')]
    assert host.packages == {}


def test_externally_managed_fails_without_opt_in(host, capsys):
    host.managed = True
    rc, result = run_module(hrw_modules.main, capsys, PY, check_mode=True)
    assert rc == 1
    assert 'externally managed (PEP 668)' in result['msg'] and 'break_system_packages' in result['msg']
    assert [a['action'] for a in result['actions']] == ['install', 'install'] and 'spec' not in result['actions'][0]


def test_externally_managed_with_opt_in(host, capsys):
    host.managed = True
    rc, result = run_module(hrw_modules.main, capsys, dict(PY, break_system_packages=True))
    assert rc == 0 and result['changed'] is True
    assert any('--break-system-packages' in c[0] for c in host.calls)


def test_opt_in_flag_not_passed_to_unmanaged_python(host, capsys):
    rc, _result = run_module(hrw_modules.main, capsys, dict(PY, break_system_packages=True))
    assert rc == 0
    assert not any('--break-system-packages' in c[0] for c in host.calls)


def test_noop_never_asks_about_pep668(host, capsys):
    host.packages = {'requests': '2.32.3', 'six': '1.0'}
    host.managed = True
    rc, result = run_module(hrw_modules.main, capsys, PY)
    assert rc == 0 and result['changed'] is False


def test_missing_pip_is_a_clear_error(host, capsys):
    host.no_pip = True
    rc, result = run_module(hrw_modules.main, capsys, PY)
    assert rc == 1 and 'apt install python3-pip' in result['msg']


def test_powershell_without_pwsh_is_a_clear_error(host, capsys):
    host.pwsh = False
    rc, result = run_module(hrw_modules.main, capsys, {'powershell_modules': [{'name': 'Az.Accounts'}]})
    assert rc == 1 and 'pwsh is not installed' in result['msg'] and 'Az.Accounts' in result['msg']


def test_powershell_install_check_mode_idempotent_and_remove(host, capsys):
    host.modules = {'Az.Accounts': ['2.12.0']}
    args = {'powershell_modules': [{'name': 'Az.Accounts', 'version': '2.13.2'}, {'name': 'Pester'}], 'powershell_repository': 'Internal'}
    rc, check = run_module(hrw_modules.main, capsys, args, check_mode=True, diff=True)
    assert rc == 0 and check['changed'] is True and changing_calls(host) == []
    assert check['diff']['after']['powershell_modules'] == {'Az.Accounts': ['2.12.0', '2.13.2'], 'Pester': ['latest']}
    rc, real = run_module(hrw_modules.main, capsys, args)
    assert rc == 0 and real['changed'] is True
    scripts = [c[1] for c in host.calls if c[1] and 'Install-Module' in c[1]]
    assert len(scripts) == 2 and all('-Scope AllUsers' in s and "-Repository 'Internal'" in s for s in scripts)
    assert real['powershell_modules'] == {'Az.Accounts': ['2.12.0', '2.13.2'], 'Pester': ['1.0.0']}
    rc, again = run_module(hrw_modules.main, capsys, args)
    assert again['changed'] is False
    rc, removed = run_module(hrw_modules.main, capsys, {'state': 'absent', 'powershell_modules': [{'name': 'Az.Accounts'}]})
    assert removed['changed'] is True and host.modules.get('Az.Accounts') is None


def test_runtime_paths_edit_environment(host, capsys, tmp_path, monkeypatch):
    warned = []
    monkeypatch.setattr(AnsibleModule, 'warn', lambda module, message: warned.append(message))
    env = tmp_path / 'environment'
    env.write_text(u'PATH="/usr/bin:/bin"\n')
    pwsh = tmp_path / 'pwsh'
    pwsh.write_text(u'#!/bin/sh\n')
    pwsh.chmod(0o755)
    args = {'runtime_paths': {'powershell_7_2_path': str(pwsh), 'python_3_10_path': str(tmp_path / 'missing-python')}}
    rc, check = run_module(hrw_modules.main, capsys, args, check_mode=True, diff=True)
    assert rc == 0 and check['changed'] is True and check['restart_required'] is True
    assert env.read_text() == u'PATH="/usr/bin:/bin"\n'
    assert check['diff']['after']['environment'] == args['runtime_paths']
    assert any('missing-python' in w and 'not an executable file' in w for w in warned)
    rc, real = run_module(hrw_modules.main, capsys, args)
    assert real['changed'] is True and real['restart_required'] is True
    assert env.read_text() == u'PATH="/usr/bin:/bin"\npowershell_7_2_path=%s\npython_3_10_path=%s\n' % (
        pwsh, tmp_path / 'missing-python')
    rc, again = run_module(hrw_modules.main, capsys, args)
    assert again['changed'] is False and again['restart_required'] is False
    rc, unset = run_module(hrw_modules.main, capsys, {'runtime_paths': {'python_3_10_path': ''}})
    assert unset['changed'] is True and 'python_3_10_path' not in env.read_text() and 'powershell_7_2_path' in env.read_text()
    assert [a['action'] for a in unset['actions']] == ['unset']


def test_pip_index_and_find_links_are_exclusive(host, capsys):
    rc, result = run_module(hrw_modules.main, capsys, dict(PY, pip_index_url='https://mirror.example/simple'))
    assert rc == 1 and 'mutually exclusive' in result['msg']


@pytest.fixture(scope='module')
def venv_python(tmp_path_factory):
    """A throwaway venv. Borrow pip from the base interpreter when it has one (fast), else bootstrap it (ensurepip, ~10 s)."""
    target = tmp_path_factory.mktemp('venv')
    python = str(target / 'bin' / 'python')
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        subprocess.check_call([sys.executable, '-m', 'venv', '--without-pip', '--system-site-packages', str(target)], **quiet)
        if subprocess.call([python, '-m', 'pip', '--version'], **quiet) != 0:
            subprocess.check_call([sys.executable, '-m', 'venv', '--clear', str(target)], **quiet)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip('cannot create a virtual environment with pip here')
    return python


def test_real_pip_with_local_wheel_folder(venv_python, tmp_path, capsys):
    wheels = tmp_path / 'wheels'
    wheels.mkdir()
    make_wheel(wheels, 'hrw-demo', '1.0.0')
    newer = make_wheel(wheels, 'hrw-demo', '1.2.0')
    base = {'python_executable': venv_python, 'pip_find_links': str(wheels)}
    rc, first = run_module(hrw_modules.main, capsys, dict(base, python_packages=[{'name': 'HRW_Demo', 'version': '1.0.0'}]))
    assert rc == 0, first
    assert first['changed'] is True and first['python_packages'] == {'HRW_Demo': '1.0.0'}
    rc, again = run_module(hrw_modules.main, capsys, dict(base, python_packages=[{'name': 'hrw-demo', 'version': '1.0'}]))
    assert again['changed'] is False
    rc, upgrade = run_module(hrw_modules.main, capsys, {'python_executable': venv_python,
                                                        'python_packages': [{'name': 'hrw-demo', 'src': newer}]})
    assert upgrade['actions'][0]['action'] == 'upgrade' and upgrade['python_packages'] == {'hrw-demo': '1.2.0'}
    rc, removed = run_module(hrw_modules.main, capsys, dict(base, state='absent', python_packages=[{'name': 'hrw-demo'}]))
    assert removed['changed'] is True and removed['python_packages'] == {'hrw-demo': None}


def test_apply_expands_local_files_on_the_host(host, monkeypatch):
    """A pip_install step's files (python_packages[].src) are expanded here on the host, other specs are left alone."""
    monkeypatch.setenv('HOME', '/root-of-host')
    monkeypatch.setenv('WHEELS', '/srv/wheels')

    class Module(object):
        tmpdir = '/tmp'

        def run_command(self, argv, environ_update=None):
            return host.run_command(self, argv)

        def get_bin_path(self, name, required=False):
            return '/usr/bin/' + name

    step = {'kind': 'pip_install', 'specs': ['~/w/a-1.0-py3-none-any.whl', '$WHEELS/b-2.0.tar.gz', 'six'],
            'files': ['~/w/a-1.0-py3-none-any.whl', '$WHEELS/b-2.0.tar.gz']}
    host_apply.apply(Module(), {'steps': [step], 'python_executable': '/usr/bin/python3', 'break_system_packages': False,
                                'python': False, 'powershell_modules': [], 'powershell_repository': 'PSGallery'})
    installs = [c[0] for c in host.calls if c[0][3:4] == ['install']]
    assert installs and installs[0][-3:] == ['/root-of-host/w/a-1.0-py3-none-any.whl', '/srv/wheels/b-2.0.tar.gz', 'six']
