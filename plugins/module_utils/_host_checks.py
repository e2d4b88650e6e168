# -*- coding: utf-8 -*-
# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one rule engine of ``hrw_health``, for Linux and Windows hosts: facts in, check results out.

PRIVATE TO THIS COLLECTION: no compatibility promise for code outside it.

Every function here is pure (no I/O) so that each pass/warn/fail decision is unit-tested. ``evaluate`` takes the facts a
host probe returned (shape: _host_facts.SCHEMA; Linux _host_probe.gather, Windows hrw_host_probe.ps1) and applies every
rule, threshold and remediation text; the probes decide nothing. The action plugin runs it on the controller; the module
hrw_health.py runs it in-process when it is executed directly. Python 3.8+, standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils import _host_facts
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._host_facts import (  # noqa: F401 pylint: disable=unused-import
    parse_endpoint, parse_key_value_file, redact_url)

OK = 'ok'
WARN = 'warn'
FAIL = 'fail'
_RANK = {OK: 0, WARN: 1, FAIL: 2}

# Order in which checks run and are reported (defined with the facts schema). hrw_health DOCUMENTATION and
# docs/hrw_health_checks.md are checked against it by tests/unit/plugins/module_utils/test_host_engine.py.
CHECK_IDS = _host_facts.CHECK_IDS

# Issuers Azure front ends chain to (root CAs and the organisations of the Azure TLS issuing CAs).
# Matched case-insensitively as substrings of the CN/O of every certificate name the handshake exposes.
DEFAULT_EXPECTED_ISSUERS = (
    'DigiCert Global Root G2',
    'DigiCert Global Root G3',
    'DigiCert Global Root CA',
    'Microsoft RSA Root Certificate Authority 2017',
    'Microsoft ECC Root Certificate Authority 2017',
    'Microsoft Corporation',
    'DigiCert Inc',
)

MIN_CPU_CORES = 2
MIN_MEMORY_MB = 4096
MIN_DISK_FREE_MB = 1024
CLOCK_SKEW_WARN_SECONDS = 60
CLOCK_SKEW_FAIL_SECONDS = 300
# First extension version that runs PowerShell 7.2 and Python 3.10 runbooks (DOMAIN.md section 9).
EXTENSION_RUNTIME_VERSION = (1, 1, 11)

# Windows: Windows Server 2012 (NT 6.2) or later; workstations only as Windows 10/11.
WINDOWS_MIN_VERSION = (6, 2)
WINDOWS_CLIENTS = re.compile(r'Windows 1[01]')
WINDOWS_EVENT_LOG = 'Microsoft-SMA/Operational'

# (os-release ID, major version) pairs Microsoft lists for extension-based workers.
SUPPORTED_OS = {
    'debian': ('8', '9', '10', '11', '12'),
    'ubuntu': ('18.04', '20.04', '22.04'),
    'rhel': ('7', '8'),
    'ol': ('7', '8'),
    'sles': ('15',),
}
SUPPORTED_MACHINES = ('x86_64', 'amd64')

# OpenSSL verify codes that say "this chain ends in a CA you do not trust".
_UNTRUSTED_CHAIN_CODES = (2, 18, 19, 20, 21)
_HOSTNAME_MISMATCH_CODE = 62


# Remediations (and a few summaries) that differ between the two OSes; the rest is shared.
_TEXT = {
    'linux': {
        'cpu_unknown': 'Check /proc/cpuinfo or nproc by hand.',
        'memory_unknown': 'Check /proc/meminfo by hand.',
        'disk_unknown': 'Check df by hand.',
        'tcp_proxy_hint': ' A proxy is configured on this host: the worker uses the extension setting Proxy_URL; '
                          'pass proxy_url to test through it.',
        'tls_expected_invalid': 'Update the CA bundle (ca-certificates) so it contains the DigiCert/Microsoft roots, and check the clock.',
        'tls_intercepted_invalid': 'Exempt *.azure-automation.net from TLS inspection, or add the proxy CA to the system trust store '
                                   '(update-ca-certificates) and to expected_issuers.',
        'clock_unknown': 'Check time synchronisation (timedatectl / chrony) by hand.',
        'clock_fix': 'Synchronise the clock with NTP (systemd-timesyncd or chrony); token validation fails beyond a few minutes.',
        'service_enable': 'systemctl enable %s (or re-enable the extension).',
        'service_start': 'Start it (systemctl start %s); if it is missing, (re)install the HybridWorkerExtension.',
        'pwsh_missing': 'pwsh not found: PowerShell runbooks cannot run on this worker.',
        'pwsh_install': 'Install PowerShell 7 (package powershell) if the worker runs PowerShell runbooks.',
        'paths_broken': 'Fix the path in /etc/environment (hrw_modules runtime_paths) and restart the worker.',
        'paths_unset': 'Set them in /etc/environment (hrw_modules runtime_paths) and restart the worker.',
        'v1_running': 'After the V2 worker heartbeats, deregister V1 (onboarding.py --deregister) and purge the OMS agent.',
        'v1_leftovers': 'Deregister V1 if it is still registered, then remove the OMS agent (onboard_agent.sh --purge) and its files.',
    },
    'windows': {
        'cpu_unknown': 'Check the processor count by hand.',
        'memory_unknown': 'Check the memory size by hand.',
        'disk_unknown': 'Check the free space by hand.',
        'tcp_proxy_hint': ' A proxy is configured on this host: the worker uses the extension proxy settings; '
                          'pass proxy_url to test through it.',
        'tls_expected_invalid': 'Update the trusted root certificates (Windows Update / certutil -generateSSTFromWU) so they contain '
                                'the DigiCert/Microsoft roots, and check the clock.',
        'tls_intercepted_invalid': 'Exempt *.azure-automation.net from TLS inspection, or add the proxy CA to the machine trust store '
                                   'and to expected_issuers.',
        'clock_unknown': 'Check time synchronisation (w32tm /query /status) by hand.',
        'clock_fix': 'Synchronise the clock (w32tm /resync); token validation fails beyond a few minutes.',
        'service_enable': 'Set-Service -Name %s -StartupType Automatic (or re-enable the extension).',
        'service_start': 'Start it (Start-Service %s); if it is missing, (re)install the HybridWorkerExtension.',
        'pwsh_missing': 'pwsh not found: PowerShell 7 runbooks cannot run on this worker.',
        'pwsh_install': 'Install PowerShell 7 if the worker runs PowerShell 7 runbooks.',
        'paths_broken': 'Fix the machine environment variable (hrw_modules runtime_paths) and restart the worker.',
        'paths_unset': 'Set them as machine environment variables (hrw_modules runtime_paths) and restart the worker.',
        'v1_running': 'After the V2 worker heartbeats, run Remove-HybridRunbookWorker and remove the Microsoft Monitoring Agent.',
        'v1_leftovers': 'Run Remove-HybridRunbookWorker if it is still registered, then delete '
                        'HKLM:\\SOFTWARE\\Microsoft\\HybridRunbookWorker and remove the agent.',
    },
}


