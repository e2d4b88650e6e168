# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each hrw_health check's ok/warn/fail decision."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils import _host_checks as hc


def status(item):
    return item['status']


# ---------------------------------------------------------------------------------------------------- helpers

def test_select_checks_all_by_default_and_skip():
    assert hc.select_checks() == list(hc.CHECK_IDS)
    assert hc.select_checks(['tls', 'dns'], ['dns']) == ['tls']
    assert 'v1_remnants' not in hc.select_checks(None, ['v1_remnants'])


def test_select_checks_rejects_unknown_id():
    with pytest.raises(ValueError, match='nope'):
        hc.select_checks(['nope'])


def test_summarize_and_failing():
    results = [hc.result('a', hc.OK, ''), hc.result('b', hc.WARN, 'x', 'y'), hc.result('c', hc.FAIL, 'x', 'y')]
    summary = hc.summarize(results)
    assert summary == {'ok': 1, 'warn': 1, 'fail': 1, 'total': 3, 'status': 'fail'}
    assert [r['id'] for r in hc.failing(results, 'fail')] == ['c']
    assert [r['id'] for r in hc.failing(results, 'warn')] == ['b', 'c']
    assert hc.failing(results, 'never') == []
    assert hc.summarize([hc.result('a', hc.OK, '')])['status'] == 'ok'


def test_report_puts_the_headline_first_then_fail_before_warn_with_the_fix():
    results = [hc.result('cpu_cores', hc.OK, '2 cores.'),
               hc.result('runtime_powershell', hc.WARN, 'pwsh not found.', 'Install PowerShell 7.'),
               hc.result('tls', hc.FAIL, 'Intercepted.', 'Exempt the endpoint.', target='x.azure-automation.net:443'),
               hc.result('log_folders', hc.WARN, 'Missing /var/log/x.', '')]
    assert hc.report(results) == [
        'FAIL: 1 ok, 2 warn, 1 fail',
        'FAIL tls (x.azure-automation.net:443): Intercepted. Fix: Exempt the endpoint.',
        'WARN runtime_powershell: pwsh not found. Fix: Install PowerShell 7.',
        'WARN log_folders: Missing /var/log/x.',
    ]
    assert hc.report([]) == ['OK: 0 ok, 0 warn, 0 fail']


def test_ok_result_has_empty_remediation():
    assert hc.result('x', hc.OK, 'fine', 'ignored')['remediation'] == ''


def test_parse_key_value_file():
    text = '# comment\nPATH="/usr/bin:/bin"\nexport https_proxy=http://p:3128\nID=debian\nVERSION_ID="12"\nbroken line\n'
    assert hc.parse_key_value_file(text) == {'PATH': '/usr/bin:/bin', 'https_proxy': 'http://p:3128', 'ID': 'debian',
                                             'VERSION_ID': '12'}


def test_redact_url_hides_credentials():
    assert hc.redact_url('http://alice:s3cret@proxy:3128') == 'http://***@proxy:3128'
    assert hc.redact_url('http://proxy:3128') == 'http://proxy:3128'
    assert 's3cret' not in hc.redact_url('https://u:s3cret@h/ and http://v:s3cret@k/')


def test_parse_version():
    assert hc.parse_version('PowerShell 7.4.2') == (7, 4, 2)
    assert hc.parse_version('1.1.11') == (1, 1, 11)
    assert hc.parse_version('none') == ()


# ---------------------------------------------------------------------------------------------------- size and OS

@pytest.mark.parametrize('cores, expected', [(1, 'fail'), (2, 'ok'), (8, 'ok'), (None, 'warn')])
def test_cpu_cores(cores, expected):
    assert status(hc.check_cpu_cores(cores)) == expected


@pytest.mark.parametrize('mb, expected', [(2048, 'fail'), (3686, 'fail'), (3700, 'warn'), (4096, 'ok'), (None, 'warn')])
def test_memory(mb, expected):
    assert status(hc.check_memory(mb)) == expected


@pytest.mark.parametrize('mb, expected', [(500, 'fail'), (1500, 'warn'), (2048, 'ok'), (None, 'warn')])
def test_disk_space(mb, expected):
    item = hc.check_disk_space('/var', mb)
    assert status(item) == expected
    assert item['target'] == '/var'


@pytest.mark.parametrize('release, machine, expected', [
    ({'ID': 'debian', 'VERSION_ID': '12'}, 'x86_64', 'ok'),
    ({'ID': 'debian', 'VERSION_ID': '13'}, 'x86_64', 'warn'),
    ({'ID': 'ubuntu', 'VERSION_ID': '22.04'}, 'x86_64', 'ok'),
    ({'ID': 'ubuntu', 'VERSION_ID': '23.10'}, 'x86_64', 'warn'),
    ({'ID': 'rhel', 'VERSION_ID': '8.9'}, 'x86_64', 'ok'),
    ({'ID': 'sles', 'VERSION_ID': '15.3'}, 'x86_64', 'ok'),
    ({'ID': 'alpine', 'VERSION_ID': '3.19'}, 'x86_64', 'warn'),
    ({'ID': 'debian', 'VERSION_ID': '12'}, 'aarch64', 'fail'),
    ({}, 'x86_64', 'warn'),
])
def test_os_supported(release, machine, expected):
    assert status(hc.check_os_supported(release, machine)) == expected


