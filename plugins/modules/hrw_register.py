#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: hrw_register
short_description: Register Azure VMs and Arc machines as extension-based hybrid runbook workers
version_added: 0.1.0
description:
  - Ensures that a machine is (or is not) an extension-based (V2) hybrid runbook worker of a group. Both planes are handled
    the documented way, in order; the worker record in the Automation account, the system-assigned managed identity of the
    machine, and the C(HybridWorkerExtension) on the machine configured with the account's C(AutomationAccountURL).
  - The record is found by the machine's resource id, so re-runs reuse it. A new record gets a GUID derived from the resource id
    (uuid5 of the lower-cased id), so parallel or repeated runs never create two records for one machine.
  - "Two forms: O(vm_resource_id) handles one machine and suits a play that runs once per host (C(delegate_to: localhost)).
    O(workers) reconciles a whole list in one task with O(concurrency) threads and one paged list of workers per group instead of
    one lookup per machine; use it for fleets (tens of machines and more), where ARM's write throttling is the limit: a re-run
    that has nothing to change makes no write at all."
  - Azure cannot change the publisher or type of an existing extension (it answers C(409 PropertyChangeNotAllowed)). When the
    machine's C(HybridWorkerExtension) has another type (for example C(HybridWorkerForWindows) on a machine that now runs Linux)
    or another publisher, it is deleted (waiting for the removal to finish) and created again (action C(replace_extension)); its
    tags are kept and its protected settings are sent again. Check mode predicts it and C(--diff) shows both types and publishers.
  - With O(state=absent) the extension and the record are removed; it succeeds when either (or the machine) is already gone.
    A machine registered in another group is left alone.
  - With O(state=absent) and a group that does not exist (for example a typo), nothing is changed on any machine; the task is
    ok (not changed) and a warning names the group and the groups of the account.
author:
  - Azure Automation Hybrid Worker contributors (@azure-automation)
