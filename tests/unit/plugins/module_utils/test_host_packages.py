# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""hrw_modules decisions: install / upgrade / downgrade / remove / noop, commands, /etc/environment edits."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils import _host_packages as pk


def actions(plan):
    return [(p['name'], p['action']) for p in plan]


# ---------------------------------------------------------------------------------------------------- versions

def test_normalize_and_versions():
    assert pk.normalize_pip_name('Azure_Identity.Extra') == 'azure-identity-extra'
    assert pk.same_version('1.0', '1.0.0')
    assert not pk.same_version('1.0.1', '1.0')
    assert pk.compare_versions('2.10.0', '2.9.1') == 1
    assert pk.compare_versions('1.0.0rc1', '1.0.0') == -1
    assert pk.compare_versions('1.0.0rc2', '1.0.0rc1') == 1
    assert pk.compare_versions('1.0.post1', '1.0') == 1
    assert pk.compare_versions('7.5.0-preview.2', '7.4.6') == 1
    assert pk.compare_versions('1.2', '1.2.0') == 0


def test_version_from_filename():
    assert pk.version_from_filename('/w/hrw_demo-1.2.0-py3-none-any.whl') == ('hrw_demo', '1.2.0')
    assert pk.version_from_filename('requests-2.32.3.tar.gz') == ('requests', '2.32.3')
    assert pk.version_from_filename('/w/notes.txt') == (None, None)


# ---------------------------------------------------------------------------------------------------- python plan

INSTALLED = {'requests': '2.31.0', 'azure-identity': '1.17.0'}


@pytest.mark.parametrize('req, state, expected', [
    ({'name': 'requests'}, 'present', 'noop'),
    ({'name': 'Requests', 'version': '2.31.0'}, 'present', 'noop'),
    ({'name': 'requests', 'version': '2.32.3'}, 'present', 'upgrade'),
    ({'name': 'requests', 'version': '2.30.0'}, 'present', 'downgrade'),
    ({'name': 'six'}, 'present', 'install'),
    ({'name': 'six', 'version': '1.16.0'}, 'present', 'install'),
    ({'name': 'azure_identity'}, 'absent', 'remove'),
    ({'name': 'requests', 'version': '2.31.0'}, 'absent', 'remove'),
    ({'name': 'requests', 'version': '2.0.0'}, 'absent', 'noop'),
    ({'name': 'six'}, 'absent', 'noop'),
    ({'name': 'requests', 'src': '/w/requests-2.32.3-py3-none-any.whl'}, 'present', 'upgrade'),
    ({'name': 'requests', 'src': '/w/requests-2.31.0-py3-none-any.whl'}, 'present', 'noop'),
])
def test_plan_python(req, state, expected):
    plan = pk.plan_python([req], INSTALLED, state)
    assert actions(plan) == [(req['name'], expected)]


def test_plan_python_specs_and_values():
    plan = pk.plan_python([{'name': 'requests', 'version': '2.32.3'}, {'name': 'six'},
                           {'name': 'x', 'src': '/w/x-1.0-py3-none-any.whl'}], INSTALLED, 'present')
    assert [p['spec'] for p in plan] == ['requests==2.32.3', 'six', '/w/x-1.0-py3-none-any.whl']
    assert plan[0]['before'] == '2.31.0' and plan[0]['after'] == '2.32.3'
    assert plan[1]['after'] == 'latest'
    assert plan[2]['after'] == '1.0'
    assert [p['name'] for p in pk.changes(plan)] == ['requests', 'six', 'x']


# ---------------------------------------------------------------------------------------------------- powershell plan

PS_INSTALLED = {'az.accounts': ['2.12.0', '2.13.2'], 'pester': ['5.5.0']}


@pytest.mark.parametrize('req, state, expected, after', [
    ({'name': 'Az.Accounts'}, 'present', 'noop', ['2.12.0', '2.13.2']),
    ({'name': 'Az.Accounts', 'version': '2.12.0'}, 'present', 'noop', ['2.12.0', '2.13.2']),
    ({'name': 'Az.Accounts', 'version': '3.0.0'}, 'present', 'upgrade', ['2.12.0', '2.13.2', '3.0.0']),
    ({'name': 'Az.Accounts', 'version': '2.11.0'}, 'present', 'install', ['2.11.0', '2.12.0', '2.13.2']),
    ({'name': 'Az.Storage'}, 'present', 'install', ['latest']),
    ({'name': 'Az.Storage', 'version': '6.1.0'}, 'present', 'install', ['6.1.0']),
    ({'name': 'Az.Accounts', 'version': '2.12.0'}, 'absent', 'remove', ['2.13.2']),
    ({'name': 'Az.Accounts'}, 'absent', 'remove', []),
    ({'name': 'Az.Accounts', 'version': '9.9.9'}, 'absent', 'noop', ['2.12.0', '2.13.2']),
    ({'name': 'Az.Storage'}, 'absent', 'noop', []),
])
def test_plan_powershell(req, state, expected, after):
    plan = pk.plan_powershell([req], PS_INSTALLED, state)
    assert actions(plan) == [(req['name'], expected)]
    assert plan[0]['after'] == after


