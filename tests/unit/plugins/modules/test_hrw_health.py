# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""hrw_health (Linux) end to end in-process: a fake extension tree, fail_on, selection, network checks on 127.0.0.1."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import socket
import sys

import pytest

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils import _host_checks as hc
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils import _host_probe as probe
from ansible_collections.azure_automation.hybrid_worker.plugins.modules import hrw_health

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hrw_host_testing import run_module  # noqa: E402

URL = 'https://abc.jrds.emu.azure-automation.net/automationAccounts/abc'
WORKER = ['extension_install', 'extension_settings', 'extension_status', 'runtime_paths', 'proxy']


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def worker_tree(tmp_path, monkeypatch):
    """The on-host layout of an installed extension (what the lab stand-in writes too)."""
    monkeypatch.setattr(probe, 'WAAGENT_DIR', str(tmp_path / 'waagent'))
    monkeypatch.setattr(probe, 'ENVIRONMENT_FILE', str(tmp_path / 'environment'))
    install = tmp_path / 'waagent' / (probe.EXTENSION_NAME + '-1.1.13')
    _write(install / 'status' / '1.status',
           json.dumps([{'status': {'status': 'success', 'formattedMessage': {'message': 'Enable succeeded'}}}]))
    _write(tmp_path / 'waagent' / probe.EXTENSION_NAME / 'config' / '1.settings', json.dumps(
        {'runtimeSettings': [{'handlerSettings': {'publicSettings': {'AutomationAccountURL': URL},
                                                  'protectedSettings': {'Proxy_URL': 'http://u:topsecret@proxy:3128'}}}]}))
    python = tmp_path / 'python3'
    _write(python, '#!/bin/sh\n')
    python.chmod(0o755)
    _write(tmp_path / 'environment', 'python_3_10_path=%s\nhttps_proxy=http://u:topsecret@proxy:3128\n' % python)
    return tmp_path


def by_id(result):
    return dict((c['id'], c) for c in result['checks'])


def test_healthy_worker_tree(worker_tree, capsys):
    rc, result = run_module(hrw_health.main, capsys, {'checks': WORKER, 'automation_account_url': URL + '/'})
    assert rc == 0, result
    checks = by_id(result)
    assert [c['id'] for c in result['checks']] == [c for c in hc.CHECK_IDS if c in WORKER]
    assert set(c['status'] for c in result['checks']) == {'ok'}, result['checks']
    assert '1.1.13' in checks['extension_install']['summary']
    assert checks['extension_status']['summary'] == 'Extension reports success (Enable succeeded).'
    assert result['changed'] is False
    assert result['summary'] == {'ok': 5, 'warn': 0, 'fail': 0, 'total': 5, 'status': 'ok'}
    assert result['report'] == ['OK: 5 ok, 0 warn, 0 fail']
    assert 'topsecret' not in json.dumps(result)


def test_wrong_account_fails_the_task_and_still_returns_checks(worker_tree, capsys):
    other = 'https://other.jrds.emu.azure-automation.net/automationAccounts/other'
    rc, result = run_module(hrw_health.main, capsys, {'checks': ['extension_settings'], 'automation_account_url': other})
    assert rc == 1
    # The message says what is wrong and how to fix it, not only which check failed.
    assert result['msg'] == ('1 health check(s) at or above fail: FAIL extension_settings: AutomationAccountURL is %s, '
                             'expected %s. Fix: The worker reports to another account: update the extension settings '
                             '(hrw_register).' % (URL, other))
    assert result['checks'][0]['status'] == 'fail' and result['summary']['fail'] == 1
    assert result['report'] == ['FAIL: 0 ok, 0 warn, 1 fail', result['msg'].split(': ', 1)[1]]


@pytest.mark.parametrize('fail_on, rc', [('fail', 0), ('warn', 1), ('never', 0)])
def test_fail_on_with_a_warning(worker_tree, capsys, fail_on, rc):
    (worker_tree / 'environment').write_text(u'')
    got, result = run_module(hrw_health.main, capsys, {'checks': ['runtime_paths'], 'fail_on': fail_on})
    assert got == rc
    assert result['checks'][0]['status'] == 'warn'


def test_fail_on_never_with_a_failure(worker_tree, capsys, monkeypatch):
    monkeypatch.setattr(probe, 'WAAGENT_DIR', str(worker_tree / 'empty'))
    rc, result = run_module(hrw_health.main, capsys, {'checks': ['extension_install'], 'fail_on': 'never'}, check_mode=True)
    assert rc == 0 and result['summary']['status'] == 'fail' and result['changed'] is False


def test_skip_checks_and_unknown_choice(worker_tree, capsys):
    rc, result = run_module(hrw_health.main, capsys, {'checks': WORKER, 'skip_checks': ['proxy', 'runtime_paths']})
    assert [c['id'] for c in result['checks']] == ['extension_install', 'extension_settings', 'extension_status']
    rc, result = run_module(hrw_health.main, capsys, {'checks': ['bogus']})
    assert rc == 1 and 'bogus' in result['msg']


def test_endpoint_taken_from_extension_settings_and_closed_port(worker_tree, capsys, tmp_path):
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    settings = worker_tree / 'waagent' / probe.EXTENSION_NAME / 'config' / '2.settings'
    _write(settings, json.dumps({'runtimeSettings': [{'handlerSettings': {
        'publicSettings': {'AutomationAccountURL': 'https://127.0.0.1:%d/automationAccounts/abc' % port}}}]}))
    rc, result = run_module(hrw_health.main, capsys, {'checks': ['dns', 'tcp_connect', 'tls', 'clock_skew'], 'timeout': 2,
                                                      'extra_endpoints': ['localhost:%d' % port], 'fail_on': 'never'})
    assert rc == 0
    assert result['endpoints'] == ['127.0.0.1:%d' % port, 'localhost:%d' % port]
    assert result['automation_account_url'].startswith('https://127.0.0.1:')
    statuses = [(c['id'], c['status']) for c in result['checks']]
    assert statuses == [('dns', 'ok'), ('dns', 'ok'), ('tcp_connect', 'fail'), ('tcp_connect', 'fail'),
                        ('tls', 'fail'), ('tls', 'fail'), ('clock_skew', 'warn')]
    assert 'not tried' in by_id(result)['tls']['summary']


