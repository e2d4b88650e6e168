# -*- coding: utf-8 -*-
# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to the azure_automation.hybrid_worker collection: not a public API, may change without notice.
"""Bounded concurrency shared by the fleet modules (hrw_register, hrw_worker_info): a fixed number of threads working
through positions of a list."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import threading

# Most machines one task handles at the same time (option concurrency): more threads only queue on ARM's write throttling.
MAX_CONCURRENCY = 64


def effective_concurrency(requested, count):
    """Threads for ``count`` machines: at most one per machine and at most MAX_CONCURRENCY."""
    return max(1, min(int(requested or 1), count or 1, MAX_CONCURRENCY))


def run_bounded(work, count, concurrency):
    """Call ``work(i)`` for i in range(count) on at most ``concurrency`` threads (in this thread when 1)."""
    concurrency = effective_concurrency(concurrency, count)
    if concurrency == 1:
        for position in range(count):
            work(position)
        return
    lock = threading.Lock()
    cursor = [0]

    def runner():
        while True:
            with lock:
                position = cursor[0]
                cursor[0] += 1
            if position >= count:
                return
            work(position)

    threads = [threading.Thread(target=runner, name="hrw-bounded-%d" % i) for i in range(concurrency)]
    for thread in threads:
        thread.daemon = True
        thread.start()
    for thread in threads:
        thread.join()