def result(check_id, status, summary, remediation='', target=None, details=None):
    """One check result, the shape hrw_health returns for every check."""
    item = {'id': check_id, 'status': status, 'summary': summary, 'remediation': remediation if status != OK else ''}
    if target is not None:
        item['target'] = target
    if details:
        item['details'] = details
    return item


def select_checks(checks=None, skip_checks=None):
    """Ids to run, in CHECK_IDS order. ``checks`` empty or None means all."""
    wanted = set(checks or CHECK_IDS)
    unknown = sorted((wanted | set(skip_checks or ())) - set(CHECK_IDS))
    if unknown:
        raise ValueError('Unknown check id(s): %s' % ', '.join(unknown))
    wanted -= set(skip_checks or ())
    return [c for c in CHECK_IDS if c in wanted]


def summarize(results):
    counts = {OK: 0, WARN: 0, FAIL: 0}
    for item in results:
        counts[item['status']] += 1
    worst = OK
    for item in results:
        if _RANK[item['status']] > _RANK[worst]:
            worst = item['status']
    counts['status'] = worst
    counts['total'] = len(results)
    return counts


def report_line(item):
    """One readable line for a result: 'FAIL disk_space (/): 512 MB free ... Fix: free space ...'."""
    target = ' (%s)' % item['target'] if item.get('target') else ''
    line = '%s %s%s: %s' % (item['status'].upper(), item['id'], target, item['summary'])
    if item.get('remediation'):
        line += ' Fix: %s' % item['remediation']
    return line


def report(results, summary=None):
    """The headline ('WARN: 17 ok, 2 warn, 0 fail') then one line per result that is not ok, worst first."""
    summary = summary or summarize(results)
    lines = ['%s: %d ok, %d warn, %d fail' % (summary['status'].upper(), summary[OK], summary[WARN], summary[FAIL])]
    not_ok = [r for r in results if r['status'] != OK]
    not_ok.sort(key=lambda r: -_RANK[r['status']])  # stable: check order within a status
    return lines + [report_line(r) for r in not_ok]


def failing(results, fail_on):
    """Results that make the task fail under ``fail_on`` (fail, warn, never)."""
    if fail_on == 'never':
        return []
    floor = _RANK[FAIL] if fail_on == 'fail' else _RANK[WARN]
    return [r for r in results if _RANK[r['status']] >= floor]


# ---------------------------------------------------------------------------------------------------- small parsers

def parse_version(text):
    """'1.1.11' / 'v7.4.2' / 'Python 3.11.2' -> (1, 1, 11). Empty tuple when no number."""
    match = re.search(r'(\d+(?:\.\d+)*)', text or '')
    if not match:
        return ()
    return tuple(int(p) for p in match.group(1).split('.'))


def version_text(version):
    return '.'.join(str(p) for p in version)


def issuer_matches(names, expected_issuers):
    """First of ``names`` (certificate CN/O strings) containing one of ``expected_issuers``; None when none does."""
    for name in names:
        for expected in expected_issuers:
            if expected and expected.lower() in name.lower():
                return name
    return None


# ---------------------------------------------------------------------------------------------------- host size, OS

def check_cpu_cores(cores, minimum=MIN_CPU_CORES, os_family='linux'):
    if cores is None:
        return result('cpu_cores', WARN, 'Could not count the CPU cores.', _TEXT[os_family]['cpu_unknown'])
    if cores >= minimum:
        return result('cpu_cores', OK, '%d CPU cores (minimum %d).' % (cores, minimum))
    return result('cpu_cores', FAIL, '%d CPU core(s), below the documented minimum of %d.' % (cores, minimum),
                  'Give the machine at least %d cores (Hybrid Runbook Worker prerequisites).' % minimum)


