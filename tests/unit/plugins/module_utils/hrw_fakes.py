# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""In-memory stand-ins for the service layer (AutomationService, MachineService) and for the ARM transport."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import datetime

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._arm import RetryPolicy, Response
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._errors import ConflictError, NotFoundError

SUB = "00000000-0000-0000-0000-000000000001"
HYBRID_URL = "https://acc.jrds.emu.azure-automation.net/automationAccounts/acc"


def vm_id(name, rg="rg-vms"):
    return "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines/%s" % (SUB, rg, name)


def arc_id(name, rg="rg-arc"):
    return "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.HybridCompute/machines/%s" % (SUB, rg, name)


def iso(seconds_ago):
    stamp = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=seconds_ago)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class FakeArmForServices(object):
    """What services need of an ArmClient besides HTTP: warn, sleep, retry."""

    def __init__(self):
        self.warnings = []
        self.retry = RetryPolicy(max_retries=3, rand=lambda a, b: b)
        self.slept = []

    def warn(self, message):
        self.warnings.append(message)

    def sleep(self, seconds):
        self.slept.append(seconds)


class FakeAutomation(object):
    """Groups and workers of one account, with a log of writes."""

    def __init__(self):
        self.arm = FakeArmForServices()
        self.groups = {}    # name -> {"type": "User", "credential": None}
        self.workers = {}   # group -> {worker_id: {"vmResourceId":..., "lastSeenDateTime":..., "workerType":...}}
        self.writes = []
        self.reads = []
        self.account_name = "aa"
        self.before = {}    # operation name -> callable run once just before it (another run acting in between)

    # helpers
    def add_group(self, name, group_type="User", credential=None):
        self.groups[name] = {"type": group_type, "credential": credential}
        self.workers.setdefault(name, {})

    def add_worker(self, group, worker_id, vm, last_seen=None, worker_type="HybridV2"):
        self.workers[group][worker_id] = {"vmResourceId": vm, "lastSeenDateTime": last_seen, "workerType": worker_type}

    def account_label(self):
        return "Automation account 'aa' in resource group 'rg'"

    def group_label(self, name):
        return "hybrid worker group '%s' of %s" % (name, self.account_label())

    def worker_label(self, group, worker_id, vm_id=None):
        return "hybrid worker '%s' in group '%s'" % (worker_id, group)

    def _group(self, name):
        data = self.groups[name]
        props = {"groupType": data["type"]}
        if data["credential"]:
            props["credential"] = {"name": data["credential"]}
        return {"name": name, "id": "/groups/" + name, "properties": props}

    def _worker(self, group, worker_id):
        data = self.workers[group][worker_id]
        return {"name": worker_id, "id": "/groups/%s/workers/%s" % (group, worker_id),
                "properties": dict(data, workerName=data["vmResourceId"].rsplit("/", 1)[-1] if data["vmResourceId"] else "v1host")}

    def _hook(self, operation):
        hook = self.before.pop(operation, None)
        if hook is not None:
            hook()

    # AutomationService API
    def account(self):
        self.reads.append("account")
        return {"properties": {"automationHybridServiceUrl": HYBRID_URL}}

    def hybrid_service_url(self):
        self.reads.append("account")
        return HYBRID_URL

    def list_groups(self):
        self.reads.append("list_groups")
        return [self._group(n) for n in sorted(self.groups)]

    def get_group(self, name):
        self.reads.append("get_group:" + name)
        return self._group(name) if name in self.groups else None

    def create_group(self, name, credential_name=None):
        self.writes.append(("create_group", name, credential_name))
        self.add_group(name, credential=credential_name)
        return self._group(name)

    def update_group(self, name, credential_name):
        self.writes.append(("update_group", name, credential_name))
        self.groups[name]["credential"] = credential_name
        return self._group(name)

    def delete_group(self, name):
        self._hook("delete_group")
        self.writes.append(("delete_group", name))
        if self.workers.get(name):  # as ARM: a group that has workers cannot be deleted
            raise ConflictError("delete", name, 409, "Conflict", "contains %d hybrid runbook worker(s)" % len(self.workers[name]))
        self.groups.pop(name, None)
        self.workers.pop(name, None)

    def list_workers(self, group):
        self._hook("list_workers")
        self.reads.append("list_workers:" + group)
        return [self._worker(group, w) for w in sorted(self.workers.get(group, {}))]

    def get_worker(self, group, worker_id):
        self.reads.append("get_worker:" + worker_id)
        if worker_id in self.workers.get(group, {}):
            return self._worker(group, worker_id)
        return None

    def create_worker(self, group, worker_id, vm):
        self._hook("create_worker")
        self.writes.append(("create_worker", group, worker_id, vm))
        if group not in self.groups:
            raise NotFoundError("create", worker_id, 404, "ResourceNotFound", "group '%s' was not found" % group)
        for name, workers in self.workers.items():
            for wid, data in workers.items():
                if data["vmResourceId"].lower() == vm.lower() and (name, wid) != (group, worker_id):
                    raise ConflictError("create", worker_id, 409, "Conflict", "already exists with same AzureResourceId")
        self.add_worker(group, worker_id, vm)
        return self._worker(group, worker_id)

    def delete_worker(self, group, worker_id):
        self.writes.append(("delete_worker", group, worker_id))
        self.workers.get(group, {}).pop(worker_id, None)

    def move_worker(self, group, worker_id, target):
        self._hook("move_worker")
        self.writes.append(("move_worker", group, worker_id, target))
        if target not in self.groups:
            raise NotFoundError("move", worker_id, 404, "ResourceNotFound", "group '%s' was not found" % target)
        if worker_id not in self.workers.get(group, {}):
            raise NotFoundError("move", worker_id, 404, "ResourceNotFound", "worker '%s' was not found" % worker_id)
        self.workers[target][worker_id] = self.workers[group].pop(worker_id)


