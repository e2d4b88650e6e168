#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: hrw_host_probe
short_description: Internal - gather the host facts that hrw_health decides on
version_added: 0.1.0
description:
  - B(Internal to the collection.) The M(azure_automation.hybrid_worker.hrw_health) action runs this module on the host and
    evaluates the facts it returns on the controller; use M(azure_automation.hybrid_worker.hrw_health), not this module.
  - It only observes (files, services, sockets, TLS, processes) and returns the facts of the facts schema (version 1,
    C(plugins/module_utils/_host_facts.py)); it holds no threshold, rule or remediation text.
  - The Linux implementation is this Python module; on Windows hosts Ansible runs C(hrw_host_probe.ps1) with the same options.
author:
  - Azure Automation Hybrid Worker contributors (@azure-automation)
options:
  groups:
    description: Fact groups (top-level keys of the facts schema) to gather, as hrw_health computed them from its selected checks.
    type: list
    elements: str
    required: true
  network_steps:
    description:
      - Network steps per endpoint, from V(dns), V(tcp), V(tls) and V(date) (the HTTP C(Date) header of the worker endpoint).
    type: list
    elements: str
    default: []
  endpoints:
    description: Endpoints for the network facts, the worker endpoint first.
    type: list
    elements: dict
    default: []
    suboptions:
      host:
        description: Host name.
        type: str
        required: true
      port:
        description: TCP port.
        type: int
        required: true
      primary:
        description: Whether this is the worker endpoint (the HTTP C(Date) header is read from it).
        type: bool
        default: false
  use_settings_url:
    description: Put the endpoint of the extension settings' C(AutomationAccountURL) first.
    type: bool
    default: false
  timeout:
    description: Seconds for each network step.
    type: int
    default: 5
  disk_path:
    description: Path whose file system free space is read; C(/var) on Linux, the system drive on Windows when omitted.
    type: path
  proxy:
    description: HTTP proxy to open CONNECT tunnels through.
    type: dict
    suboptions:
      host:
        description: Proxy host.
        type: str
        required: true
      port:
        description: Proxy port.
        type: int
        required: true
      authorization:
        description: Base64 C(user:password) for C(Proxy-Authorization Basic); never logged.
        type: str
seealso:
  - module: azure_automation.hybrid_worker.hrw_health
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: [posix, windows]
"""

EXAMPLES = r"""
# Internal: run through azure_automation.hybrid_worker.hrw_health.
- name: Gather the facts of the size checks
  azure_automation.hybrid_worker.hrw_host_probe:
    groups: [cpu_cores, memory_mb, disk]
  register: probe
"""

RETURN = r"""
facts:
  description: The host facts, in the shape of the facts schema (C(plugins/module_utils/_host_facts.py)).
  returned: always
  type: dict
  sample: {"schema_version": 1, "os_family": "linux", "cpu_cores": 2, "memory_mb": 3934}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils import _host_probe as probe

ARGUMENT_SPEC = dict(
    groups=dict(type='list', elements='str', required=True),
    network_steps=dict(type='list', elements='str', default=[]),
    endpoints=dict(type='list', elements='dict', default=[], options=dict(
        host=dict(type='str', required=True), port=dict(type='int', required=True), primary=dict(type='bool', default=False))),
    use_settings_url=dict(type='bool', default=False),
    timeout=dict(type='int', default=5),
    disk_path=dict(type='path'),
    proxy=dict(type='dict', options=dict(
        host=dict(type='str', required=True), port=dict(type='int', required=True), authorization=dict(type='str', no_log=True))),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    try:
        facts = probe.gather(p['groups'], p['network_steps'], p['endpoints'], p['use_settings_url'], p['timeout'], p['proxy'], p['disk_path'],
                             run_command=module.run_command, get_bin_path=module.get_bin_path)
    except ValueError as exc:
        module.fail_json(msg='Failed to gather the host facts: %s' % exc)
    module.exit_json(changed=False, facts=facts)


if __name__ == '__main__':
    main()
