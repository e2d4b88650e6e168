# -*- coding: utf-8 -*-
# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Decision rules of ``hrw_health``: facts in, check results out.

PRIVATE TO THIS COLLECTION: no compatibility promise for code outside it.

Every function here is pure (no I/O) so that each pass/warn/fail decision is unit-tested.
``plugins/module_utils/_HybridWorkerHost.psm1`` mirrors these rules for Windows with the same check ids.
Runs on the managed host: Python 3.8+, standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

OK = 'ok'
WARN = 'warn'
FAIL = 'fail'
_RANK = {OK: 0, WARN: 1, FAIL: 2}

# Order in which checks run and are reported. Keep in sync with hrw_health DOCUMENTATION, docs/hrw_health_checks.md
# and _HybridWorkerHost.psm1.
CHECK_IDS = (
    'cpu_cores', 'memory', 'disk_space', 'os_supported',
    'dns', 'tcp_connect', 'tls', 'clock_skew', 'proxy',
    'worker_service', 'worker_user', 'extension_install', 'extension_settings', 'extension_status', 'log_folders',
    'runtime_powershell', 'runtime_python', 'runtime_paths', 'v1_remnants',
)

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

def parse_key_value_file(text):
    """Parse /etc/environment or /etc/os-release: KEY=value lines, optional quotes, '#' comments, optional 'export '."""
    values = {}
    for line in (text or '').splitlines():
        line = line.strip()
        if not line or line.startswith('#') or '=' not in line:
            continue
        if line.startswith('export '):
            line = line[len('export '):].strip()
        key, value = line.split('=', 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in '"\'':
            value = value[1:-1]
        values[key.strip()] = value
    return values


_URL_CREDENTIALS = re.compile(r'(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@')


def redact_url(value):
    """Hide ``user:password@`` in a proxy URL."""
    if value is None:
        return None
    return _URL_CREDENTIALS.sub(lambda m: m.group('scheme') + '***@', value)


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

def check_cpu_cores(cores, minimum=MIN_CPU_CORES):
    if cores is None:
        return result('cpu_cores', WARN, 'Could not count the CPU cores.', 'Check /proc/cpuinfo or nproc by hand.')
    if cores >= minimum:
        return result('cpu_cores', OK, '%d CPU cores (minimum %d).' % (cores, minimum))
    return result('cpu_cores', FAIL, '%d CPU core(s), below the documented minimum of %d.' % (cores, minimum),
                  'Give the machine at least %d cores (Hybrid Runbook Worker prerequisites).' % minimum)


def check_memory(total_mb, minimum_mb=MIN_MEMORY_MB):
    """The kernel reserves part of RAM, so a 4 GB machine reports a little less: warn down to 90 %% of the minimum."""
    if total_mb is None:
        return result('memory', WARN, 'Could not read the memory size.', 'Check /proc/meminfo by hand.')
    if total_mb >= minimum_mb:
        return result('memory', OK, '%d MB of memory (minimum %d MB).' % (total_mb, minimum_mb))
    if total_mb >= minimum_mb * 0.9:
        return result('memory', WARN, '%d MB of memory, just below the %d MB minimum (the kernel reserves some).'
                      % (total_mb, minimum_mb), 'Confirm the machine has at least %d MB of RAM.' % minimum_mb)
    return result('memory', FAIL, '%d MB of memory, below the documented minimum of %d MB.' % (total_mb, minimum_mb),
                  'Give the machine at least %d MB of RAM.' % minimum_mb)


def check_disk_space(path, free_mb, minimum_mb=MIN_DISK_FREE_MB):
    if free_mb is None:
        return result('disk_space', WARN, 'Could not read the free space of %s.' % path, 'Check df by hand.', target=path)
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


# ---------------------------------------------------------------------------------------------------- network

def check_dns(host, addresses, error=None):
    if error or not addresses:
        return result('dns', FAIL, 'Cannot resolve %s: %s' % (host, error or 'no address'),
                      'Fix DNS so %s resolves (with Private Link: the private DNS zone privatelink.azure-automation.net).' % host,
                      target=host)
    return result('dns', OK, '%s resolves to %s.' % (host, ', '.join(addresses)), target=host)


def check_tcp_connect(host, port, error=None, elapsed_ms=None, proxy_configured=False, via=None):
    """``via``: the (redacted) proxy URL when the connection goes through a CONNECT tunnel."""
    target = '%s:%d' % (host, port)
    route = ' through proxy %s' % via if via else ''
    if error:
        if via:
            return result('tcp_connect', FAIL, 'Cannot open TCP %s%s: %s.' % (target, route, error),
                          'Check the proxy URL and credentials, and that the proxy allows CONNECT to *.azure-automation.net:%d.' % port,
                          target=target)
        hint = ' A proxy is configured on this host: the worker uses the extension setting Proxy_URL; pass proxy_url to test through it.' \
            if proxy_configured else ''
        return result('tcp_connect', FAIL, 'Cannot open TCP %s: %s.%s' % (target, error, hint),
                      'Allow outbound TCP %d to *.azure-automation.net (service tag GuestAndHybridManagement) '
                      'in host and network firewalls.' % port, target=target)
    return result('tcp_connect', OK, 'TCP %s open%s%s.' % (target, route, '' if elapsed_ms is None else ' in %d ms' % elapsed_ms),
                  target=target)


def check_tls(host, port, facts, expected_issuers=DEFAULT_EXPECTED_ISSUERS):
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
                      'Update the CA bundle (ca-certificates) so it contains the DigiCert/Microsoft roots, and check the clock.',
                      target=target, details=details)
    if code in _UNTRUSTED_CHAIN_CODES or code == _HOSTNAME_MISMATCH_CODE:
        return result('tls', FAIL, 'Certificate of %s does not validate (%s) and is issued by %s, not by an expected issuer: '
                      'this looks like a TLS-intercepting proxy.' % (target, message, issuer),
                      'Exempt *.azure-automation.net from TLS inspection, or add the proxy CA to the system trust store '
                      '(update-ca-certificates) and to expected_issuers.', target=target, details=details)
    return result('tls', FAIL, 'Certificate of %s does not validate (%s); issuer %s.' % (target, message, issuer),
                  'Check the clock and the certificate chain the endpoint presents.', target=target, details=details)


