# -*- coding: utf-8 -*-
# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to the azure_automation.hybrid_worker collection: not a public API, may change without notice.
"""Decision logic of hrw_group and hrw_group_info."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._errors import ConflictError, StateError
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._errors import OptionError
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._hybrid_worker import group_view, worker_view
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._ids import parse_machine_id


def refuse_system_group(automation, name, group, action):
    """StateError before any write when ``group`` (an ARM group, or None) is a System group: Azure refuses every change.

    One check for hrw_group (update, delete) and hrw_register (register or remove workers); ``action`` is the verb phrase.
    """
    if group is not None and str(group_view(group)["group_type"]).lower() == "system":
        raise StateError("Failed to %s %s: it is a System group (Update Management's); it cannot be changed"
                         % (action, automation.group_label(name)))


class GroupManager(object):
    def __init__(self, automation, machines, check_mode=False):
        self.automation = automation
        self.machines = machines
        self.check_mode = check_mode

    def present(self, name, credential_name=None):
        self.automation.account()  # an unknown account fails here, naming the options, before any write
        current = self.automation.get_group(name)
        before = group_view(current) if current else None
        if current is None:
            after = {"name": name, "group_type": "User", "credential_name": credential_name or None, "id": None}
            if not self.check_mode:
                after = group_view(self.automation.create_group(name, credential_name)) or after
            return self._result(True, ["create_group"], before, after)
        wanted = before["credential_name"] if credential_name is None else (credential_name or None)
        if wanted == before["credential_name"]:
            return self._result(False, [], before, before)
        refuse_system_group(self.automation, name, current, "update")
        after = dict(before, credential_name=wanted)
        if not self.check_mode:
            after = group_view(self.automation.update_group(name, wanted)) or after
        return self._result(True, ["update_credential"], before, after)

    def absent(self, name, force=False, only_if_empty=False):
        """Delete the group. A group with workers fails unless ``force`` (remove them first) or ``only_if_empty`` (keep it).

        Another run may register a worker into the group at any time (a sliced deploy), so emptiness is checked again right
        before the DELETE, and ARM's refusal to delete a group that still has workers (409) means the same.
        """
        self.automation.account()
        current = self.automation.get_group(name)
        if current is None:
            return self._result(False, [], None, None)
        before = group_view(current)
        refuse_system_group(self.automation, name, current, "delete")
        workers = [worker_view(name, w) for w in self.automation.list_workers(name)]
        before["workers"] = sorted(w["worker_id"] for w in workers)
        actions = []
        if workers and not force:
            return self._in_use(name, before, workers, only_if_empty, "it still has", force)
        for worker in workers:
            actions.extend(self._remove_worker(name, worker))
        actions.append("delete_group")
        if self.check_mode:
            return self._result(True, actions, before, None)
        if workers:
            # Removing the workers took a while: look again right before deleting.
            arrived = [worker_view(name, w) for w in self.automation.list_workers(name)]
            if arrived:
                return self._in_use(name, before, arrived, only_if_empty, "while it was being deleted, another run registered",
                                    force, actions[:-1])
        try:
            self.automation.delete_group(name)
        except ConflictError:
            arrived = [worker_view(name, w) for w in self.automation.list_workers(name)]
            if not arrived:
                raise
            return self._in_use(name, before, arrived, only_if_empty, "while it was being deleted, another run registered",
                                force, actions[:-1])
        return self._result(True, actions, before, None)

    def _in_use(self, name, before, workers, only_if_empty, how, force, actions=()):
        """A group that has workers: kept with ``only_if_empty``, else a failure naming them."""
        label = self.automation.group_label(name)
        names = ", ".join(w["worker_name"] or w["worker_id"] for w in workers[:5]) + (", ..." if len(workers) > 5 else "")
        if only_if_empty:
            kept = dict(before, workers=sorted(w["worker_id"] for w in workers))
            result = self._result(bool(actions), list(actions), before, kept)
            result["msg"] = "Kept %s: %s %d worker(s) (%s)" % (label, how, len(workers), names)
            return result
        hint = "run again to remove them too" if force else "remove them first or set force=true"
        raise StateError("Failed to delete %s: %s %d worker(s) (%s); %s" % (label, how, len(workers), names, hint),
                         workers=sorted(w["worker_id"] for w in workers), changed=bool(actions))

    def _remove_worker(self, group, worker):
        actions = []
        vm_id = worker["vm_resource_id"]
        if vm_id and worker["worker_type"] != "HybridV1":
            try:
                machine_id = parse_machine_id(vm_id)
            except OptionError:
                machine_id = None
            if machine_id is not None and self.machines.get_extension(machine_id) is not None:
                actions.append("remove_extension:%s" % vm_id)
                if not self.check_mode:
                    self.machines.delete_extension(machine_id)
        actions.append("remove_record:%s" % worker["worker_id"])
        if not self.check_mode:
            self.automation.delete_worker(group, worker["worker_id"])
        return actions

    @staticmethod
    def _result(changed, actions, before, after):
        return {"changed": changed, "actions": actions, "group": after if after is not None else before,
                "diff": {"before": before or {}, "after": after or {}}}


def describe_groups(automation, name=None, include_workers=True):
    """hrw_group_info: one group (or none) or all groups, with their workers."""
    automation.account()
    if name:
        group = automation.get_group(name)
        groups = [group] if group else []
    else:
        groups = automation.list_groups()
    result = []
    for group in groups:
        view = group_view(group)
        if include_workers:
            view["workers"] = [worker_view(view["name"], w) for w in automation.list_workers(view["name"])]
        result.append(view)
    return result