def test_no_endpoint_known(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(probe, 'WAAGENT_DIR', str(tmp_path))
    rc, result = run_module(hrw_health.main, capsys, {'checks': ['dns', 'tls'], 'fail_on': 'warn'})
    assert rc == 1 and [c['status'] for c in result['checks']] == ['warn', 'warn']
    assert result['endpoints'] == []


def test_host_checks_run_here(capsys):
    rc, result = run_module(hrw_health.main, capsys, {'checks': ['cpu_cores', 'memory', 'disk_space', 'os_supported'],
                                                      'min_cpu_cores': 1, 'min_memory_mb': 1, 'min_disk_free_mb': 1,
                                                      'disk_path': '/nonexistent/sub/dir'})
    assert rc == 0
    checks = by_id(result)
    assert checks['cpu_cores']['status'] == 'ok' and checks['memory']['status'] == 'ok'
    assert checks['disk_space']['target'] == '/nonexistent/sub/dir' and checks['disk_space']['status'] == 'ok'


def test_parse_endpoint():
    assert hc.parse_endpoint(URL) == ('abc.jrds.emu.azure-automation.net', 443)
    assert hc.parse_endpoint('h.azure-automation.net:8443') == ('h.azure-automation.net', 8443)
    assert hc.parse_endpoint('https://[::1]:9/x') == ('::1', 9)
    with pytest.raises(ValueError):
        hc.parse_endpoint('https:///nohost')


def test_posix_host_runs_the_python_implementation(tmp_path):
    """Through ansible itself: the action runs the probe hrw_host_probe.py, not the sorted-first hrw_host_probe.ps1."""
    import subprocess
    ansible = os.path.join(os.path.dirname(sys.executable), 'ansible')
    if not os.path.exists(ansible):
        pytest.skip('the ansible command is not next to this Python')
    collections_root = os.path.abspath(os.path.join(os.path.dirname(hrw_health.__file__), '..', '..', '..', '..', '..'))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_root, ANSIBLE_LOCALHOST_WARNING='0',
               ANSIBLE_INVENTORY_UNPARSED_WARNING='0', ANSIBLE_NOCOLOR='1',
               ANSIBLE_HOME=str(tmp_path), ANSIBLE_REMOTE_TMP=str(tmp_path / 'remote'), ANSIBLE_LOCAL_TEMP=str(tmp_path / 'local'))
    out = subprocess.run([ansible, 'localhost', '-m', 'azure_automation.hybrid_worker.hrw_health', '-a', 'checks=cpu_cores min_cpu_cores=1',
                          '-e', 'ansible_python_interpreter=%s' % sys.executable],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, check=False, timeout=120)
    assert out.returncode == 0, out.stdout.decode() + out.stderr.decode()
    text = out.stdout.decode()
    assert text.startswith('localhost | SUCCESS => '), text
    result = json.loads(text[text.index('{'):])
    assert result['checks'][0]['id'] == 'cpu_cores' and result['checks'][0]['status'] == 'ok'
    assert result['changed'] is False


def test_proxy_url_password_never_in_output(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(probe, 'WAAGENT_DIR', str(tmp_path))
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    rc, result = run_module(hrw_health.main, capsys, {
        'checks': ['tcp_connect', 'tls'], 'automation_account_url': URL, 'fail_on': 'never', 'timeout': 2,
        'proxy_url': 'http://bob:s3cr3t-pw@127.0.0.1:%d' % port})
    assert rc == 0
    tcp = by_id(result)['tcp_connect']
    assert tcp['status'] == 'fail' and 'through proxy http://***@127.0.0.1:%d' % port in tcp['summary']
    assert 's3cr3t-pw' not in json.dumps(result)


@pytest.mark.parametrize('secret', ['pa#ss-w0rd', 'pa/ss-w0rd', 'pa?ss-w0rd'])
def test_proxy_url_is_no_log_even_when_its_password_is_not_url_encoded(tmp_path, capsys, monkeypatch, secret):
    # A '#', '/' or '?' in an unencoded password ends the URL's authority, so the password cannot be found by parsing
    # the URL: only no_log on the whole option keeps it out of the result (the invocation that INJECT_INVOCATION
    # adds included), as on Windows.
    monkeypatch.setattr(probe, 'WAAGENT_DIR', str(tmp_path))
    rc, result = run_module(hrw_health.main, capsys, {'checks': ['tcp_connect'], 'automation_account_url': URL, 'fail_on': 'never',
                                                      'timeout': 1, 'proxy_url': 'http://bob:%s@127.0.0.1:9' % secret,
                                                      '_ansible_inject_invocation': True})
    assert 'ss-w0rd' not in json.dumps(result)
    assert result['invocation']['module_args']['proxy_url'] == 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'


def test_bad_proxy_url_fails_without_echoing_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(probe, 'WAAGENT_DIR', str(tmp_path))
    rc, result = run_module(hrw_health.main, capsys, {'checks': ['tcp_connect'], 'automation_account_url': URL,
                                                      'proxy_url': 'socks5://bob:s3cr3t-pw@proxy:1080'})
    assert rc == 1 and 'proxy_url must look like' in result['msg'] and 's3cr3t-pw' not in json.dumps(result)