def check_clock_skew(host, skew_seconds, error=None):
    """``skew_seconds`` = local time minus the endpoint's HTTP Date (positive: local clock ahead)."""
    if skew_seconds is None:
        return result('clock_skew', WARN, 'No HTTP Date from %s to compare the clock with%s.' % (host, ': %s' % error if error else ''),
                      'Check time synchronisation (timedatectl / chrony) by hand.', target=host)
    size = abs(skew_seconds)
    text = 'Clock differs from %s by %+d s.' % (host, skew_seconds)
    if size <= CLOCK_SKEW_WARN_SECONDS:
        return result('clock_skew', OK, text, target=host)
    remedy = 'Synchronise the clock with NTP (systemd-timesyncd or chrony); token validation fails beyond a few minutes.'
    if size <= CLOCK_SKEW_FAIL_SECONDS:
        return result('clock_skew', WARN, text, remedy, target=host)
    return result('clock_skew', FAIL, text, remedy, target=host)


def check_proxy(process_env, environment_file, extension_proxy_url):
    """Report proxy settings without secrets.

    ``process_env``/``environment_file``: dicts of variables; only *_proxy keys are looked at.
    ``extension_proxy_url``: whether the extension's protected settings carry Proxy_URL: True, False (none, or readable
    settings without it), None (encrypted settings: cannot tell) or 'unknown' (no extension settings found). The Linux worker
    takes its proxy from that setting, not from the environment.
    """
    def proxies(values):
        return dict((k.lower(), v) for k, v in (values or {}).items() if k.lower() in ('http_proxy', 'https_proxy', 'no_proxy') and v)

    env = proxies(process_env)
    etc = proxies(environment_file)
    shown = []
    for label, values in (('environment', env), ('/etc/environment', etc)):
        for key in sorted(values):
            shown.append('%s %s=%s' % (label, key, redact_url(values[key])))
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