# ---------------------------------------------------------------------------------------------------- network

def test_dns():
    assert status(hc.check_dns('h', ['10.0.0.1'])) == 'ok'
    item = hc.check_dns('h', [], '[Errno -2] Name or service not known')
    assert status(item) == 'fail' and 'Name or service' in item['summary']


def test_tcp_connect_mentions_proxy_when_configured():
    assert status(hc.check_tcp_connect('h', 443, None, 12)) == 'ok'
    item = hc.check_tcp_connect('h', 443, 'timed out', proxy_configured=True)
    assert status(item) == 'fail' and 'Proxy_URL' in item['summary']
    assert 'Proxy_URL' not in hc.check_tcp_connect('h', 443, 'timed out')['summary']


def test_tcp_connect_through_proxy():
    item = hc.check_tcp_connect('h', 443, None, 5, via='http://***@proxy:3128')
    assert item['status'] == 'ok' and 'through proxy http://***@proxy:3128' in item['summary']
    failed = hc.check_tcp_connect('h', 443, 'the proxy answered "HTTP/1.1 407"', via='http://proxy:3128')
    assert failed['status'] == 'fail' and 'CONNECT' in failed['remediation']


def test_tls_ok_when_verified_and_expected_issuer():
    facts = {'verified': True, 'leaf_issuer': 'CN=Microsoft Azure RSA TLS Issuing CA 03, O=Microsoft Corporation',
             'names': ['Microsoft Azure RSA TLS Issuing CA 03', 'Microsoft Corporation']}
    assert status(hc.check_tls('h', 443, facts)) == 'ok'


def test_tls_warns_interception_when_verified_but_unexpected_issuer():
    facts = {'verified': True, 'leaf_issuer': 'CN=Contoso Inspection CA, O=Contoso', 'names': ['Contoso Inspection CA', 'Contoso']}
    item = hc.check_tls('h', 443, facts)
    assert status(item) == 'warn'
    assert item['summary'].startswith('TLS interception')
    assert 'Contoso' in item['summary']
    assert status(hc.check_tls('h', 443, facts, ['contoso inspection'])) == 'ok'


@pytest.mark.parametrize('code', [19, 20, 21, 18, 62])
def test_tls_fail_looks_like_interception(code):
    facts = {'verified': False, 'verify_code': code, 'verify_message': 'self-signed certificate in certificate chain',
             'leaf_issuer': 'CN=Zscaler Intermediate Root CA, O=Zscaler Inc.', 'names': ['Zscaler Intermediate Root CA', 'Zscaler Inc.']}
    item = hc.check_tls('h', 443, facts)
    assert status(item) == 'fail'
    assert 'TLS-intercepting proxy' in item['summary']


def test_tls_fail_not_interception_when_issuer_expected():
    facts = {'verified': False, 'verify_code': 20, 'verify_message': 'unable to get local issuer certificate',
             'leaf_issuer': 'CN=Microsoft Azure RSA TLS Issuing CA 03, O=Microsoft Corporation', 'names': ['Microsoft Corporation']}
    item = hc.check_tls('h', 443, facts)
    assert status(item) == 'fail'
    assert 'does not look like interception' in item['summary']
    assert 'ca-certificates' in item['remediation']


def test_tls_fail_other_reason_and_handshake_error():
    facts = {'verified': False, 'verify_code': 10, 'verify_message': 'certificate has expired', 'leaf_issuer': 'CN=X', 'names': ['X']}
    item = hc.check_tls('h', 443, facts)
    assert status(item) == 'fail' and 'interception' not in item['summary'].lower()
    assert status(hc.check_tls('h', 443, {'handshake_error': 'connection reset'})) == 'fail'


@pytest.mark.parametrize('skew, expected', [(0, 'ok'), (-60, 'ok'), (61, 'warn'), (-300, 'warn'), (301, 'fail'), (None, 'warn')])
def test_clock_skew(skew, expected):
    assert status(hc.check_clock_skew('h', skew)) == expected


def test_proxy_none():
    assert status(hc.check_proxy({'PATH': '/bin'}, {}, 'unknown')) == 'ok'
    item = hc.check_proxy({}, {}, True)
    assert status(item) == 'ok' and 'has a Proxy_URL' in item['summary']


def test_proxy_reported_without_secrets():
    item = hc.check_proxy({'HTTPS_PROXY': 'http://bob:hunter2@proxy:3128'}, {'https_proxy': 'http://bob:hunter2@proxy:3128'}, True)
    assert status(item) == 'ok'
    assert 'hunter2' not in repr(item)
    assert 'proxy:3128' in item['summary']


