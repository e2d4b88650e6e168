# -*- coding: utf-8 -*-
# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to the azure_automation.hybrid_worker collection: not a public API, may change without notice.
"""Clients for the two planes: the Automation record (account, groups, workers) and the VM/Arc machine with its extension.

They only talk to ARM through ArmClient and return plain dicts; the decisions live in _groups.py and _register.py.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

try:
    from urllib.parse import quote
except ImportError:  # pragma: no cover
    from urllib import quote

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._errors import (
    ArmError, ConflictError, NotFoundError, OperationTimeout, StateError)
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._extension import differences

EXTENSION_NAME = "HybridWorkerExtension"
SETTLING_STATES = ("creating", "updating", "deleting")
# ARM's answer to a write on an extension that has an operation running: often our own earlier PUT whose answer was lost.
BUSY_CODE = "OperationNotAllowed"
BUSY_ATTEMPTS = 5


def _seg(value):
    return quote(value, safe="")


def group_view(group):
    props = group.get("properties") or {}
    credential = props.get("credential") or {}
    return {
        "name": group.get("name"),
        "id": group.get("id"),
        "group_type": props.get("groupType") or "User",
        "credential_name": credential.get("name") or None,
    }


def worker_view(group_name, worker):
    props = worker.get("properties") or {}
    return {
        "group": group_name,
        "worker_id": worker.get("name"),
        "id": worker.get("id"),
        "worker_name": props.get("workerName"),
        "worker_type": props.get("workerType"),
        "vm_resource_id": props.get("vmResourceId") or "",
        "ip": props.get("ip"),
        "registered": props.get("registeredDateTime"),
        "last_seen": props.get("lastSeenDateTime"),
    }


class AutomationService(object):
    """Account, hybrid worker groups and worker records (Microsoft.Automation, synchronous calls)."""

    def __init__(self, arm, subscription_id, resource_group, account):
        self.arm = arm
        self.resource_group = resource_group
        self.account_name = account
        self.base = "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Automation/automationAccounts/%s" % (
            subscription_id, _seg(resource_group), _seg(account))
        self._account = None

    # names used in messages
    def account_label(self):
        return "Automation account '%s' in resource group '%s'" % (self.account_name, self.resource_group)

    def group_label(self, name):
        return "hybrid worker group '%s' of %s" % (name, self.account_label())

    def worker_label(self, group, worker_id, vm_id=None):
        extra = " (vm_resource_id %s)" % vm_id if vm_id else ""
        return "hybrid worker '%s'%s in group '%s' of %s" % (worker_id, extra, group, self.account_label())

    def _req(self, method, path, action, resource, **kwargs):
        return self.arm.request("automation", method, self.base + path, action, resource, **kwargs)

    # account
    def account(self):
        if self._account is None:
            try:
                account = self.arm.get("automation", self.base, "read", self.account_label(), missing_ok=False)
            except NotFoundError as exc:
                raise ArmError("read", self.account_label() + " (options automation_account, resource_group, subscription_id)",
                               exc.status, exc.code, exc.message)
            self._account = account
        return self._account

    def hybrid_service_url(self):
        url = (self.account().get("properties") or {}).get("automationHybridServiceUrl")
        if not url:
            raise StateError("%s has no automationHybridServiceUrl; the HybridWorker extension cannot be configured"
                             % self.account_label())
        return url

    # groups
    def list_groups(self):
        return self.arm.list("automation", self.base + "/hybridRunbookWorkerGroups", "list hybrid worker groups of",
                             self.account_label())

    def get_group(self, name):
        return self.arm.get("automation", self.base + "/hybridRunbookWorkerGroups/" + _seg(name), "read", self.group_label(name))

    def create_group(self, name, credential_name=None):
        body = {"properties": {"credential": {"name": credential_name}}} if credential_name else {}
        response = self._req("PUT", "/hybridRunbookWorkerGroups/" + _seg(name), "create", self.group_label(name), body=body,
                             ok=(200, 201))
        return response.body or {}

    def update_group(self, name, credential_name):
        body = {"properties": {"credential": {"name": credential_name}}}
        response = self._req("PATCH", "/hybridRunbookWorkerGroups/" + _seg(name), "update", self.group_label(name), body=body,
                             ok=(200,))
        return response.body or {}

    def delete_group(self, name):
        self._req("DELETE", "/hybridRunbookWorkerGroups/" + _seg(name), "delete", self.group_label(name), ok=(200, 204),
                  missing_ok=True)

    # workers
    def _worker_path(self, group, worker_id):
        return "/hybridRunbookWorkerGroups/%s/hybridRunbookWorkers/%s" % (_seg(group), _seg(worker_id))

    def list_workers(self, group):
        try:
            return self.arm.list("automation", self.base + "/hybridRunbookWorkerGroups/%s/hybridRunbookWorkers" % _seg(group),
                                 "list workers of", self.group_label(group))
        except NotFoundError:
            return []

    def get_worker(self, group, worker_id):
        return self.arm.get("automation", self.base + self._worker_path(group, worker_id), "read",
                            self.worker_label(group, worker_id))

    def create_worker(self, group, worker_id, vm_resource_id):
        body = {"properties": {"vmResourceId": vm_resource_id}}
        response = self._req("PUT", self._worker_path(group, worker_id), "create",
                             self.worker_label(group, worker_id, vm_resource_id), body=body, ok=(200, 201))
        return response.body or {}

    def delete_worker(self, group, worker_id):
        self._req("DELETE", self._worker_path(group, worker_id), "delete", self.worker_label(group, worker_id), ok=(200, 204),
                  missing_ok=True)

    def move_worker(self, group, worker_id, target):
        """POST move is not idempotent: on a transient failure the target group is re-read before trying again."""
        label = self.worker_label(group, worker_id)
        self.arm.post_once("automation", self.base + self._worker_path(group, worker_id) + "/move", "move to group '%s'" % target,
                           label, lambda: self.get_worker(target, worker_id) is not None, "Move of %s" % label,
                           body={"hybridRunbookWorkerGroupName": target})


class MachineService(object):
    """An Azure VM or Arc machine and its HybridWorker extension (Microsoft.Compute / Microsoft.HybridCompute, LROs)."""

    def __init__(self, arm, timeout=600.0):
        self.arm = arm
        self.timeout = timeout

    @staticmethod
    def provider(machine_id):
        return "compute" if machine_id.kind == "vm" else "hybridcompute"

    @staticmethod
    def label(machine_id):
        return ("Azure VM '%s'" if machine_id.kind == "vm" else "Arc machine '%s'") % machine_id.id

    def get(self, machine_id):
        return self.arm.get(self.provider(machine_id), machine_id.id, "read", self.label(machine_id))

    @staticmethod
    def has_system_identity(machine):
        return "systemassigned" in str((machine.get("identity") or {}).get("type") or "").replace(" ", "").lower()

    @staticmethod
    def os_type(machine):
        props = machine.get("properties") or {}
        value = ((props.get("storageProfile") or {}).get("osDisk") or {}).get("osType") or props.get("osType") or ""
        value = str(value).lower()
        return value if value in ("linux", "windows") else None

    def enable_system_identity(self, machine_id, machine, timeout=None):
        identity = dict(machine.get("identity") or {})
        user_assigned = identity.get("userAssignedIdentities") or {}
        body = {"identity": {"type": "SystemAssigned, UserAssigned" if user_assigned else "SystemAssigned"}}
        if user_assigned:
            body["identity"]["userAssignedIdentities"] = dict((key, {}) for key in user_assigned)
        return self.arm.lro(self.provider(machine_id), "PATCH", machine_id.id, "enable the system-assigned identity of",
                            self.label(machine_id), body=body, timeout=timeout or self.timeout)

    def _extension_path(self, machine_id, name=EXTENSION_NAME):
        return "%s/extensions/%s" % (machine_id.id, _seg(name))

    def get_extension(self, machine_id, name=EXTENSION_NAME):
        return self.arm.get(self.provider(machine_id), self._extension_path(machine_id, name), "read",
                            "extension '%s' of %s" % (name, self.label(machine_id)))

    def _busy(self, exc, what):
        if exc.code != BUSY_CODE:
            raise exc
        self.arm.warn("%s: another operation is in progress on it (possibly this run's own request whose answer was lost); "
                      "waiting for it to finish, then comparing again" % what)

    def wait_extension_settled(self, machine_id, deadline, name=EXTENSION_NAME):
        """Poll the extension until it leaves Creating/Updating/Deleting; returns it, None when it is gone."""
        label = "extension '%s' of %s" % (name, self.label(machine_id))
        while True:
            current = self.get_extension(machine_id, name)
            state = str(((current or {}).get("properties") or {}).get("provisioningState") or "Succeeded")
            if current is None or state.lower() not in SETTLING_STATES:
                return current
            remaining = deadline - self.arm.clock()
            if remaining <= 0:
                raise OperationTimeout("Timed out waiting for the operation in progress on %s (still %s); raise wait_timeout "
                                       "or check the extension" % (label, state), status=state)
            self.arm.sleep(min(self.arm.poll_interval, remaining))

    def put_extension(self, machine_id, body, name=EXTENSION_NAME, timeout=None):
        """PUT the extension and wait for it. A 409 OperationNotAllowed waits for the running operation, then the
        extension is compared with ``body`` again and written only if it still differs."""
        what = "install extension '%s' on %s" % (name, self.label(machine_id))
        deadline = self.arm.clock() + (timeout or self.timeout)
        for attempt in range(BUSY_ATTEMPTS):
            try:
                return self.arm.lro(self.provider(machine_id), "PUT", self._extension_path(machine_id, name), "install",
                                    "extension '%s' on %s" % (name, self.label(machine_id)), body=body,
                                    timeout=max(1.0, deadline - self.arm.clock()))
            except ConflictError as exc:
                if attempt == BUSY_ATTEMPTS - 1:
                    raise
                self._busy(exc, "Cannot yet " + what)
            current = self.wait_extension_settled(machine_id, deadline, name)
            if current is not None and not differences(current, body):
                return current

    def replace_extension(self, machine_id, body, name=EXTENSION_NAME, timeout=None):
        """DELETE the extension, wait until it is gone, then PUT ``body``: how an extension of another type or publisher
        becomes ``body`` (Azure refuses to change either in place). ``timeout`` bounds both operations together."""
        deadline = self.arm.clock() + (timeout or self.timeout)
        self.delete_extension(machine_id, name, timeout=max(1.0, deadline - self.arm.clock()))
        return self.put_extension(machine_id, body, name, timeout=max(1.0, deadline - self.arm.clock()))

    def update_extension_tags(self, machine_id, tags, name=EXTENSION_NAME, timeout=None):
        """PATCH only the tags (all of them: ``tags`` replaces the set); settings and protected settings stay as they are."""
        return self.arm.lro(self.provider(machine_id), "PATCH", self._extension_path(machine_id, name), "update the tags of",
                            "extension '%s' on %s" % (name, self.label(machine_id)), body={"tags": tags},
                            timeout=timeout or self.timeout)

    def delete_extension(self, machine_id, name=EXTENSION_NAME, timeout=None):
        """DELETE the extension and wait; a 409 OperationNotAllowed waits for the running operation first."""
        what = "remove extension '%s' from %s" % (name, self.label(machine_id))
        deadline = self.arm.clock() + (timeout or self.timeout)
        for attempt in range(BUSY_ATTEMPTS):
            try:
                self.arm.lro(self.provider(machine_id), "DELETE", self._extension_path(machine_id, name), "remove",
                             "extension '%s' from %s" % (name, self.label(machine_id)),
                             timeout=max(1.0, deadline - self.arm.clock()), missing_ok=True)
                return
            except ConflictError as exc:
                if attempt == BUSY_ATTEMPTS - 1:
                    raise
                self._busy(exc, "Cannot yet " + what)
            if self.wait_extension_settled(machine_id, deadline, name) is None:
                return
