# -*- coding: utf-8 -*-
# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to the azure_automation.hybrid_worker collection: not a public API, may change without notice.
"""Decision logic of hrw_register: one machine, or a fleet reconciled with bounded concurrency.

Reads first (one paged list per group, then per machine its VM/Arc resource and extension), compares, and writes only
the differences. Check mode runs the same code with every write skipped.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import threading
import time

# MAX_CONCURRENCY and effective_concurrency are imported from here by hrw_register.
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._concurrency import (  # pylint: disable=unused-import
    MAX_CONCURRENCY, effective_concurrency, run_bounded)
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._errors import (
    HrwError, NotFoundError, OperationTimeout, OptionError, StateError)
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._extension import (
    TYPES, ExtensionOptions, cleanup_tags, desired_extension, differences, extension_view, replacement_reasons, written_view)
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._groups import refuse_system_group
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._hybrid_worker import (
    EXTENSION_NAME, MachineService, worker_view)
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._ids import (
    derive_worker_id, normalize_guid, parse_machine_id)
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._timeutil import age_seconds

# Writes into a group that may be deleted meanwhile by concurrent removals (option recreate_group): the first try and retries.
GROUP_WRITE_ATTEMPTS = 3
# Seconds between reads of the worker record while waiting for its heartbeat (not an option).
HEARTBEAT_POLL_INTERVAL = 5.0


class MachineSpec(object):
    """One machine to reconcile, validated before any call."""

    def __init__(self, vm_resource_id, worker_id=None, os_type=None, option_prefix=""):
        self.machine = parse_machine_id(vm_resource_id, option_prefix + "vm_resource_id")
        self.worker_id = normalize_guid(worker_id, option_prefix + "worker_id") if worker_id else None
        self.os_type = os_type
        self.os_type_option = "os_type"  # workers[i].os_type when the item sets it
        self.key = self.machine.key


def specs_from_params(params):
    """MachineSpecs from ``vm_resource_id`` or ``workers``; raises OptionError naming the option (and list index)."""
    if params.get("workers") is not None:
        specs, seen = [], {}
        for index, item in enumerate(params["workers"]):
            prefix = "workers[%d]." % index
            spec = MachineSpec(item.get("vm_resource_id"), item.get("worker_id"), item.get("os_type") or params.get("os_type"),
                               prefix)
            if item.get("os_type"):
                spec.os_type_option = prefix + "os_type"
            if spec.key in seen:
                raise OptionError(prefix + "vm_resource_id", "%s is listed twice (also workers[%d])" % (spec.machine.id, seen[spec.key]))
            seen[spec.key] = index
            specs.append(spec)
        return specs
    return [MachineSpec(params.get("vm_resource_id"), params.get("worker_id"), params.get("os_type"))]


class WorkerIndex(object):
    """Where each machine is registered in the account, built from one paged list per group."""

    def __init__(self, automation, target_group):
        self.automation = automation
        self.target = target_group
        self.by_key = {}
        self.by_id = {}
        self.listed_all = False

    def _add(self, group, workers):
        for worker in workers:
            view = worker_view(group, worker)
            if view["vm_resource_id"]:
                self.by_key.setdefault(view["vm_resource_id"].lower(), view)
            self.by_id[(group.lower(), str(view["worker_id"]).lower())] = view

    def build(self, keys, look_elsewhere=True, target_exists=True):
        if target_exists:
            self._add(self.target, self.automation.list_workers(self.target))
        missing = [key for key in keys if key not in self.by_key]
        if missing and look_elsewhere:
            for group in self.automation.list_groups():
                name = group.get("name")
                if name and name.lower() != self.target.lower():
                    self._add(name, self.automation.list_workers(name))
            self.listed_all = True
        return self

    def find(self, key):
        return self.by_key.get(key)

    def worker_in_target(self, worker_id):
        return self.by_id.get((self.target.lower(), worker_id.lower()))


class Registrar(object):
    """Reconciles machines with a group. ``params`` are the module's options, every one present with its default applied
    (AnsibleModule validated them); nothing here defaults an option again."""

    def __init__(self, automation, machines, params, check_mode=False, sleep=time.sleep, clock=time.monotonic, warn=None,
                 poll_interval=HEARTBEAT_POLL_INTERVAL):
        self.warn = warn or (lambda message: None)
        self.automation = automation
        self.machines = machines
        self.params = params
        self.check_mode = check_mode
        self.group = params["group"]
        self.options = ExtensionOptions.from_params(params)
        self.sleep = sleep
        self.clock = clock
        self.poll_interval = float(poll_interval)
        self._group_lock = threading.Lock()
        self._group_credential = None  # of the group as read by prepare(), so a re-created group keeps it

    # -- entry points ---------------------------------------------------------------------------------------------------
    def prepare(self, specs):
        """Reads shared by every machine: the group (must exist for present) and the index of workers."""
        present = self.params["state"] == "present"
        self.automation.account()  # an unknown account fails here, naming the options, before any write
        group = self.automation.get_group(self.group)
        refuse_system_group(self.automation, self.group, group, "register workers in" if present else "remove workers from")
        if group is None and present and self.check_mode:
            # In check mode an earlier task (hrw_group) may only have predicted the group: predict the records too.
            self.warn("%s does not exist; check mode assumes an earlier task creates it and predicts the registrations"
                      % self.automation.group_label(self.group))
            return WorkerIndex(self.automation, self.group).build([s.key for s in specs], target_exists=False)
        if group is None and present and self.params["recreate_group"]:
            # An earlier task of this run ensured the group; a concurrent run deleted it since (it was empty then).
            self._recreate_group("before this task started")
            return WorkerIndex(self.automation, self.group).build([s.key for s in specs], target_exists=False)
        if group is None and present:
            raise StateError("Failed to register in %s: the group does not exist (option group; the account has %s); create it "
                             "with azure_automation.hybrid_worker.hrw_group" % (self.automation.group_label(self.group), self._group_names()))
        if group is None:
            # Nothing can be a worker of a group that does not exist: a typo in the name must not remove the extension
            # of a machine that serves another group, so absent changes nothing at all.
            self.warn("%s does not exist (the account has %s); nothing was removed" % (self.automation.group_label(self.group),
                                                                                       self._group_names()))
            return None
        self._group_credential = ((group.get("properties") or {}).get("credential") or {}).get("name")
        return WorkerIndex(self.automation, self.group).build([s.key for s in specs])

    def _group_names(self):
        names = sorted(g.get("name") for g in self.automation.list_groups() if g.get("name"))
        if not names:
            return "no groups"
        return "groups: " + ", ".join("'%s'" % n for n in names[:20]) + (", ..." if len(names) > 20 else "")

    def _recreate_group(self, when):
        """Create the target group again (with the credential it had), once for all threads."""
        with self._group_lock:
            if self.automation.get_group(self.group) is not None:
                return  # another thread (or another run) was first
            self.automation.create_group(self.group, self._group_credential)
            self.warn("Re-created %s: it was deleted %s (a concurrent run removing workers deletes an emptied group); "
                      "option recreate_group" % (self.automation.group_label(self.group), when))

    def _into_group(self, write, machine_id):
        """A write into the target group; when the group was deleted after prepare() read it, re-create it (with
        recreate_group) and try again. Each concurrent removal deletes an emptied group once, so a few attempts suffice."""
        for attempt in range(1, GROUP_WRITE_ATTEMPTS + 1):
            try:
                return write()
            except NotFoundError:
                if attempt == GROUP_WRITE_ATTEMPTS:
                    raise
                if self.automation.get_group(self.group) is not None:
                    continue  # re-created meanwhile (by another thread or run); if something else is missing, this fails again
                if not self.params["recreate_group"]:
                    raise StateError("Failed to register %s in %s: the group was deleted while this task ran (probably by a "
                                     "concurrent run that removed its last workers); run again, or set recreate_group=true "
                                     "right after ensuring the group" % (machine_id.id, self.automation.group_label(self.group)))
                self._recreate_group("while this task registered workers into it")

    def reconcile_all(self, specs, concurrency=1):
        """Returns a list of per-machine results (each with ``failed``/``msg`` on error) in input order."""
        index = self.prepare(specs)
        if self.params["state"] == "present" and self.params["install_extension"]:
            self.automation.hybrid_service_url()  # one account read, shared, before the threads start
        results = [None] * len(specs)

        def work(position):
            spec = specs[position]
            try:
                results[position] = self.reconcile(spec, index)
            except HrwError as exc:
                results[position] = {"vm_resource_id": spec.machine.id, "changed": False, "failed": True, "msg": exc.msg,
                                     "actions": []}
            except Exception as exc:  # a bug or an unforeseen library error: this machine fails, the others go on
                results[position] = {"vm_resource_id": spec.machine.id, "changed": False, "failed": True, "actions": [],
                                     "msg": "Failed to reconcile %s: unexpected %s: %s" % (spec.machine.id, type(exc).__name__, exc)}

        run_bounded(work, len(specs), concurrency)
        for position, result in enumerate(results):
            if result is None:  # its thread ended without a word: still one result per machine
                results[position] = {"vm_resource_id": specs[position].machine.id, "changed": False, "failed": True,
                                     "actions": [], "msg": "Failed to reconcile %s: its worker thread ended without a result"
                                     % specs[position].machine.id}
        return results

    def reconcile(self, spec, index):
        if self.params["state"] == "present":
            return self._present(spec, index)
        return self._absent(spec, index)

    # -- present --------------------------------------------------------------------------------------------------------
    def _present(self, spec, index):
        machine_id = spec.machine
        actions, before, after = [], {}, {}
        # Everything that can refuse the request is read and decided before the first write, so a wrong machine id or a
        # machine the extension cannot go on leaves no worker record behind.
        machine = os_type = None
        if self.params["install_extension"]:
            machine, os_type = self._machine_for_extension(spec)
        elif self.params["wait_for_heartbeat"]:
            self._check_heartbeat_can_come(spec)
        record = index.find(spec.key)
        before["record"] = _record_view(record)
        if record is not None and record["group"].lower() != self.group.lower():
            if not self.params["move"]:
                raise StateError("Failed to register %s in group '%s': it is already worker '%s' in group '%s' of %s; set "
                                 "move=true to move it" % (machine_id.id, self.group, record["worker_id"], record["group"],
                                                           self.automation.account_label()))
            worker_id = record["worker_id"]
            self._check_requested_id(spec, worker_id)
            actions.append("move_record")
            if not self.check_mode:
                self._into_group(lambda: self.automation.move_worker(record["group"], worker_id, self.group), machine_id)
        elif record is not None:
            worker_id = record["worker_id"]
            self._check_requested_id(spec, worker_id)
        else:
            worker_id = spec.worker_id or derive_worker_id(machine_id)
            taken = index.worker_in_target(worker_id)
            if taken is not None:
                raise StateError("Failed to register %s: worker id '%s' (option worker_id) already belongs to %s in group '%s'"
                                 % (machine_id.id, worker_id, taken["vm_resource_id"] or "a V1 worker", self.group))
            actions.append("create_record")
            if not self.check_mode:
                self._into_group(lambda: self.automation.create_worker(self.group, worker_id, machine_id.id), machine_id)
        after["record"] = {"group": self.group, "worker_id": worker_id}

        extension = None
        if machine is not None:
            extension = self._ensure_machine(spec, machine, os_type, actions, before, after)
        result = {"vm_resource_id": machine_id.id, "worker_id": worker_id, "group": self.group, "changed": bool(actions),
                  "actions": actions, "extension": extension, "diff": {"before": before, "after": after}}
        if self.params["wait_for_heartbeat"] and not self.check_mode:
            result["worker"] = self._wait_heartbeat(spec, worker_id)
        return result

    def _check_requested_id(self, spec, worker_id):
        if spec.worker_id and spec.worker_id.lower() != str(worker_id).lower():
            raise StateError("Failed to register %s with worker_id '%s': it is already registered as worker '%s' (option "
                             "worker_id); omit worker_id or remove the record first" % (spec.machine.id, spec.worker_id, worker_id))

    def _machine_for_extension(self, spec):
        """The machine the extension goes on and its OS type; StateError when it cannot take the extension."""
        machine_id = spec.machine
        machine = self.machines.get(machine_id)
        if machine is None:
            hint = ("if the host's Connected Machine agent still says it is connected, its resource was deleted in Azure: "
                    "run 'azcmagent disconnect --force-local-only' on the host and connect it again"
                    if machine_id.kind == "arc" else "check the subscription, resource group and VM name")
            raise StateError("Failed to install the HybridWorker extension: %s does not exist (option vm_resource_id); %s"
                             % (MachineService.label(machine_id), hint))
        if not MachineService.has_system_identity(machine) and not self.params["enable_system_identity"]:
            raise StateError("Failed to install the HybridWorker extension on %s: it has no system-assigned managed identity "
                             "and enable_system_identity is false" % MachineService.label(machine_id))
        reported = MachineService.os_type(machine)
        if spec.os_type and reported and spec.os_type != reported:
            # Azure accepts the PUT, then the extension fails on the machine: refuse before anything is written.
            raise OptionError(spec.os_type_option, "%s but %s runs %s, so Azure would fail the %s extension on it; omit "
                                                   "os_type (it is read from the machine) or correct it"
                              % (spec.os_type, MachineService.label(machine_id), reported.title(), TYPES[spec.os_type]))
        os_type = spec.os_type or reported
        if os_type is None:
            raise StateError("Failed to choose the HybridWorker extension type for %s: its OS type is unknown; set os_type"
                             % MachineService.label(machine_id))
        return machine, os_type

    def _check_heartbeat_can_come(self, spec):
        """wait_for_heartbeat with install_extension=false: only an extension installed by other means sends heartbeats."""
        if self.machines.get_extension(spec.machine) is None:
            raise OptionError("wait_for_heartbeat", "cannot be met for %s: it has no %s and install_extension is false, and "
                                                    "only that extension sends heartbeats, so the wait could only time out. "
                                                    "Set install_extension=true, or wait_for_heartbeat=false"
                              % (MachineService.label(spec.machine), EXTENSION_NAME))

    def _ensure_machine(self, spec, machine, os_type, actions, before, after):
        machine_id = spec.machine
        has_identity = MachineService.has_system_identity(machine)
        before["system_identity"] = has_identity
        after["system_identity"] = True
        if not has_identity:
            actions.append("enable_system_identity")
            if not self.check_mode:
                self.machines.enable_system_identity(machine_id, machine)
        existing = self.machines.get_extension(machine_id)
        url = self.automation.hybrid_service_url()
        desired = desired_extension(os_type, url, machine.get("location"), self.options, existing)
        # Protected settings cannot be compared (Azure never returns them): differences() counts them only with
        # update_protected_settings=always, and every write below that replaces the extension carries them.
        reasons = differences(existing, desired, force=bool(self.params["force"]),
                              update_protected_settings=self.options.update_protected_settings)
        cleanup = cleanup_tags(existing)
        before["extension"] = extension_view(existing)
        if not reasons and cleanup is None:
            after["extension"] = before["extension"]
            return before["extension"]
        name = (existing or {}).get("name") or "HybridWorkerExtension"
        password_sent = bool(self.options.proxy_password and desired["properties"].get("protectedSettings"))
        # Azure refuses to change the publisher or type of an extension (409 PropertyChangeNotAllowed), for example a
        # HybridWorkerForWindows left on a machine that now runs Linux, or another publisher's extension of this name:
        # it is deleted and created again, and the new one is a new extension (its password shows as set, not changed).
        replace = bool(replacement_reasons(existing, desired))
        existed = existing is not None and not replace
        if reasons:
            actions.append("install_extension" if existing is None else "replace_extension" if replace else "update_extension")
            predicted = dict(desired, name=name, properties=dict(desired["properties"], provisioningState="Succeeded"))
            after["extension"] = written_view(predicted, password_sent, existed)
        else:
            # Only the legacy fingerprint tag to go: a PATCH of the tags keeps the protected settings as they are.
            predicted = dict(existing, tags=cleanup["tags"])
            after["extension"] = extension_view(predicted)
        if cleanup is not None:
            actions.append("remove_fingerprint_tag")
        if self.check_mode:
            return after["extension"]
        if replace:
            final = self.machines.replace_extension(machine_id, desired)
            after["extension"] = written_view(final or predicted, password_sent, existed)
        elif reasons:
            final = self.machines.put_extension(machine_id, desired)
            after["extension"] = written_view(final or predicted, password_sent, existed)
        else:
            final = self.machines.update_extension_tags(machine_id, cleanup["tags"])
            after["extension"] = extension_view(final or predicted)
        return after["extension"]

    def _wait_heartbeat(self, spec, worker_id):
        timeout = float(self.params["heartbeat_timeout"])
        max_age = float(self.params["heartbeat_max_age"])
        interval = self.poll_interval
        deadline = self.clock() + timeout
        last = None
        while True:
            record = self.automation.get_worker(self.group, worker_id)
            last = worker_view(self.group, record) if record else None
            age = age_seconds(last["last_seen"]) if last else None
            if age is not None and age <= max_age:
                return last
            remaining = deadline - self.clock()
            if remaining <= 0:
                raise OperationTimeout("Timed out after %ds waiting for a heartbeat from %s (last seen: %s; option heartbeat_timeout)"
                                       % (timeout, self.automation.worker_label(self.group, worker_id, spec.machine.id),
                                          (last or {}).get("last_seen") or "never"), worker=last)
            self.sleep(min(interval, remaining))

    # -- absent ---------------------------------------------------------------------------------------------------------
    def _absent(self, spec, index):
        machine_id = spec.machine
        actions, before, after = [], {}, {"record": None, "extension": None}
        if index is None:
            # The group does not exist (prepare() warned): nothing of this machine belongs to it, so nothing is touched.
            before = {"record": None, "extension": "unchanged (group '%s' does not exist)" % self.group}
            return {"vm_resource_id": machine_id.id, "worker_id": None, "group": self.group, "changed": False, "actions": [],
                    "extension": None, "diff": {"before": before, "after": dict(before)}}
        record = index.find(spec.key)
        if record is not None and record["group"].lower() != self.group.lower():
            record = None
        before["record"] = _record_view(record)
        elsewhere = index.find(spec.key) is not None and record is None
        extension = None
        if elsewhere:
            # Registered in another group: its extension serves that group, so it stays.
            after["extension"] = before["extension"] = "unchanged (the machine is a worker of another group)"
        else:
            extension = self.machines.get_extension(machine_id)
            before["extension"] = extension_view(extension)
            if extension is not None:
                actions.append("remove_extension")
                if not self.check_mode:
                    self.machines.delete_extension(machine_id)
        if record is not None:
            actions.append("remove_record")
            if not self.check_mode:
                self.automation.delete_worker(self.group, record["worker_id"])
        return {"vm_resource_id": machine_id.id, "worker_id": (record or {}).get("worker_id"), "group": self.group,
                "changed": bool(actions), "actions": actions, "extension": None, "diff": {"before": before, "after": after}}


def _record_view(record):
    if record is None:
        return None
    return {"group": record["group"], "worker_id": record["worker_id"]}
