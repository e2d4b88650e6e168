# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""_concurrency: bounded threads shared by the fleet modules, and kept out of the registration logic."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import subprocess
import sys

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._concurrency import (
    MAX_CONCURRENCY, effective_concurrency, run_bounded)


def test_every_position_runs_once_on_at_most_the_threads_asked_for():
    seen = []
    run_bounded(seen.append, 50, 4)
    assert sorted(seen) == list(range(50))
    assert effective_concurrency(1000, 5000) == MAX_CONCURRENCY and effective_concurrency(8, 3) == 3


def test_worker_info_does_not_load_the_registration_logic():
    """hrw_worker_info's service (_info) takes run_bounded from the neutral module, not from _register."""
    code = ("import sys\n"
            "from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils import _info\n"
            "sys.exit(1 if 'ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._register' in sys.modules else 0)\n")
    assert subprocess.run([sys.executable, "-c", code], env=None, check=False).returncode == 0