def check_memory(total_mb, minimum_mb=MIN_MEMORY_MB, os_family='linux'):
    """The kernel reserves part of RAM, so a 4 GB machine reports a little less: warn down to 90 %% of the minimum."""
    if total_mb is None:
        return result('memory', WARN, 'Could not read the memory size.', _TEXT[os_family]['memory_unknown'])
    if total_mb >= minimum_mb:
        return result('memory', OK, '%d MB of memory (minimum %d MB).' % (total_mb, minimum_mb))
    if total_mb >= minimum_mb * 0.9:
        return result('memory', WARN, '%d MB of memory, just below the %d MB minimum (the kernel reserves some).'
                      % (total_mb, minimum_mb), 'Confirm the machine has at least %d MB of RAM.' % minimum_mb)
    return result('memory', FAIL, '%d MB of memory, below the documented minimum of %d MB.' % (total_mb, minimum_mb),
                  'Give the machine at least %d MB of RAM.' % minimum_mb)


def check_disk_space(path, free_mb, minimum_mb=MIN_DISK_FREE_MB, os_family='linux'):
    if free_mb is None:
        return result('disk_space', WARN, 'Could not read the free space of %s.' % path, _TEXT[os_family]['disk_unknown'], target=path)
    if free_mb < minimum_mb:
        return result('disk_space', FAIL, '%d MB free on %s, below %d MB.' % (free_mb, path, minimum_mb),
                      'Free disk space on %s: the extension, runtimes, job sandboxes and logs live there.' % path, target=path)
    if free_mb < 2 * minimum_mb:
        return result('disk_space', WARN, '%d MB free on %s, less than twice the %d MB minimum.' % (free_mb, path, minimum_mb),
                      'Free disk space on %s before logs and modules fill it.' % path, target=path)
    return result('disk_space', OK, '%d MB free on %s.' % (free_mb, path), target=path)


def check_os_supported(os_release, machine):
    """``os_release``: parsed /etc/os-release; ``machine``: platform.machine()."""
    os_id = (os_release or {}).get('ID', '').lower()
    version = (os_release or {}).get('VERSION_ID', '')
    name = (os_release or {}).get('PRETTY_NAME') or ('%s %s' % (os_id, version)).strip() or 'unknown OS'
    if machine and machine.lower() not in SUPPORTED_MACHINES:
        return result('os_supported', FAIL, '%s on %s: the worker needs x64.' % (name, machine),
                      'Use an x86_64 machine; the Hybrid Worker extension is published for x64 only.')
    if os_id not in SUPPORTED_OS:
        return result('os_supported', WARN, '%s is not in the list of supported distributions.' % name,
                      'Use a supported distribution (Debian, Ubuntu LTS, RHEL, Oracle Linux, SLES) or test the worker on it.')
    major = version if os_id == 'ubuntu' else version.split('.')[0]
    if major in SUPPORTED_OS[os_id]:
        return result('os_supported', OK, '%s (%s) is supported.' % (name, machine or 'unknown machine'))
    return result('os_supported', WARN, '%s: version %s is not in the documented list (%s).'
                  % (name, version or '?', ', '.join(SUPPORTED_OS[os_id])),
                  'Check the current supported OS list of extension-based Hybrid Runbook Workers.')


def check_windows_supported(caption, version, architecture, product_type):
    """Win32_OperatingSystem Caption, Version ('10.0.20348'), OSArchitecture ('64-bit'), ProductType (1 = workstation)."""
    if architecture and '64' not in architecture:
        return result('os_supported', FAIL, '%s on %s: the worker needs x64.' % (caption, architecture),
                      'Use an x64 machine; the Hybrid Worker extension is published for x64 only.')
    numbers = parse_version(version)
    if not numbers:
        return result('os_supported', WARN, 'Could not read the Windows version.', 'Check the OS version by hand.')
    if numbers < WINDOWS_MIN_VERSION:
        return result('os_supported', WARN, '%s (%s) is older than Windows Server 2012.' % (caption, version),
                      'Use Windows Server 2012 or later.')
    if product_type == 1 and not WINDOWS_CLIENTS.search(caption or ''):
        return result('os_supported', WARN, '%s (%s) is not in the documented list.' % (caption, version),
                      'Check the current supported OS list of extension-based Hybrid Runbook Workers.')
    return result('os_supported', OK, '%s (%s, %s) is supported.' % (caption, version, architecture))


# ---------------------------------------------------------------------------------------------------- network

def check_dns(host, addresses, error=None):
    if error or not addresses:
        return result('dns', FAIL, 'Cannot resolve %s: %s' % (host, error or 'no address'),
                      'Fix DNS so %s resolves (with Private Link: the private DNS zone privatelink.azure-automation.net).' % host,
                      target=host)
    return result('dns', OK, '%s resolves to %s.' % (host, ', '.join(addresses)), target=host)


def check_tcp_connect(host, port, error=None, elapsed_ms=None, proxy_configured=False, via=None, os_family='linux'):
    """``via``: the (redacted) proxy URL when the connection goes through a CONNECT tunnel."""
    target = '%s:%d' % (host, port)
    route = ' through proxy %s' % via if via else ''
    if error:
        if via:
            return result('tcp_connect', FAIL, 'Cannot open TCP %s%s: %s.' % (target, route, error),
                          'Check the proxy URL and credentials, and that the proxy allows CONNECT to *.azure-automation.net:%d.' % port,
                          target=target)
        hint = _TEXT[os_family]['tcp_proxy_hint'] if proxy_configured else ''
        return result('tcp_connect', FAIL, 'Cannot open TCP %s: %s.%s' % (target, error, hint),
                      'Allow outbound TCP %d to *.azure-automation.net (service tag GuestAndHybridManagement) '
                      'in host and network firewalls.' % port, target=target)
    return result('tcp_connect', OK, 'TCP %s open%s%s.' % (target, route, '' if elapsed_ms is None else ' in %d ms' % elapsed_ms),
                  target=target)