def test_pwsh_change_scripts():
    install = pk.plan_powershell([{'name': "Az.Accounts", 'version': '3.0.0'}], PS_INSTALLED, 'present')[0]
    script = pk.pwsh_change_script(install, 'PSGallery')
    assert "Install-Module -Name 'Az.Accounts' -RequiredVersion '3.0.0' -Repository 'PSGallery' -Scope AllUsers" in script
    latest = pk.plan_powershell([{'name': 'Az.Storage'}], PS_INSTALLED, 'present')[0]
    assert '-RequiredVersion' not in pk.pwsh_change_script(latest, "My'Feed")
    assert "'My''Feed'" in pk.pwsh_change_script(latest, "My'Feed")
    one = pk.plan_powershell([{'name': 'Az.Accounts', 'version': '2.12.0'}], PS_INSTALLED, 'absent')[0]
    assert pk.pwsh_change_script(one, 'PSGallery') == "Uninstall-Module -Name 'Az.Accounts' -RequiredVersion '2.12.0' -Force -ErrorAction Stop"
    every = pk.plan_powershell([{'name': 'Az.Accounts'}], PS_INSTALLED, 'absent')[0]
    assert '-AllVersions' in pk.pwsh_change_script(every, 'PSGallery')


def test_pwsh_argv_round_trip():
    argv = pk.pwsh_argv('/usr/bin/pwsh', "Get-Module -ListAvailable -Name 'It''s'")
    assert argv[:5] == ['/usr/bin/pwsh', '-NoLogo', '-NoProfile', '-NonInteractive', '-EncodedCommand']
    script = pk.decode_pwsh_argv(argv)
    assert script.startswith("$ErrorActionPreference = 'Stop'") and script.endswith("'It''s'")


def test_parse_pwsh_list():
    single = json.dumps({'Name': 'Pester', 'Version': '5.5.0', 'ModuleBase': '/usr/local/share/powershell/Modules/Pester/5.5.0'})
    assert pk.parse_pwsh_list(single) == {'pester': ['5.5.0']}
    many = json.dumps([{'Name': 'Az.Accounts', 'Version': '2.12.0', 'ModuleBase': 'a'},
                       {'Name': 'Az.Accounts', 'Version': '2.13.2', 'ModuleBase': 'b'}])
    assert pk.parse_pwsh_list(many) == {'az.accounts': ['2.12.0', '2.13.2']}
    assert pk.parse_pwsh_list('') == {} and pk.parse_pwsh_list('[]') == {}
    assert "'It''s'" in pk.pwsh_list_script(["It's"])


# ---------------------------------------------------------------------------------------------------- pip commands

def test_pip_argv():
    assert pk.pip_install_argv('/usr/bin/python3', ['a==1'], find_links='/w', index_url='https://ignored', break_system_packages=True) == [
        '/usr/bin/python3', '-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--break-system-packages',
        '--no-index', '--find-links', '/w', 'a==1']
    assert pk.pip_install_argv('py', ['a'], index_url='https://mirror/simple')[-3:] == ['--index-url', 'https://mirror/simple', 'a']
    assert '--break-system-packages' not in pk.pip_uninstall_argv('py', ['a'])
    assert pk.pip_uninstall_argv('py', ['a', 'b'], True)[-3:] == ['--break-system-packages', 'a', 'b']
    assert pk.parse_pip_list('[{"name": "Azure_Core", "version": "1.41.0"}]') == {'azure-core': '1.41.0'}


# ---------------------------------------------------------------------------------------------------- /etc/environment

BASE = 'PATH="/usr/local/bin:/usr/bin"\n# keep me\npython_3_10_path=/usr/bin/python3.10\n'


def test_environment_set_new_and_change_keeps_other_lines():
    text, diff = pk.plan_environment(BASE, {'powershell_7_2_path': '/opt/microsoft/powershell/7/pwsh',
                                            'python_3_10_path': '/usr/bin/python3'})
    assert diff == {'powershell_7_2_path': (None, '/opt/microsoft/powershell/7/pwsh'),
                    'python_3_10_path': ('/usr/bin/python3.10', '/usr/bin/python3')}
    assert text == ('PATH="/usr/local/bin:/usr/bin"\n# keep me\npython_3_10_path=/usr/bin/python3\n'
                    'powershell_7_2_path=/opt/microsoft/powershell/7/pwsh\n')
    again, diff2 = pk.plan_environment(text, {'powershell_7_2_path': '/opt/microsoft/powershell/7/pwsh',
                                              'python_3_10_path': '/usr/bin/python3'})
    assert diff2 == {} and again == text


def test_environment_unset_quotes_duplicates_and_ignore():
    text, diff = pk.plan_environment(BASE + 'python_3_10_path=/dup\n', {'python_3_10_path': '', 'powershell_7_2_path': None})
    assert diff == {'python_3_10_path': ('/usr/bin/python3.10', None)}
    assert 'python_3_10_path' not in text and '# keep me' in text
    quoted, _diff = pk.plan_environment('', {'powershell_7_2_path': '/opt/my pwsh/pwsh'})
    assert quoted == 'powershell_7_2_path="/opt/my pwsh/pwsh"\n'
    same, diff3 = pk.plan_environment('python_3_10_path="/usr/bin/python3"\n', {'python_3_10_path': '/usr/bin/python3'})
    assert diff3 == {} and same == 'python_3_10_path="/usr/bin/python3"\n'
    assert pk.plan_environment('', {'python_3_10_path': ''}) == ('', {})