def check_worker_service(name, facts):
    """``facts``: {'manager': bool, 'active': 'active'|'inactive'|..., 'enabled': 'enabled'|...}; manager False = no systemctl."""
    if not facts.get('manager'):
        return result('worker_service', WARN, 'No service manager found to query %s.' % name,
                      'Check the worker service by hand.', target=name)
    active = facts.get('active') or 'unknown'
    enabled = facts.get('enabled') or 'unknown'
    if active == 'active':
        if enabled in ('enabled', 'static', 'alias', 'indirect', 'generated'):
            return result('worker_service', OK, 'Service %s is %s and %s.' % (name, active, enabled), target=name)
        return result('worker_service', WARN, 'Service %s is active but %s: it will not start after a reboot.' % (name, enabled),
                      'systemctl enable %s (or re-enable the extension).' % name, target=name)
    return result('worker_service', FAIL, 'Service %s is %s (%s).' % (name, active, enabled),
                  'Start it (systemctl start %s); if it is missing, (re)install the HybridWorkerExtension.' % name, target=name)


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


def check_runtime_powershell(path, version):
    if not path:
        return result('runtime_powershell', WARN, 'pwsh not found: PowerShell runbooks cannot run on this worker.',
                      'Install PowerShell 7 (package powershell) if the worker runs PowerShell runbooks.')
    if not version:
        return result('runtime_powershell', WARN, 'pwsh at %s did not report its version.' % path, 'Run pwsh --version by hand.')
    return result('runtime_powershell', OK, 'PowerShell %s at %s.' % (version_text(version), path))


def check_runtime_python(path, version):
    if not path:
        return result('runtime_python', FAIL, 'python3 not found: the extension handler and Python runbooks need it.',
                      'Install python3.')
    if not version or tuple(version) < (3, 0):
        return result('runtime_python', WARN, 'Python at %s reports version %s.' % (path, version_text(version) or '?'),
                      'Install python3.')
    return result('runtime_python', OK, 'Python %s at %s.' % (version_text(version), path))


RUNTIME_PATH_VARIABLES = ('powershell_7_2_path', 'python_3_10_path')


def check_runtime_paths(values, executable):
    """``values``: variables from /etc/environment; ``executable``: {path: bool} for the paths they name."""
    set_vars = dict((k, values[k]) for k in RUNTIME_PATH_VARIABLES if values.get(k))
    broken = sorted(k for k, v in set_vars.items() if not executable.get(v))
    details = dict(set_vars)
    if broken:
        return result('runtime_paths', FAIL, '%s point(s) to a missing or non-executable file: %s.'
                      % (', '.join(broken), ', '.join(set_vars[k] for k in broken)),
                      'Fix the path in /etc/environment (hrw_modules runtime_paths) and restart the worker.', details=details)
    if not set_vars:
        return result('runtime_paths', WARN, 'Neither powershell_7_2_path nor python_3_10_path is set: '
                      'PowerShell 7.2 and Python 3.10 runbooks will not run here.',
                      'Set them in /etc/environment (hrw_modules runtime_paths) and restart the worker.', details=details)
    unset = [k for k in RUNTIME_PATH_VARIABLES if k not in set_vars]
    summary = 'Set: %s.' % ', '.join('%s=%s' % (k, v) for k, v in sorted(set_vars.items()))
    if unset:
        summary += ' Not set: %s.' % ', '.join(unset)
    return result('runtime_paths', OK, summary, details=details)


def check_v1_remnants(paths, processes, users):
    """Legacy agent-based (V1) worker: ``paths`` found, ``processes`` (command lines) running, ``users`` present."""
    if not (paths or processes or users):
        return result('v1_remnants', OK, 'No agent-based (V1) worker found.')
    details = {'paths': sorted(paths), 'processes': list(processes), 'users': sorted(users)}
    if processes:
        return result('v1_remnants', WARN, 'An agent-based (V1) worker is running (%d process(es)).' % len(processes),
                      'After the V2 worker heartbeats, deregister V1 (onboarding.py --deregister) and purge the OMS agent.',
                      details=details)
    return result('v1_remnants', WARN, 'Leftovers of an agent-based (V1) worker: %s.' % ', '.join(sorted(paths) + sorted(users)),
                  'Deregister V1 if it is still registered, then remove the OMS agent (onboard_agent.sh --purge) and its files.',
                  details=details)
