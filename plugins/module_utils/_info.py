# -*- coding: utf-8 -*-
# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to the azure_automation.hybrid_worker collection: not a public API, may change without notice.
"""Decision logic of hrw_worker_info: which workers, filtered how, with which extension state."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._concurrency import run_bounded
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._errors import OptionError
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._extension import extension_view
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._hybrid_worker import worker_view
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._ids import parse_machine_id, same_id
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._timeutil import age_seconds, utcnow


def select_workers(workers, vm_resource_id=None, stale_for=None, now=None):
    """Filter worker views; adds ``last_seen_age_seconds`` and ``stale`` (never seen counts as stale)."""
    now = now or utcnow()
    selected = []
    for worker in workers:
        if vm_resource_id and not same_id(worker["vm_resource_id"], vm_resource_id):
            continue
        age = age_seconds(worker["last_seen"], now)
        worker = dict(worker, last_seen_age_seconds=None if age is None else int(age))
        worker["stale"] = None if stale_for is None else (age is None or age > stale_for)
        if stale_for is not None and not worker["stale"]:
            continue
        selected.append(worker)
    return selected


def describe_workers(automation, machines, group=None, vm_resource_id=None, stale_for=None, include_extension=True,
                     concurrency=4):
    if vm_resource_id:
        parse_machine_id(vm_resource_id)
    automation.account()
    if group:
        if automation.get_group(group) is None:
            raise OptionError("group", "no hybrid worker group '%s' in %s" % (group, automation.account_label()))
        names = [group]
    else:
        names = [g.get("name") for g in automation.list_groups()]
    workers = []
    for name in names:
        workers.extend(worker_view(name, w) for w in automation.list_workers(name))
    selected = select_workers(workers, vm_resource_id, stale_for)
    if include_extension:
        def fill(position):
            worker = selected[position]
            worker["extension"] = extension_state(machines, worker)
        run_bounded(fill, len(selected), concurrency)
    return selected


def extension_state(machines, worker):
    """The HybridWorker extension of a V2 worker's machine; ``exists: false`` when it or the machine is gone."""
    if not worker["vm_resource_id"] or worker["worker_type"] == "HybridV1":
        return None
    try:
        machine_id = parse_machine_id(worker["vm_resource_id"])
    except OptionError:
        return None
    view = extension_view(machines.get_extension(machine_id))
    if view is None:
        return {"exists": False}
    view["exists"] = True
    return view
