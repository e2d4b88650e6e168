#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: hrw_health
short_description: Check that a host can run an Azure Automation Hybrid Runbook Worker
version_added: 0.1.0
description:
  - Runs read-only checks on a Linux or Windows host that is, or will become, an extension-based (V2) Hybrid Runbook Worker, and
    returns each as an item C({id, status, summary, remediation}) of RV(checks) with C(status) one of C(ok), C(warn), C(fail).
  - The host only observes; every decision is taken on the controller. The action plugin runs the internal probe
    C(hrw_host_probe) on the host (Python on Linux, PowerShell on Windows), which returns facts of one documented schema,
    then applies the one rule engine to them. The rule options (O(min_cpu_cores), O(min_memory_mb), O(min_disk_free_mb),
    O(expected_issuers), O(fail_on)) never travel to the host.
  - "Check ids, in the order they run (full table with every remediation in C(docs/hrw_health_checks.md) of the collection):"
  - C(cpu_cores) - CPU cores against O(min_cpu_cores) (documented minimum 2). Fail below.
  - C(memory) - total RAM against O(min_memory_mb) (documented minimum 4 GB). Warn down to 90% of it (the kernel reserves some), fail below.
  - C(disk_space) - free space on O(disk_path). Fail below O(min_disk_free_mb), warn below twice that.
  - C(os_supported) - x64 and a distribution/version from the documented list (Debian 8-12, Ubuntu 18.04/20.04/22.04, RHEL 7/8,
    Oracle Linux 7/8, SLES 15; Windows Server 2012 or later, Windows 10/11). Fail on non-x64, warn on an unlisted OS.
  - C(dns) - each endpoint (the worker endpoint from O(automation_account_url) and every O(extra_endpoints)) resolves. Fail otherwise.
  - C(tcp_connect) - a TCP connection to each endpoint on the URL's port (default 443) opens within O(timeout), directly or, with
    O(proxy_url), as a CONNECT tunnel through the proxy. Fail otherwise.
  - C(tls) - the endpoint's certificate validates against the system trust store and chains to one of O(expected_issuers).
    Valid but from another issuer is a C(warn) named B(TLS interception). Not valid is a C(fail); the summary says whether it looks
    like a TLS-intercepting proxy (untrusted or self-signed chain, or host name mismatch, from an unexpected issuer) or not.
  - C(clock_skew) - local clock against the HTTP C(Date) header of the worker endpoint. Warn beyond 60 s, fail beyond 300 s.
  - C(proxy) - proxy variables in the environment and in C(/etc/environment) (Windows the machine environment and the WinHTTP
    proxy), shown without credentials, and whether the extension's protected settings carry C(Proxy_URL) (never its value; when
    they are encrypted only their presence is known; Windows public C(ProxySettings)). Warn on a host proxy when the extension has
    no proxy setting, or when the two C(https_proxy) values differ.
  - C(worker_service) - Linux C(hwd), Windows C(HybridWorkerService) is running and starts at boot. Fail when not running,
    warn when not enabled.
  - C(worker_user) - the C(hweautomation) user exists (Linux). Fail otherwise. On Windows, where jobs run as Local System or the
    group credential, it reports C(ok).
  - C(extension_install) - the C(HybridWorkerForLinux)/C(HybridWorkerForWindows) extension directory exists. Fail when missing,
    warn when older than 1.1.11 (needed for PowerShell 7.2 and Python 3.10 runbooks).
  - C(extension_settings) - the newest extension settings file has an https C(AutomationAccountURL), equal to
    O(automation_account_url) when given. Fail otherwise.
  - C(extension_status) - the newest extension status file says C(success). Warn on C(transitioning)/C(warning) or no file, fail on error.
  - C(log_folders) - the extension log folder (and on Linux C(/home/hweautomation), on Windows the C(Microsoft-SMA/Operational)
    event log) exist. Warn otherwise.
  - C(runtime_powershell) - C(pwsh) is on C(PATH) and reports a version. Warn otherwise (PowerShell runbooks only).
  - C(runtime_python) - C(python3) (Windows C(python)) is found. Fail on Linux when missing (the extension needs it), warn on Windows.
  - C(runtime_paths) - C(powershell_7_2_path) and C(python_3_10_path) (Linux C(/etc/environment), Windows machine environment) name
    executable files. Fail when one is set to a missing file, warn when neither is set.
  - C(v1_remnants) - files, users, registry keys, the C(HealthService) service (Windows) and processes of a legacy agent-based (V1)
    worker. Warn when any is found.
  - A check that cannot gather its facts reports C(warn), never C(ok).
author:
  - Azure Automation Hybrid Worker contributors (@azure-automation)