class FakeMachines(object):
    def __init__(self):
        self.machines = {}    # lower id -> dict
        self.extensions = {}  # lower id -> dict
        self.protected = {}   # lower id -> the protected settings the machine got (Azure never returns them)
        self.writes = []

    def add(self, machine_id, os_type="Linux", identity=True, location="westeurope"):
        kind_vm = "/microsoft.compute/" in machine_id.lower()
        if os_type is None:  # a machine that does not say its OS
            props = {}
        else:
            props = {"storageProfile": {"osDisk": {"osType": os_type}}} if kind_vm else {"osType": os_type.lower()}
        self.machines[machine_id.lower()] = {"id": machine_id, "location": location, "properties": props,
                                             "identity": {"type": "SystemAssigned"} if identity else None}

    def get(self, machine_id):
        return copy.deepcopy(self.machines.get(machine_id.key))

    def enable_system_identity(self, machine_id, machine, timeout=None):
        self.writes.append(("enable_identity", machine_id.id))
        self.machines[machine_id.key]["identity"] = {"type": "SystemAssigned"}

    def get_extension(self, machine_id, name="HybridWorkerExtension"):
        ext = self.extensions.get(machine_id.key)
        return copy.deepcopy(ext) if ext else None

    def put_extension(self, machine_id, body, name="HybridWorkerExtension", timeout=None):
        """A PUT replaces the resource: tags and protected settings not in the body are gone. As Azure, it refuses to
        change the publisher or type of an existing extension (409 PropertyChangeNotAllowed) and changes nothing then."""
        self.writes.append(("put_extension", machine_id.id))
        old = (self.extensions.get(machine_id.key) or {}).get("properties")
        for prop in ("publisher", "type") if old else ():
            if str(body["properties"].get(prop) or "").lower() != str(old.get(prop) or "").lower():
                raise ConflictError("install", name, 409, "PropertyChangeNotAllowed", "Changing property '%s' is not allowed." % prop)
        stored = copy.deepcopy(body)
        stored["name"] = name
        self.protected[machine_id.key] = stored["properties"].pop("protectedSettings", None)
        stored["properties"]["provisioningState"] = "Succeeded"
        self.extensions[machine_id.key] = stored
        return copy.deepcopy(stored)

    def replace_extension(self, machine_id, body, name="HybridWorkerExtension", timeout=None):
        """DELETE then PUT, as MachineService.replace_extension."""
        self.delete_extension(machine_id, name, timeout)
        return self.put_extension(machine_id, body, name, timeout)

    def update_extension_tags(self, machine_id, tags, name="HybridWorkerExtension", timeout=None):
        """A PATCH of the tags replaces them and keeps everything else, protected settings included."""
        self.writes.append(("update_extension_tags", machine_id.id))
        self.extensions[machine_id.key]["tags"] = copy.deepcopy(tags)
        return copy.deepcopy(self.extensions[machine_id.key])

    def delete_extension(self, machine_id, name="HybridWorkerExtension", timeout=None):
        self.writes.append(("delete_extension", machine_id.id))
        self.extensions.pop(machine_id.key, None)


class ScriptedTransport(object):
    """ARM transport answering from a script: a list of Response/Exception per (method, url-substring) or in order."""

    def __init__(self, responses):
        self.responses = list(responses)
        self.calls = []

    def send(self, provider, method, url, params=None, body=None):
        self.calls.append((method, url, dict(params or {}), body))
        item = self.responses.pop(0)
        if isinstance(item, Exception):
            raise item
        return item


class FakeClock(object):
    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def resp(status, body=None, headers=None):
    return Response(status, headers or {}, body, "" if body is None else "json")


__all__ = ["NotFoundError"]
