# Copyright: azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for the internal module hrw_host_packages when a task calls it directly: the .py on POSIX hosts, the .ps1 on Windows."""

from ansible_collections.azure_automation.hybrid_worker.plugins.plugin_utils._host_module_action import HostModuleAction


class ActionModule(HostModuleAction):
    """See plugins/plugin_utils/_host_module_action.py."""