# ---------------------------------------------------------------------------------------------------- one comparison per ecosystem

def test_pep440_order_of_python_versions():
    chain = ['1.0.dev1', '1.0a1', '1.0alpha2', '1.0b1', '1.0rc1', '1.0', '1.0.post1', '1.0.post1+local.7', '1.1.dev0', '1.1']
    assert sorted(reversed(chain), key=pk.pep440_key) == chain
    assert pk.same_version('1.0alpha1', '1.0a1') and pk.same_version('1.0-rc.1', '1.0rc1') and pk.same_version('1!2.0', '1!2')
    assert pk.compare_versions('1.0.dev1', '1.0a1') == -1


def test_semver_order_of_powershell_module_versions():
    chain = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1',
             '1.0.0', '1.0.1-preview', '1.0.1', '1.0.1.4']
    assert sorted(reversed(chain), key=pk.semver_key) == chain
    assert pk.same_version('2.0.0+build.5', '2.0', pk.semver_key)


def test_release_over_its_prerelease_is_an_upgrade_in_both_planners():
    assert actions(pk.plan_python([{'name': 'x', 'version': '1.0.0'}], {'x': '1.0.0rc1'}, 'present')) == [('x', 'upgrade')]
    assert actions(pk.plan_python([{'name': 'x', 'version': '1.0.0rc1'}], {'x': '1.0.0'}, 'present')) == [('x', 'downgrade')]
    plan = pk.plan_powershell([{'name': 'Az.Accounts', 'version': '2.0.0'}], {'az.accounts': ['2.0.0-preview']}, 'present')
    assert actions(plan) == [('Az.Accounts', 'upgrade')] and plan[0]['after'] == ['2.0.0-preview', '2.0.0']
    plan = pk.plan_powershell([{'name': 'Pester', 'version': '6.0.0-alpha.beta'}], {'pester': ['6.0.0-alpha.1']}, 'present')
    assert actions(plan) == [('Pester', 'upgrade')]


def test_prerelease_module_install_step_asks_for_prerelease():
    plan = pk.plan_powershell([{'name': 'Az.Accounts', 'version': '3.0.0-preview'}], {}, 'present')
    script = pk.pwsh_change_script(plan[0], 'PSGallery')
    assert "-RequiredVersion '3.0.0-preview' -AllowPrerelease" in script
    assert '-AllowPrerelease' not in pk.pwsh_change_script(pk.plan_powershell([{'name': 'A', 'version': '3.0.0'}], {}, 'present')[0], 'G')


def test_prerelease_module_removal_step_asks_for_prerelease():
    """PowerShellGet refuses Uninstall-Module -RequiredVersion '2.0.0-preview' without -AllowPrerelease."""
    installed = {'az.accounts': ['2.0.0-preview', '1.9.0']}
    one = pk.plan_powershell([{'name': 'Az.Accounts', 'version': '2.0.0-preview'}], installed, 'absent')[0]
    assert pk._module_step(one) == {'kind': 'module_uninstall', 'name': 'Az.Accounts', 'versions': ['2.0.0-preview'], 'prerelease': True}
    assert pk.pwsh_change_script(one, 'PSGallery') == ("Uninstall-Module -Name 'Az.Accounts' -RequiredVersion '2.0.0-preview' "
                                                       "-AllowPrerelease -Force -ErrorAction Stop")
    every = pk.plan_powershell([{'name': 'Az.Accounts'}], installed, 'absent')[0]
    assert pk.pwsh_change_script(every, 'PSGallery') == "Uninstall-Module -Name 'Az.Accounts' -AllVersions -AllowPrerelease -Force -ErrorAction Stop"
    release = pk.plan_powershell([{'name': 'Az.Accounts', 'version': '1.9.0'}], installed, 'absent')[0]
    assert '-AllowPrerelease' not in pk.pwsh_change_script(release, 'PSGallery')


@pytest.mark.parametrize('version', ['1.0_beta', '1.x'])
def test_module_step_for_a_version_that_is_not_semver_does_not_crash(version):
    """The planner accepts any version text; the step for it must not raise (IndexError on semver_key's fallback key)."""
    plan = pk.plan_powershell([{'name': 'Az.Accounts', 'version': version}], {'az.accounts': ['1.0.0']}, 'present')
    step = pk._module_step(plan[0])
    assert step == {'kind': 'module_install', 'name': 'Az.Accounts', 'version': version, 'prerelease': False}
    assert "-RequiredVersion '%s'" % version in pk.pwsh_step_script(step, 'PSGallery')
    assert pk.is_prerelease('3.0.0-preview') and not pk.is_prerelease('3.0.0') and not pk.is_prerelease(version)