def check_tls(host, port, facts, expected_issuers=DEFAULT_EXPECTED_ISSUERS, os_family='linux'):
    """Decide on a TLS probe.

    ``facts`` (from _host_probe.probe_tls): ``handshake_error`` (no TLS at all), ``verified`` (bool), ``verify_code`` and
    ``verify_message`` (OpenSSL), ``names`` (CN/O of the issuers and, when available, of every certificate of the chain),
    ``leaf_issuer`` (display string).
    """
    target = '%s:%d' % (host, port)
    if facts.get('handshake_error'):
        return result('tls', FAIL, 'TLS handshake with %s failed: %s' % (target, facts['handshake_error']),
                      'Check that nothing between the host and Azure blocks or downgrades TLS 1.2; the worker needs TLS 1.2.',
                      target=target)
    issuer = facts.get('leaf_issuer') or 'an unknown issuer'
    matched = issuer_matches(facts.get('names') or [], expected_issuers)
    details = {'issuer': issuer, 'verified': bool(facts.get('verified'))}
    if facts.get('verified'):
        if matched:
            return result('tls', OK, 'Certificate of %s validates and chains to %s.' % (target, matched),
                          target=target, details=details)
        return result('tls', WARN, 'TLS interception: the certificate of %s validates against the system store but is issued by '
                      '%s, not by an expected issuer.' % (target, issuer),
                      'A TLS-intercepting proxy re-signs traffic to Azure. Exempt *.azure-automation.net from TLS inspection, '
                      'or add its issuer to expected_issuers if this is intended.', target=target, details=details)
    code = facts.get('verify_code')
    message = facts.get('verify_message') or 'certificate verify failed'
    details.update({'verify_code': code, 'verify_message': message})
    if matched:
        return result('tls', FAIL, 'Certificate of %s from %s does not validate (%s); it does not look like interception.'
                      % (target, issuer, message),
                      _TEXT[os_family]['tls_expected_invalid'], target=target, details=details)
    if code in _UNTRUSTED_CHAIN_CODES or code == _HOSTNAME_MISMATCH_CODE:
        return result('tls', FAIL, 'Certificate of %s does not validate (%s) and is issued by %s, not by an expected issuer: '
                      'this looks like a TLS-intercepting proxy.' % (target, message, issuer),
                      _TEXT[os_family]['tls_intercepted_invalid'], target=target, details=details)
    return result('tls', FAIL, 'Certificate of %s does not validate (%s); issuer %s.' % (target, message, issuer),
                  'Check the clock and the certificate chain the endpoint presents.', target=target, details=details)


def check_clock_skew(host, skew_seconds, error=None, os_family='linux'):
    """``skew_seconds`` = local time minus the endpoint's HTTP Date (positive: local clock ahead)."""
    if skew_seconds is None:
        return result('clock_skew', WARN, 'No HTTP Date from %s to compare the clock with%s.' % (host, ': %s' % error if error else ''),
                      _TEXT[os_family]['clock_unknown'], target=host)
    size = abs(skew_seconds)
    text = 'Clock differs from %s by %+d s.' % (host, skew_seconds)
    if size <= CLOCK_SKEW_WARN_SECONDS:
        return result('clock_skew', OK, text, target=host)
    remedy = _TEXT[os_family]['clock_fix']
    if size <= CLOCK_SKEW_FAIL_SECONDS:
        return result('clock_skew', WARN, text, remedy, target=host)
    return result('clock_skew', FAIL, text, remedy, target=host)


def _proxy_variables(sources):
    """``sources``: (label, variables) pairs. Returns each source's *_proxy variables (lower-case keys, empty ones dropped)
    and their lines for a message, with credentials redacted."""
    found, shown = [], []
    for label, values in sources:
        proxies = dict((k.lower(), v) for k, v in (values or {}).items() if k.lower() in ('http_proxy', 'https_proxy', 'no_proxy') and v)
        found.append(proxies)
        shown.extend('%s %s=%s' % (label, key, redact_url(proxies[key])) for key in sorted(proxies))
    return found, shown


def check_proxy(process_env, environment_file, extension_proxy_url):
    """Report proxy settings without secrets.

    ``process_env``/``environment_file``: dicts of variables; only *_proxy keys are looked at.
    ``extension_proxy_url``: whether the extension's protected settings carry Proxy_URL: True, False (none, or readable
    settings without it), None (encrypted settings: cannot tell) or 'unknown' (no extension settings found). The Linux worker
    takes its proxy from that setting, not from the environment.
    """
    (env, etc), shown = _proxy_variables((('environment', process_env), ('/etc/environment', environment_file)))
    details = {'environment': dict((k, redact_url(v)) for k, v in env.items()),
               'etc_environment': dict((k, redact_url(v)) for k, v in etc.items()),
               'extension_proxy_url': extension_proxy_url}
    extension = {True: ' The extension has a Proxy_URL.', False: '',
                 None: ' The extension has encrypted protected settings (Proxy_URL may be among them).'}.get(extension_proxy_url, '')
    configured = bool(env.get('https_proxy') or env.get('http_proxy') or etc.get('https_proxy') or etc.get('http_proxy'))
    if not configured:
        return result('proxy', OK, 'No proxy configured on this host.' + extension, details=details)
    if extension_proxy_url is False:
        return result('proxy', WARN, 'A proxy is configured (%s) but the extension has no Proxy_URL.' % '; '.join(shown),
                      'If the host needs the proxy to reach Azure, set protectedSettings {"Proxy_URL": "http://user:pass@host:port"} '
                      'on the HybridWorkerExtension.', details=details)
    if env.get('https_proxy') and etc.get('https_proxy') and env['https_proxy'] != etc['https_proxy']:
        return result('proxy', WARN, 'https_proxy differs between the environment and /etc/environment (%s).' % '; '.join(shown),
                      'Use one proxy setting; services read /etc/environment.', details=details)
    return result('proxy', OK, 'Proxy configured: %s.%s' % ('; '.join(shown), extension), details=details)