@pytest.mark.parametrize('extension, expected', [(False, 'warn'), (True, 'ok'), (None, 'ok'), ('unknown', 'ok')])
def test_proxy_against_extension_proxy_url(extension, expected):
    item = hc.check_proxy({}, {'https_proxy': 'http://proxy:3128'}, extension)
    assert status(item) == expected
    if expected == 'warn':
        assert 'Proxy_URL' in item['remediation']


def test_proxy_warns_when_env_and_file_differ():
    assert status(hc.check_proxy({'https_proxy': 'http://a:1'}, {'https_proxy': 'http://b:1'}, True)) == 'warn'


# ---------------------------------------------------------------------------------------------------- worker state

@pytest.mark.parametrize('facts, expected', [
    ({'manager': True, 'active': 'active', 'enabled': 'enabled'}, 'ok'),
    ({'manager': True, 'active': 'active', 'enabled': 'disabled'}, 'warn'),
    ({'manager': True, 'active': 'inactive', 'enabled': 'enabled'}, 'fail'),
    ({'manager': True, 'active': 'failed', 'enabled': 'enabled'}, 'fail'),
    ({'manager': False}, 'warn'),
])
def test_worker_service(facts, expected):
    assert status(hc.check_worker_service('hwd', facts)) == expected


def test_worker_user():
    assert status(hc.check_worker_user('hweautomation', True)) == 'ok'
    assert status(hc.check_worker_user('hweautomation', False)) == 'fail'


@pytest.mark.parametrize('versions, expected', [([], 'fail'), (['1.1.10'], 'warn'), (['1.1.11'], 'ok'),
                                                (['1.1.9', '1.1.13'], 'ok'), (['0.1.0.12'], 'warn')])
def test_extension_install(versions, expected):
    assert status(hc.check_extension_install(versions)) == expected


def test_extension_install_reports_newest():
    assert '1.1.13' in hc.check_extension_install(['1.1.13', '1.1.9'])['summary']


URL = 'https://abc.jrds.eus2.azure-automation.net/automationAccounts/abc'


@pytest.mark.parametrize('found, url, expected_url, expected', [
    (False, None, None, 'fail'),
    (True, None, None, 'fail'),
    (True, 'http://abc/automationAccounts/abc', None, 'fail'),
    (True, URL, None, 'ok'),
    (True, URL + '/', URL.upper(), 'ok'),
    (True, URL, 'https://other.jrds.eus2.azure-automation.net/automationAccounts/other', 'fail'),
])
def test_extension_settings(found, url, expected_url, expected):
    assert status(hc.check_extension_settings(found, url, expected_url)) == expected


@pytest.mark.parametrize('value, expected', [('success', 'ok'), ('Success', 'ok'), ('transitioning', 'warn'), ('warning', 'warn'),
                                             ('error', 'fail'), (None, 'warn')])
def test_extension_status(value, expected):
    assert status(hc.check_extension_status(value, 'msg')) == expected


def test_log_folders():
    assert status(hc.check_log_folders({'/a': True, '/b': True})) == 'ok'
    item = hc.check_log_folders({'/a': True, '/b': False})
    assert status(item) == 'warn' and item['details']['missing'] == ['/b']


def test_runtime_powershell():
    assert status(hc.check_runtime_powershell(None, ())) == 'warn'
    assert status(hc.check_runtime_powershell('/usr/bin/pwsh', ())) == 'warn'
    assert status(hc.check_runtime_powershell('/usr/bin/pwsh', (7, 4, 2))) == 'ok'


def test_runtime_python():
    assert status(hc.check_runtime_python(None, ())) == 'fail'
    assert status(hc.check_runtime_python('/usr/bin/python', (2, 7, 18))) == 'warn'
    assert status(hc.check_runtime_python('/usr/bin/python3', (3, 11, 2))) == 'ok'


def test_runtime_paths():
    assert status(hc.check_runtime_paths({}, {})) == 'warn'
    values = {'powershell_7_2_path': '/opt/microsoft/powershell/7/pwsh', 'python_3_10_path': '/usr/bin/python3'}
    assert status(hc.check_runtime_paths(values, {'/opt/microsoft/powershell/7/pwsh': True, '/usr/bin/python3': True})) == 'ok'
    item = hc.check_runtime_paths(values, {'/opt/microsoft/powershell/7/pwsh': False, '/usr/bin/python3': True})
    assert status(item) == 'fail' and 'powershell_7_2_path' in item['summary']
    one = hc.check_runtime_paths({'python_3_10_path': '/usr/bin/python3'}, {'/usr/bin/python3': True})
    assert status(one) == 'ok' and 'Not set: powershell_7_2_path' in one['summary']


def test_v1_remnants():
    assert status(hc.check_v1_remnants([], [], [])) == 'ok'
    files = hc.check_v1_remnants(['/opt/microsoft/omsagent'], [], ['nxautomation'])
    assert status(files) == 'warn' and 'Leftovers' in files['summary']
    running = hc.check_v1_remnants([], ['python /opt/microsoft/omsconfig/.../automationworker/worker/main.py'], [])
    assert status(running) == 'warn' and 'running' in running['summary']