options:
  group:
    description:
      - Name of the hybrid worker group. It must exist (see M(azure_automation.hybrid_worker.hrw_group) and O(recreate_group)) and be a User group;
        a System group (Update Management's) is refused before any write.
      - The naming rules of M(azure_automation.hybrid_worker.hrw_group) apply, including the refusal of invisible and look-alike characters.
    type: str
    required: true
  vm_resource_id:
    description:
      - Resource id of one Azure VM (C(/subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.Compute/virtualMachines/<name>))
        or Arc-enabled server (C(.../providers/Microsoft.HybridCompute/machines/<name>)).
      - Malformed ids and other resource types are rejected before any call to Azure.
      - Exactly one of O(vm_resource_id) and O(workers) is required.
    type: str
  worker_id:
    description:
      - GUID of the worker record, for O(vm_resource_id).
      - By default the existing record of the machine is used, else a GUID derived from O(vm_resource_id).
      - It is an error if the machine is already registered under another id.
    type: str
  workers:
    description:
      - The fleet form; a list of machines reconciled in one task. The other options apply to each of them.
    type: list
    elements: dict
    suboptions:
      vm_resource_id:
        description: Resource id of the Azure VM or Arc machine, as O(vm_resource_id).
        type: str
        required: true
      worker_id:
        description: GUID of its worker record, as O(worker_id).
        type: str
      os_type:
        description: Overrides O(os_type) for this machine.
        type: str
        choices: [linux, windows]
  concurrency:
    description:
      - Number of machines handled at the same time with O(workers).
      - At least 1. It is capped at the number of machines and at 64 (more threads only wait on ARM's write throttling);
        a larger value gets a warning.
    type: int
    default: 16
  recreate_group:
    description:
      - Re-create O(group) when it is gone, then register the machine into it. Set it only right after ensuring the group
        with M(azure_automation.hybrid_worker.hrw_group) in the same play, as the C(deploy_hrw) playbook does. A concurrent run
        that removes the group's last workers deletes the emptied group, and without this option a registration that
        comes a moment later fails.
      - The group is re-created with the credential it had when this task read it, and the registration is tried again (up to
        two more times, as each concurrent removal deletes an emptied group once).
      - With V(false) (the default) a missing group fails and the message lists the account's groups, so a typo in
        O(group) never creates a group.
      - With O(state=absent) it is ignored.
    type: bool
    default: false
  state:
    description:
      - V(present) registers the machine and installs the extension; V(absent) removes both.
    type: str
    choices: [present, absent]
    default: present
  move:
    description:
      - If the machine is a worker of another group of the account, move its record to O(group) (C(POST .../move)) instead of failing.
        A machine can be a worker of one group only.
    type: bool
    default: false
  install_extension:
    description:
      - Also manage the system-assigned identity and the C(HybridWorkerExtension) of the machine. With V(false) only the record is managed.
    type: bool
    default: true
  os_type:
    description:
      - Chooses the extension type (C(HybridWorkerForLinux) or C(HybridWorkerForWindows)). By default it is read from the machine.
      - Needed only for a machine that does not report its OS type. When the machine reports one and it differs, the task fails
        before any write (Azure would accept the extension and then fail it on the machine).
    type: str
    choices: [linux, windows]
  type_handler_version:
    description:
      - Extension version (C(major.minor), optionally with build numbers such as C(1.1.11)); minor upgrades follow
        O(auto_upgrade_minor_version). Other values are refused before any call to Azure.
    type: str
    default: "1.1"
  auto_upgrade_minor_version:
    description:
      - Let Azure move to newer minor versions when the extension is (re)deployed.
    type: bool
    default: true
  enable_automatic_upgrade:
    description:
      - Let Azure upgrade the extension automatically when a new version is published.
    type: bool
    default: true
  proxy_server:
    description:
      - Proxy the worker uses to reach Azure Automation, as C(host:port) or C(http://host[:port]) / C(https://host[:port]).
        Other schemes, paths and values that are not an address are refused before any call to Azure.
      - It must not contain credentials (C(user:password@host)); set O(proxy_username) and O(proxy_password) instead. The value
        is not a secret option, so Ansible shows it at C(-vvv), and on Windows it is stored in the public extension settings.
      - On Windows it goes into the extension settings (C(ProxySettings)); on Linux into the protected settings (C(Proxy_URL)).
      - On Linux the extension also carries the proxy server (without credentials) and O(proxy_username) in the tags
        C(hrw-proxy-server) and C(hrw-proxy-username), so a change of either is found on the next run. That is what the Windows
        extension shows in its public settings; anyone who can read the machine can read them.
    type: str
  proxy_username:
    description:
      - User name for O(proxy_server).
    type: str
  proxy_password:
    description:
      - Password for O(proxy_username) at O(proxy_server). It is written to the extension's protected settings, which Azure never returns.
      - Nothing derived from the password is stored anywhere, so the module cannot tell whether the password on the extension is the
        one given here; O(update_protected_settings) says when it is sent.
    type: str
  update_protected_settings:
    description:
      - When the extension's protected settings (O(proxy_password), and on Linux the whole proxy URL with O(proxy_username)) are sent,
        as O(ansible.builtin.user#module:update_password) does for a user's password.
      - V(on_create) sends them when the extension is created, and whenever the extension is written anyway because something Azure does
        return differs (version, settings, proxy server or user name, a failed extension, O(force)). An extension PUT replaces the
        whole resource, so every write carries them; without them the password would be dropped.
        A password that changed while nothing else did is B(not detected) with V(on_create); use V(always) once, or O(force).
      - V(always) sends them on every run. As they cannot be compared, each run then writes the extension and reports C(changed)
        (in check mode too). Without a proxy password (or, on Linux, without O(proxy_server)) there is nothing to send and it makes no
        difference.
      - Earlier versions of this module stored a salted SHA-256 fingerprint of the protected settings in the extension tag
        C(hrw-protected-settings-fingerprint), from which anyone with read access to the machine could guess the password offline.
        Any run with O(state=present) and O(install_extension=true) removes that tag (action C(remove_fingerprint_tag), with a PATCH of the
        tags that keeps the protected settings, or as part of the extension write when there is one anyway); check mode predicts it.
        Change a proxy password that such a tag exposed.
    type: str
    choices: [always, on_create]
    default: on_create
  force:
    description:
      - Rewrite the extension even if it looks up to date (for example after the proxy password was changed outside Ansible).
      - The write carries the protected settings, as with O(update_protected_settings=always).
    type: bool
    default: false
  enable_system_identity:
    description:
      - The extension authenticates with the machine's system-assigned managed identity. Enable it when it is missing.
      - With V(false), a machine without one fails.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for each long-running operation (extension install or removal, identity change). From 1 to 86400.
      - Also how long ARM may stay unreachable (connection refused or reset, answers lost) once it has answered in this
        run; each request is retried until then, so a run outlives an ARM restart that is shorter. A re-run converges after
        any interruption, also after the controller was killed.
    type: int
    default: 600
  wait_for_heartbeat:
    description:
      - After the changes, wait until the worker's C(lastSeenDateTime) is at most O(heartbeat_max_age) seconds old.
      - Skipped in check mode.
      - With O(install_extension=false) the heartbeat can only come from a C(HybridWorkerExtension) installed by other means; when
        the machine has none, the task fails before any write instead of waiting out O(heartbeat_timeout).
    type: bool
    default: false
  heartbeat_timeout:
    description:
      - Seconds to wait for the heartbeat with O(wait_for_heartbeat=true) before failing. From 1 to 86400.
    type: int
    default: 300
  heartbeat_max_age:
    description:
      - Age in seconds up to which a heartbeat counts as fresh. Workers poll every 30 seconds. From 1 to 86400.
    type: int
    default: 90
extends_documentation_fragment:
  - azure_automation.hybrid_worker._azure_auth
  - azure_automation.hybrid_worker._attributes
  - azure_automation.hybrid_worker._attributes.actiongroup_hrw
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The proxy password is never shown; the diff says "(set)" or "(changed)" when it is written and "(unknown)" when it is not.
  idempotent:
    support: partial
    details:
      - With the default O(update_protected_settings=on_create). With V(always) and a proxy password, every run writes the extension
        and reports C(changed), because the protected settings cannot be compared.
requirements:
  - azure-mgmt-compute >= 30.0.0 (for Azure VMs)
  - azure-mgmt-hybridcompute >= 9.0.0 (for Arc machines)
seealso:
  - module: azure_automation.hybrid_worker.hrw_group
  - module: azure_automation.hybrid_worker.hrw_worker_info
"""

EXAMPLES = r"""
- name: Register this host's Azure VM in a group and wait for its first heartbeat
  azure_automation.hybrid_worker.hrw_register:
    resource_group: rg-automation
    automation_account: aa-ops
    group: linux-workers
    vm_resource_id: "{{ azure_vm_id }}"
    wait_for_heartbeat: true
  delegate_to: localhost

- name: Register a whole fleet in one task (one list of the group, writes only where something differs)
  azure_automation.hybrid_worker.hrw_register:
    resource_group: rg-automation
    automation_account: aa-ops
    group: linux-workers
    workers:
      - vm_resource_id: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-vms/providers/Microsoft.Compute/virtualMachines/vm1
      - vm_resource_id: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-vms/providers/Microsoft.Compute/virtualMachines/vm2
        os_type: windows
    concurrency: 16
  run_once: true
  delegate_to: localhost

- name: Move an Arc server from another group, with a proxy
  azure_automation.hybrid_worker.hrw_register:
    resource_group: rg-automation
    automation_account: aa-ops
    group: windows-workers
    vm_resource_id: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-arc/providers/Microsoft.HybridCompute/machines/srv01
    move: true
    proxy_server: 10.0.0.10:3128
    proxy_username: hrw
    proxy_password: "{{ vault_proxy_password }}"
  no_log: true

- name: Rotate the proxy password (Azure never returns it, so it is sent only when asked; the task reports changed)
  azure_automation.hybrid_worker.hrw_register:
    resource_group: rg-automation
    automation_account: aa-ops
    group: linux-workers
    vm_resource_id: "{{ azure_vm_id }}"
    proxy_server: http://10.0.0.10:3128
    proxy_username: hrw
    proxy_password: "{{ vault_new_proxy_password }}"
    update_protected_settings: always
  delegate_to: localhost

- name: Remove a worker (record and extension)
  azure_automation.hybrid_worker.hrw_register:
    resource_group: rg-automation
    automation_account: aa-ops
    group: linux-workers
    vm_resource_id: "{{ azure_vm_id }}"
    state: absent
"""

RETURN = r"""
worker_id:
  description: GUID of the worker record (with O(vm_resource_id)).
  returned: when O(vm_resource_id) is set
  type: str
  sample: 6d1f0e9b-7c70-5e0b-8d8a-0f3c1f7c2d11
vm_resource_id:
  description: The machine's resource id (with O(vm_resource_id)).
  returned: when O(vm_resource_id) is set
  type: str
  sample: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-vms/providers/Microsoft.Compute/virtualMachines/vm1
actions:
  description:
    - What was done, or would be done in check mode (with O(vm_resource_id)).
    - C(create_record), C(move_record), C(enable_system_identity), C(install_extension), C(update_extension),
      C(replace_extension) (an extension of another type or publisher deleted and created again),
      C(remove_fingerprint_tag) (see O(update_protected_settings)), C(remove_extension), C(remove_record).
  returned: when O(vm_resource_id) is set
  type: list
  elements: str
  sample: [create_record, enable_system_identity, install_extension]
extension:
  description:
    - The HybridWorker extension after the run (null with O(state=absent) or O(install_extension=false)). Never includes protected settings.
    - C(proxy_server) and C(proxy_username) come from the public settings on Windows and from the proxy tags on Linux (never with
      credentials). C(proxy_password) is never the password; it is V(null) without one, C("(set)") or C("(changed)") when this run
      wrote it, and C("(unknown)") otherwise.
    - C(legacy_fingerprint_tag) is true while the extension still carries the fingerprint tag of earlier versions.
  returned: when O(vm_resource_id) is set
  type: dict
  sample:
    name: HybridWorkerExtension
    publisher: Microsoft.Azure.Automation.HybridWorker
    type: HybridWorkerForLinux
    type_handler_version: "1.1"
    auto_upgrade_minor_version: true
    enable_automatic_upgrade: true
    automation_account_url: https://0000.jrds.weu.azure-automation.net/automationAccounts/0000
    proxy_server: http://10.0.0.10:3128
    proxy_username: hrw
    proxy_password: (set)
    provisioning_state: Succeeded
    legacy_fingerprint_tag: false
worker:
  description:
    - The worker record once its heartbeat was fresh (with O(wait_for_heartbeat=true)).
    - Same keys as in M(azure_automation.hybrid_worker.hrw_worker_info).
  returned: when O(wait_for_heartbeat=true) and not in check mode
  type: dict
  sample: {group: linux-workers, worker_id: 6d1f0e9b-7c70-5e0b-8d8a-0f3c1f7c2d11, worker_type: HybridV2, last_seen: "2026-11-22T02:00:00.000Z"}
workers:
  description: One entry per machine of O(workers), in the same order, with the keys above plus C(changed), and C(failed) and C(msg) on error.
  returned: when O(workers) is set
  type: list
  elements: dict
  sample:
    - vm_resource_id: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-vms/providers/Microsoft.Compute/virtualMachines/vm1
      worker_id: 6d1f0e9b-7c70-5e0b-8d8a-0f3c1f7c2d11
      group: linux-workers
      changed: false
      actions: []
summary:
  description: Counts of machines by outcome (with O(workers)).
  returned: when O(workers) is set
  type: dict
  sample: {total: 100, changed: 3, unchanged: 97, failed: 0}
arm_requests:
  description: ARM requests of this run.
  returned: always
  type: dict
  sample: {reads: 102, writes: 9, retries: 0, throttled: 0}
"""

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._errors import HrwError, OptionError
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._extension import secret_forms
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._ids import validate_group_name
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._module import HrwModule
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._register import (
    MAX_CONCURRENCY, Registrar, effective_concurrency, specs_from_params)
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._validate import validate_register_options


def validate(params):
    validate_group_name(params["group"], "group")
    for option in ("concurrency", "wait_timeout", "heartbeat_timeout", "heartbeat_max_age"):
        if params[option] < 1:
            raise OptionError(option, "must be a positive number, got %s" % params[option])
    if params["workers"] is not None and params["worker_id"]:
        raise OptionError("worker_id", "use workers[].worker_id with workers")
    if (params["proxy_password"] or params["proxy_username"]) and not params["proxy_server"]:
        raise OptionError("proxy_password" if params["proxy_password"] else "proxy_username", "needs proxy_server")
    if params["proxy_password"] and not params["proxy_username"]:
        raise OptionError("proxy_password", "needs proxy_username (the extension takes a password only with a user name)")
    return specs_from_params(params)


def cap_concurrency(params, count, warn):
    """The threads (and connections) this run uses: a huge O(concurrency) must not size a pool for millions."""
    if params["concurrency"] > MAX_CONCURRENCY:
        warn("concurrency %d is more than the maximum of %d; using %d" % (params["concurrency"], MAX_CONCURRENCY, MAX_CONCURRENCY))
    params["concurrency"] = effective_concurrency(params["concurrency"], count)


def run(hrw):
    params = hrw.params
    specs = validate(params)
    validate_register_options(params, hide=hrw.module.no_log_values.add)
    cap_concurrency(params, len(specs), hrw.warn)
    hrw.resolve()
    registrar = Registrar(hrw.automation(), hrw.machines(timeout=params["wait_timeout"]), params, check_mode=hrw.check_mode,
                          warn=hrw.warn)
    hrw.module.no_log_values.update(secret_forms(registrar.options))
    if params["workers"] is None:
        index = registrar.prepare(specs)
        result = registrar.reconcile(specs[0], index)
        result.pop("group", None)
        return result
    return fleet_result(params, registrar.reconcile_all(specs, concurrency=params["concurrency"]))


def fleet_result(params, results):
    results = [r if r is not None else {"vm_resource_id": None, "changed": False, "failed": True, "actions": [],
                                        "msg": "no result was recorded for this machine"} for r in results]
    failed = [r for r in results if r.get("failed")]
    changed = [r for r in results if r.get("changed")]
    before = dict((r["vm_resource_id"], r["diff"]["before"]) for r in changed if "diff" in r)
    after = dict((r["vm_resource_id"], r["diff"]["after"]) for r in changed if "diff" in r)
    for entry in results:
        entry.pop("diff", None)
    summary = {"total": len(results), "changed": len(changed), "unchanged": len(results) - len(changed) - len(failed),
               "failed": len(failed)}
    result = {"changed": bool(changed), "workers": results, "summary": summary, "diff": {"before": before, "after": after}}
    if failed:
        raise HrwError("Failed to reconcile %d of %d machines with group '%s'; first error: %s"
                       % (len(failed), len(results), params["group"], failed[0]["msg"]), changed=bool(changed),
                       workers=results, summary=summary)
    return result


def main():
    hrw = HrwModule(dict(
        group=dict(type="str", required=True),
        vm_resource_id=dict(type="str"),
        worker_id=dict(type="str"),
        workers=dict(type="list", elements="dict", options=dict(
            vm_resource_id=dict(type="str", required=True),
            worker_id=dict(type="str"),
            os_type=dict(type="str", choices=["linux", "windows"]),
        )),
        concurrency=dict(type="int", default=16),
        recreate_group=dict(type="bool", default=False),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        move=dict(type="bool", default=False),
        install_extension=dict(type="bool", default=True),
        os_type=dict(type="str", choices=["linux", "windows"]),
        type_handler_version=dict(type="str", default="1.1"),
        auto_upgrade_minor_version=dict(type="bool", default=True),
        enable_automatic_upgrade=dict(type="bool", default=True),
        proxy_server=dict(type="str"),
        proxy_username=dict(type="str"),
        proxy_password=dict(type="str", no_log=True),
        update_protected_settings=dict(type="str", choices=["always", "on_create"], default="on_create"),
        force=dict(type="bool", default=False),
        enable_system_identity=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=600),
        wait_for_heartbeat=dict(type="bool", default=False),
        heartbeat_timeout=dict(type="int", default=300),
        heartbeat_max_age=dict(type="int", default=90),
    ), mutually_exclusive=[("vm_resource_id", "workers")], required_one_of=[("vm_resource_id", "workers")])
    hrw.run(run)


if __name__ == "__main__":
    main()