# ---------------------------------------------------------------------------------------------------- worker state

def check_worker_service(name, facts, os_family='linux'):
    """``facts``: {'manager': bool, 'active': 'active'|'inactive'|..., 'enabled': 'enabled'|...}; manager False = no systemctl."""
    if not facts.get('manager'):
        return result('worker_service', WARN, 'No service manager found to query %s.' % name,
                      'Check the worker service by hand.', target=name)
    active = facts.get('active') or 'unknown'
    enabled = facts.get('enabled') or 'unknown'
    if active == 'active':
        if enabled in (('enabled', 'static', 'alias', 'indirect', 'generated') if os_family == 'linux' else ('enabled',)):
            return result('worker_service', OK, 'Service %s is %s and %s.' % (name, active, enabled), target=name)
        return result('worker_service', WARN, 'Service %s is active but %s: it will not start after a reboot.' % (name, enabled),
                      _TEXT[os_family]['service_enable'] % name, target=name)
    return result('worker_service', FAIL, 'Service %s is %s (%s).' % (name, active, enabled),
                  _TEXT[os_family]['service_start'] % name, target=name)


def check_worker_user(name, exists):
    if exists:
        return result('worker_user', OK, 'User %s exists.' % name, target=name)
    return result('worker_user', FAIL, 'User %s does not exist.' % name,
                  'The extension creates %s when it installs; reinstall the HybridWorkerExtension.' % name, target=name)


def check_extension_install(versions):
    """``versions``: version strings of the installed extension directories."""
    if not versions:
        return result('extension_install', FAIL, 'The Hybrid Worker extension is not installed on this host.',
                      'Install the HybridWorkerExtension (hrw_register with state=present).')
    ordered = sorted(versions, key=parse_version)
    newest = ordered[-1]
    details = {'versions': ordered}
    if parse_version(newest) < EXTENSION_RUNTIME_VERSION:
        return result('extension_install', WARN, 'Extension %s installed; PowerShell 7.2 and Python 3.10 runbooks need %s or later.'
                      % (newest, version_text(EXTENSION_RUNTIME_VERSION)),
                      'Set autoUpgradeMinorVersion/enableAutomaticUpgrade on the extension or upgrade it.', details=details)
    if len(ordered) > 1:
        return result('extension_install', OK, 'Extension %s installed (older directories kept: %s).'
                      % (newest, ', '.join(ordered[:-1])), details=details)
    return result('extension_install', OK, 'Extension %s installed.' % newest, details=details)


def normalize_url(url):
    return (url or '').strip().rstrip('/').lower()


def check_extension_settings(found, settings_url, expected_url=None):
    """``found``: a settings file was read; ``settings_url``: its AutomationAccountURL; ``expected_url``: the module option."""
    if not found:
        return result('extension_settings', FAIL, 'No extension settings file found.',
                      'Reinstall the HybridWorkerExtension; its settings carry AutomationAccountURL.')
    if not settings_url:
        return result('extension_settings', FAIL, 'The extension settings have no AutomationAccountURL.',
                      'Set settings {"AutomationAccountURL": "<automationHybridServiceUrl of the account>"} on the extension.')
    if not normalize_url(settings_url).startswith('https://'):
        return result('extension_settings', FAIL, 'AutomationAccountURL %s is not an https URL.' % settings_url,
                      "Use the account's properties.automationHybridServiceUrl unchanged.")
    if expected_url and normalize_url(expected_url) != normalize_url(settings_url):
        return result('extension_settings', FAIL, 'AutomationAccountURL is %s, expected %s.' % (settings_url, expected_url),
                      'The worker reports to another account: update the extension settings (hrw_register).')
    return result('extension_settings', OK, 'AutomationAccountURL is %s.' % settings_url)


def check_extension_status(status, message=None):
    """``status``: the handler status of the newest status file (success, transitioning, error, warning) or None."""
    text = (' (%s)' % message) if message else ''
    if status is None:
        return result('extension_status', WARN, 'No extension status file found.',
                      'Wait for the extension to report, or look at the extension logs.')
    status = status.lower()
    if status == 'success':
        return result('extension_status', OK, 'Extension reports success%s.' % text)
    if status in ('transitioning', 'warning'):
        return result('extension_status', WARN, 'Extension reports %s%s.' % (status, text),
                      'Wait a few minutes and run the check again; read the extension log if it stays so.')
    return result('extension_status', FAIL, 'Extension reports %s%s.' % (status, text),
                  'Read the extension log folder and the troubleshooter output, then reinstall the extension.')


def check_log_folders(existing):
    """``existing``: {path: bool}."""
    missing = sorted(p for p, ok in existing.items() if not ok)
    if not missing:
        return result('log_folders', OK, 'Log folders present: %s.' % ', '.join(sorted(existing)))
    return result('log_folders', WARN, 'Missing log folder(s): %s.' % ', '.join(missing),
                  'They appear when the extension installs and the worker runs; reinstall the extension if they stay missing.',
                  details={'missing': missing})