options:
  automation_account_url:
    description:
      - The account's C(automationHybridServiceUrl) (what the extension setting C(AutomationAccountURL) should hold).
      - The network checks use its host and port (443 when the URL has none); C(extension_settings) compares against it.
      - When omitted, the network checks use the URL from the extension settings file, if there is one.
    type: str
  extra_endpoints:
    description:
      - More endpoints for C(dns), C(tcp_connect) and C(tls), as C(host), C(host:port) or an https URL, for example the regional
        C(*.azure-automation.net) records your firewall rules allow.
    type: list
    elements: str
    default: []
  expected_issuers:
    description:
      - Names matched (case-insensitive substring) against the common name and organisation of the certificates the TLS handshake
        shows; the verified chain up to the root on Python 3.13 and later, the leaf's issuer on older Pythons.
      - The default holds the roots Azure front ends chain to (DigiCert Global Root G2/G3/CA, Microsoft RSA/ECC Root Certificate
        Authority 2017) and the organisations of Azure's issuing CAs (C(Microsoft Corporation), C(DigiCert Inc)).
    type: list
    elements: str
    default:
      - DigiCert Global Root G2
      - DigiCert Global Root G3
      - DigiCert Global Root CA
      - Microsoft RSA Root Certificate Authority 2017
      - Microsoft ECC Root Certificate Authority 2017
      - Microsoft Corporation
      - DigiCert Inc
  checks:
    description:
      - Check ids to run. Empty means all.
    type: list
    elements: str
    default: []
    choices: [cpu_cores, memory, disk_space, os_supported, dns, tcp_connect, tls, clock_skew, proxy, worker_service, worker_user,
              extension_install, extension_settings, extension_status, log_folders, runtime_powershell, runtime_python,
              runtime_paths, v1_remnants]
  skip_checks:
    description:
      - Check ids not to run; applied after O(checks).
      - For example O(skip_checks=[worker_service, worker_user, extension_install, extension_settings, extension_status, log_folders])
        before the extension is installed.
    type: list
    elements: str
    default: []
    choices: [cpu_cores, memory, disk_space, os_supported, dns, tcp_connect, tls, clock_skew, proxy, worker_service, worker_user,
              extension_install, extension_settings, extension_status, log_folders, runtime_powershell, runtime_python,
              runtime_paths, v1_remnants]
  fail_on:
    description:
      - Which results fail the task. V(fail) fails on any C(fail), V(warn) on any C(warn) or C(fail), V(never) only reports.
      - The result (RV(checks), RV(summary)) is returned in every case.
    type: str
    default: fail
    choices: [fail, warn, never]
  timeout:
    description: Seconds for each DNS-independent network step (TCP connect, TLS handshake, HTTP response).
    type: int
    default: 5
  proxy_url:
    description:
      - HTTP proxy that C(tcp_connect), C(tls) and C(clock_skew) go through (a CONNECT tunnel), in the form of the extension's
        C(Proxy_URL) setting, C(http://[user:password@]host:port). An explicit TLS-inspecting proxy then shows in C(tls).
      - Without it those checks connect directly.
      - The option is C(no_log) on Linux and Windows alike, because the URL may carry credentials (a password with an unencoded
        C(#), C(/) or C(?) cannot even be found by parsing the URL), so the whole value is masked in all output. Summaries name the
        proxy by the URL without credentials (C(http://***@host:port)); a proxy URL without credentials is masked whole.
    type: str
  min_cpu_cores:
    description: Minimum CPU cores; the documented prerequisite is 2.
    type: int
    default: 2
  min_memory_mb:
    description: Minimum RAM in MB; the documented prerequisite is 4 GB.
    type: int
    default: 4096
  min_disk_free_mb:
    description:
      - Minimum free space in MB on O(disk_path). Microsoft documents no figure; 1 GB holds the extension, a PowerShell module
        set and job logs.
    type: int
    default: 1024
  disk_path:
    description:
      - Path whose file system C(disk_space) measures (the nearest existing parent when it does not exist).
      - Defaults to C(/var) on Linux (extension, logs, state) and to the system drive on Windows.
    type: path
notes:
  - Connections go directly from the host unless O(proxy_url) is given; the C(proxy) check reports the proxy settings it finds.
  - The system trust store is OpenSSL's default (on Linux C(SSL_CERT_FILE)/C(SSL_CERT_DIR) apply), the Windows certificate store on Windows.
  - Linux paths read are C(/var/lib/waagent/Microsoft.Azure.Automation.HybridWorker.HybridWorkerForLinux-<version>/) (install,
    C(status/*.status)), C(config/*.settings) there or under C(/var/lib/waagent/Microsoft.Azure.Automation.HybridWorker.HybridWorkerForLinux/),
    C(/var/log/azure/Microsoft.Azure.Automation.HybridWorker.HybridWorkerForLinux), C(/etc/environment), and the V1 paths
    C(/opt/microsoft/omsagent), C(/var/opt/microsoft/omsagent), C(/opt/microsoft/omsconfig/modules/nxOMSAutomationWorker),
    C(/home/nxautomation/state/worker.conf).
seealso:
  - module: azure_automation.hybrid_worker.hrw_modules
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: The module only reads; it never reports C(changed).
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: [posix, windows]
"""

EXAMPLES = r"""
- name: Check a worker against its account
  azure_automation.hybrid_worker.hrw_health:
    automation_account_url: "{{ hrw_account.automation_hybrid_service_url }}"
  register: health

- name: Check prerequisites before installing the extension, and only report
  azure_automation.hybrid_worker.hrw_health:
    automation_account_url: https://0f8e2c1a-0000-4000-8000-000000000001.jrds.eus2.azure-automation.net/automationAccounts/0f8e2c1a-0000-4000-8000-000000000001
    skip_checks: [worker_service, worker_user, extension_install, extension_settings, extension_status, log_folders]
    fail_on: never
  register: precheck

- name: Fail on warnings too, through the proxy that re-signs TLS with the corporate CA
  azure_automation.hybrid_worker.hrw_health:
    fail_on: warn
    proxy_url: "{{ hrw_proxy_url }}"
    expected_issuers:
      - DigiCert Global Root G2
      - Microsoft Corporation
      - Contoso Inspection CA

- name: Only the network checks, with an extra regional endpoint
  azure_automation.hybrid_worker.hrw_health:
    automation_account_url: "{{ hrw_url }}"
    extra_endpoints:
      - eus2-jobruntimedata-prod-su1.azure-automation.net
    checks: [dns, tcp_connect, tls, clock_skew, proxy]
"""

RETURN = r"""
checks:
  description: One item per check result, in the order the checks ran. Network checks give one item per endpoint.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Check id (see the module description).
      type: str
      sample: tls
    status:
      description: C(ok), C(warn) or C(fail).
      type: str
      sample: warn
    summary:
      description: What was found.
      type: str
      sample: "TLS interception: the certificate of x.jrds.eus2.azure-automation.net:443 validates against the system store but is
        issued by CN=Contoso Inspection CA, O=Contoso, not by an expected issuer."
    remediation:
      description: What to do; empty when C(status) is C(ok).
      type: str
      sample: Exempt *.azure-automation.net from TLS inspection, or add its issuer to expected_issuers if this is intended.
    target:
      description: The endpoint, path, service or user the item is about, when the check has one.
      type: str
      returned: when the check has a target
      sample: x.jrds.eus2.azure-automation.net:443
    details:
      description: Facts behind the decision (never secrets).
      type: dict
      returned: when the check has details
      sample: {"issuer": "CN=Contoso Inspection CA, O=Contoso", "verified": true}
  sample:
    - {"id": "cpu_cores", "status": "ok", "summary": "2 CPU cores (minimum 2).", "remediation": ""}
summary:
  description: Counts per status, the total, and the worst status.
  returned: always
  type: dict
  sample: {"ok": 15, "warn": 2, "fail": 0, "total": 17, "status": "warn"}
report:
  description:
    - The result as text to show to people - the headline with the counts, then one line per check that is not C(ok),
      worst first, with its remediation after C(Fix:).
    - When the task fails, its message lists the failing lines the same way.
  returned: always
  type: list
  elements: str
  sample:
    - "WARN: 17 ok, 1 warn, 0 fail"
    - "WARN runtime_powershell: pwsh not found: PowerShell runbooks cannot run on this worker. Fix: Install PowerShell 7
      (package powershell) if the worker runs PowerShell runbooks."
endpoints:
  description: The C(host:port) endpoints the network checks used.
  returned: always
  type: list
  elements: str
  sample: ["0f8e2c1a-0000-4000-8000-000000000001.jrds.eus2.azure-automation.net:443"]
automation_account_url:
  description: The worker endpoint URL used, from O(automation_account_url) or else from the extension settings; null when neither.
  returned: always
  type: str
  sample: https://0f8e2c1a-0000-4000-8000-000000000001.jrds.eus2.azure-automation.net/automationAccounts/0f8e2c1a-0000-4000-8000-000000000001
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.six.moves.urllib.parse import urlsplit

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils import _host_checks as checks
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils import _host_probe as probe


def run_in_process(module):
    """Probe this host and evaluate here: what hrw_health does when it is executed without its action plugin.

    Through Ansible the action plugin (plugins/action/hrw_health.py) runs instead: it sends hrw_host_probe to the host and
    evaluates on the controller, with the same two functions, checks.probe_request and checks.evaluate.
    """
    request = checks.probe_request(module.params)
    facts = probe.gather(request['groups'], request['network_steps'], request['endpoints'], request['use_settings_url'], request['timeout'],
                         request.get('proxy'), request['disk_path'], run_command=module.run_command,
                         get_bin_path=module.get_bin_path)
    return checks.evaluate(facts, module.params)


def main():
    module = AnsibleModule(argument_spec=checks.ARGUMENT_SPEC, supports_check_mode=True)
    if module.params['proxy_url']:
        secret = urlsplit(module.params['proxy_url']).password
        if secret:
            module.no_log_values.add(secret)  # also masked where it appears on its own
    try:
        results, endpoints, url = run_in_process(module)
    except ValueError as exc:
        module.fail_json(msg='Failed to run the health checks: %s' % exc)
    output, failure = checks.outcome(results, endpoints, url, module.params['fail_on'])
    if failure:
        module.fail_json(msg=failure, **output)
    module.exit_json(**output)


if __name__ == '__main__':
    main()