def check_runtime_powershell(path, version, os_family='linux'):
    if not path:
        return result('runtime_powershell', WARN, _TEXT[os_family]['pwsh_missing'], _TEXT[os_family]['pwsh_install'])
    if not version:
        return result('runtime_powershell', WARN, 'pwsh at %s did not report its version.' % path, 'Run pwsh --version by hand.')
    return result('runtime_powershell', OK, 'PowerShell %s at %s.' % (version_text(version), path))


def check_runtime_python(path, version, os_family='linux'):
    if not path and os_family == 'windows':  # optional on Windows: Python runbooks only
        return result('runtime_python', WARN, 'python not found: Python runbooks cannot run on this worker.',
                      'Install Python 3 if the worker runs Python runbooks.')
    if not path:
        return result('runtime_python', FAIL, 'python3 not found: the extension handler and Python runbooks need it.',
                      'Install python3.')
    if not version or tuple(version) < (3, 0):
        return result('runtime_python', WARN, 'Python at %s reports version %s.' % (path, version_text(version) or '?'),
                      'Install python3.')
    return result('runtime_python', OK, 'Python %s at %s.' % (version_text(version), path))


RUNTIME_PATH_VARIABLES = ('powershell_7_2_path', 'python_3_10_path')


def check_runtime_paths(values, executable, os_family='linux'):
    """``values``: variables from /etc/environment; ``executable``: {path: bool} for the paths they name."""
    set_vars = dict((k, values[k]) for k in RUNTIME_PATH_VARIABLES if values.get(k))
    broken = sorted(k for k, v in set_vars.items() if not executable.get(v))
    details = dict(set_vars)
    if broken:
        return result('runtime_paths', FAIL, '%s point(s) to a missing or non-executable file: %s.'
                      % (', '.join(broken), ', '.join(set_vars[k] for k in broken)),
                      _TEXT[os_family]['paths_broken'], details=details)
    if not set_vars:
        return result('runtime_paths', WARN, 'Neither powershell_7_2_path nor python_3_10_path is set: '
                      'PowerShell 7.2 and Python 3.10 runbooks will not run here.',
                      _TEXT[os_family]['paths_unset'], details=details)
    unset = [k for k in RUNTIME_PATH_VARIABLES if k not in set_vars]
    summary = 'Set: %s.' % ', '.join('%s=%s' % (k, v) for k, v in sorted(set_vars.items()))
    if unset:
        summary += ' Not set: %s.' % ', '.join(unset)
    return result('runtime_paths', OK, summary, details=details)


def check_v1_remnants(paths, processes, users, os_family='linux'):
    """Legacy agent-based (V1) worker: ``paths`` found, ``processes`` (command lines) running, ``users`` present."""
    if not (paths or processes or users):
        return result('v1_remnants', OK, 'No agent-based (V1) worker found.')
    details = {'paths': sorted(paths), 'processes': list(processes), 'users': sorted(users)}
    if processes:
        return result('v1_remnants', WARN, 'An agent-based (V1) worker is running (%d process(es)).' % len(processes),
                      _TEXT[os_family]['v1_running'], details=details)
    return result('v1_remnants', WARN, 'Leftovers of an agent-based (V1) worker: %s.' % ', '.join(sorted(paths) + sorted(users)),
                  _TEXT[os_family]['v1_leftovers'], details=details)


# ---------------------------------------------------------------------------------------------------- Windows-only rules

def check_windows_proxy(process_env, machine_env, winhttp_proxy, extension_has_proxy):
    """Windows: proxy variables of the process and the machine, the WinHTTP proxy, and whether the extension has ProxySettings
    (True/False; None when no settings were found)."""
    (env, machine), shown = _proxy_variables((('environment', process_env), ('machine environment', machine_env)))
    if winhttp_proxy:
        shown.append('WinHTTP proxy=%s' % redact_url(winhttp_proxy))
    details = {'environment': dict((k, redact_url(v)) for k, v in env.items()),
               'machine_environment': dict((k, redact_url(v)) for k, v in machine.items()),
               'winhttp_proxy': redact_url(winhttp_proxy), 'extension_proxy_settings': extension_has_proxy}
    extension = ' The extension has ProxySettings.' if extension_has_proxy is True else ''
    configured = bool(env.get('https_proxy') or env.get('http_proxy') or machine.get('https_proxy') or machine.get('http_proxy')
                      or winhttp_proxy)
    if not configured:
        return result('proxy', OK, 'No proxy configured on this host.' + extension, details=details)
    if extension_has_proxy is False:
        return result('proxy', WARN, 'A proxy is configured (%s) but the extension has no proxy settings.' % '; '.join(shown),
                      'If the host needs the proxy to reach Azure, set settings ProxySettings {ProxyServer, UserName} and '
                      'protectedSettings ProxyPassword on the HybridWorkerExtension.', details=details)
    if env.get('https_proxy') and machine.get('https_proxy') and env['https_proxy'] != machine['https_proxy']:
        return result('proxy', WARN, 'https_proxy differs between the environment and the machine environment (%s).' % '; '.join(shown),
                      'Use one proxy setting; services read the machine environment.', details=details)
    return result('proxy', OK, 'Proxy configured: %s.%s' % ('; '.join(shown), extension), details=details)


def windows_tls_verdict(facts):
    """Windows TLS facts (SslPolicyErrors, X509ChainStatus flags) -> the OpenSSL-style verify_code/verify_message check_tls reads."""
    facts = dict(facts)
    if facts.get('handshake_error') or facts.get('verified'):
        return facts
    errors = facts.get('policy_errors') or ''
    status = facts.get('chain_status') or []
    if 'RemoteCertificateNameMismatch' in errors:
        code, message = _HOSTNAME_MISMATCH_CODE, 'Hostname mismatch'
    elif 'UntrustedRoot' in status:
        code, message = 19, 'untrusted root certificate in the chain'
    elif 'PartialChain' in status:
        code, message = 20, 'unable to get local issuer certificate'
    elif 'NotTimeValid' in status:
        code, message = 10, 'certificate has expired or is not yet valid'
    else:
        code, message = -1, 'certificate verify failed (%s; %s)' % (errors or 'unknown', ', '.join(status))
    facts['verify_code'], facts['verify_message'] = code, message
    return facts


# ---------------------------------------------------------------------------------------------------- the engine

NETWORK_CHECKS = ('dns', 'tcp_connect', 'tls', 'clock_skew')


def probe_request(options):
    """What the host probe is asked for: fact groups, network steps and the probe's own inputs, never a check id, threshold
    or rule option (so the probes need no list of checks either).

    ``options``: the validated hrw_health options. Returns the hrw_host_probe module arguments (proxy credentials included:
    that module marks them no_log).
    """
    selected = select_checks(options.get('checks'), options.get('skip_checks'))
    endpoints = []
    url = options.get('automation_account_url')
    if url:
        endpoints.append(parse_endpoint(url) + (True,))
    for extra in options.get('extra_endpoints') or []:
        host, port = parse_endpoint(extra)
        if (host, port) not in [e[:2] for e in endpoints]:
            endpoints.append((host, port, False))
    steps = [step for step, cid in (('dns', 'dns'), ('tcp', 'tcp_connect'), ('tls', 'tls'), ('date', 'clock_skew')) if cid in selected]
    args = {'groups': _host_facts.groups_for(selected), 'network_steps': steps,
            'endpoints': [{'host': h, 'port': p, 'primary': primary} for h, p, primary in endpoints],
            'use_settings_url': not url and any(c in selected for c in NETWORK_CHECKS),
            'timeout': options.get('timeout', 5), 'disk_path': options.get('disk_path')}
    if options.get('proxy_url'):
        args['proxy'] = _host_facts.parse_proxy_url(options['proxy_url'])
    return args


def extension_view(facts):
    """{'versions', 'settings', 'status'} of the extension; on Windows those of the newest version directory."""
    extension = facts.get('extension') or {}
    view = {'versions': extension.get('versions') or [], 'settings': extension.get('settings'), 'status': extension.get('status')}
    by_version = extension.get('by_version')
    if by_version:
        newest = by_version[sorted(by_version, key=parse_version)[-1]]
        view.update(settings=newest['settings'], status=newest['status'])
    return view


def windows_service_view(service):
    """Win32_Service State/StartMode -> the active/enabled words check_worker_service reads."""
    state, mode = service.get('active'), service.get('enabled')
    return {'name': service['name'], 'manager': service['manager'],
            'active': 'missing' if state is None else ('active' if state == 'Running' else state.lower()),
            'enabled': 'missing' if mode is None else ('enabled' if mode == 'Auto' else mode.lower())}


def evaluate(facts, options):
    """(results, endpoints, url) from the facts of a host probe and the validated hrw_health options."""
    problems = _host_facts.validate(facts)
    if problems:
        raise ValueError('the host probe returned facts that do not match facts schema %d: %s'
                         % (_host_facts.SCHEMA_VERSION, '; '.join(problems[:5])))
    family = facts['os_family']
    selected = select_checks(options.get('checks'), options.get('skip_checks'))
    wants = set(selected)
    results = []
    extension = extension_view(facts)
    settings = extension['settings']
    url = options.get('automation_account_url')
    if not url and wants.intersection(NETWORK_CHECKS) and settings:
        url = settings.get('url')
    targets = [parse_endpoint(url)] if url else []
    for extra in options.get('extra_endpoints') or []:
        endpoint = parse_endpoint(extra)
        if endpoint not in targets:
            targets.append(endpoint)
    endpoints = ['%s:%d' % t for t in targets]

    if 'cpu_cores' in wants:
        results.append(check_cpu_cores(facts['cpu_cores'], options.get('min_cpu_cores', MIN_CPU_CORES), family))
    if 'memory' in wants:
        results.append(check_memory(facts['memory_mb'], options.get('min_memory_mb', MIN_MEMORY_MB), family))
    if 'disk_space' in wants:
        disk = facts['disk']
        results.append(check_disk_space(disk['path'], disk['free_mb'], options.get('min_disk_free_mb', MIN_DISK_FREE_MB), family))
    if 'os_supported' in wants:
        os_facts = facts['os']
        if family == 'windows':
            results.append(check_windows_supported(os_facts['name'], os_facts['version'], os_facts['machine'], os_facts['product_type']))
        else:
            results.append(check_os_supported({'ID': os_facts['id'], 'VERSION_ID': os_facts['version'],
                                               'PRETTY_NAME': os_facts['name'] or ''}, os_facts['machine']))

    if not url:
        for cid in NETWORK_CHECKS:
            if cid in wants:
                results.append(result(cid, WARN, 'No worker endpoint: automation_account_url is not set and no '
                                      'extension settings name one.', 'Pass automation_account_url.'))
    proxy_env = facts.get('proxy_env') or {'process': {}, 'system': {}}
    proxy_configured = any(k in ('https_proxy', 'http_proxy') and v
                           for k, v in list(proxy_env['process'].items()) + list(proxy_env['system'].items()))
    via = redact_url(options['proxy_url']) if options.get('proxy_url') else None
    probed = dict(((e['host'], e['port']), e) for e in facts.get('endpoints') or [])
    for index, (host, port) in enumerate(targets):
        endpoint = probed.get((host, port)) or {'dns': None, 'tcp': None, 'tls': None}
        primary = index == 0 and bool(url)
        if 'dns' in wants:
            dns = endpoint['dns'] or {'addresses': [], 'error': 'not probed'}
            results.append(check_dns(host, dns['addresses'], dns['error']))
        if 'tcp_connect' in wants:
            tcp = endpoint['tcp'] or {'elapsed_ms': None, 'error': 'not probed'}
            results.append(check_tcp_connect(host, port, tcp['error'], tcp['elapsed_ms'], proxy_configured, via, family))
        tls = endpoint['tls'] or {'handshake_error': 'not probed'}
        if family == 'windows':
            tls = windows_tls_verdict(tls)
        if 'tls' in wants:
            results.append(check_tls(host, port, tls, options.get('expected_issuers') or DEFAULT_EXPECTED_ISSUERS, family))
        if primary and 'clock_skew' in wants:
            skew = None
            if tls.get('server_time') is not None and tls.get('local_time') is not None:
                skew = int(round(tls['local_time'] - tls['server_time']))
            results.append(check_clock_skew(host, skew, tls.get('date_error') or tls.get('handshake_error'), family))
    if 'proxy' in wants:
        if family == 'windows':
            results.append(check_windows_proxy(proxy_env['process'], proxy_env['system'], facts.get('winhttp_proxy'),
                                               settings.get('proxy_configured') if settings else None))
        else:
            results.append(check_proxy(proxy_env['process'], proxy_env['system'],
                                       settings.get('proxy_configured') if settings else 'unknown'))

    if 'worker_service' in wants:
        service = facts['service']
        if family == 'windows':
            service = windows_service_view(service)
        results.append(check_worker_service(service['name'], service, family))
    if 'worker_user' in wants:
        if family == 'windows':
            results.append(result('worker_user', OK, 'Windows jobs run as Local System or the group credential; '
                                  'there is no worker user to check.'))
        else:
            results.append(check_worker_user(facts['worker_user']['name'], facts['worker_user']['exists']))
    if 'extension_install' in wants:
        results.append(check_extension_install(extension['versions']))
    if 'extension_settings' in wants:
        if settings and settings.get('error'):
            results.append(result('extension_settings', FAIL, settings['error'], 'Reinstall the HybridWorkerExtension.'))
        else:
            results.append(check_extension_settings(bool(settings), settings and settings.get('url'),
                                                    options.get('automation_account_url')))
    if 'extension_status' in wants:
        status = extension.get('status')
        results.append(check_extension_status(status['status'], status['message']) if status else check_extension_status(None))
    if 'log_folders' in wants:
        existing = dict(facts['log_folders'])
        if family == 'windows' and facts.get('event_log'):
            existing['event log %s' % facts['event_log']['name']] = facts['event_log']['exists']
        results.append(check_log_folders(existing))
    runtimes = facts.get('runtimes') or {}
    if 'runtime_powershell' in wants:
        pwsh = runtimes['powershell']
        results.append(check_runtime_powershell(pwsh['path'], parse_version(pwsh['version']) if pwsh['path'] else (), family))
    if 'runtime_python' in wants:
        python = runtimes['python']
        results.append(check_runtime_python(python['path'], parse_version(python['version']) if python['path'] else (), family))
    if 'runtime_paths' in wants:
        paths = facts['runtime_paths']
        results.append(check_runtime_paths(paths['values'], paths['executable'], family))
    if 'v1_remnants' in wants:
        v1 = facts['v1']
        results.append(check_v1_remnants(v1['paths'] + ['service %s' % s for s in v1['services']], v1['processes'], v1['users'], family))

    order = dict((cid, i) for i, cid in enumerate(CHECK_IDS))
    results.sort(key=lambda r: order[r['id']])  # stable: per-endpoint order kept
    return results, endpoints, url


def outcome(results, endpoints, url, fail_on):
    """(module result, failure message or None): what hrw_health returns for ``results``."""
    summary = summarize(results)
    output = dict(changed=False, checks=results, summary=summary, report=report(results, summary), endpoints=endpoints,
                  automation_account_url=url)
    bad = failing(results, fail_on)
    if not bad:
        return output, None
    return output, '%d health check(s) at or above %s: %s' % (len(bad), fail_on, ' | '.join(report_line(r) for r in bad))


# The hrw_health options, validated once (module on the host when run directly, action plugin on the controller).
# Rule options (thresholds, expected_issuers, fail_on) never travel to the host; probe_request picks what the probe needs.
ARGUMENT_SPEC = dict(
    automation_account_url=dict(type='str'),
    extra_endpoints=dict(type='list', elements='str', default=[]),
    expected_issuers=dict(type='list', elements='str', default=list(DEFAULT_EXPECTED_ISSUERS)),
    checks=dict(type='list', elements='str', default=[], choices=list(CHECK_IDS)),
    skip_checks=dict(type='list', elements='str', default=[], choices=list(CHECK_IDS)),
    fail_on=dict(type='str', default='fail', choices=['fail', 'warn', 'never']),
    timeout=dict(type='int', default=5),
    proxy_url=dict(type='str', no_log=True),  # the URL may carry credentials that URL parsing cannot find
    min_cpu_cores=dict(type='int', default=MIN_CPU_CORES),
    min_memory_mb=dict(type='int', default=MIN_MEMORY_MB),
    min_disk_free_mb=dict(type='int', default=MIN_DISK_FREE_MB),
    disk_path=dict(type='path'),
)
