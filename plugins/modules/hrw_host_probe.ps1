#!powershell

# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Windows implementation of hrw_host_probe, internal to the hrw_health action; the documentation is in hrw_host_probe.py.
# It only observes and returns facts (schema: plugins/module_utils/_host_facts.py); the controller decides.

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -PowerShell ..module_utils._HrwProbe

$spec = @{
    options = @{
        groups = @{ type = 'list'; elements = 'str'; required = $true }
        network_steps = @{ type = 'list'; elements = 'str'; default = @() }
        endpoints = @{
            type = 'list'; elements = 'dict'; default = @()
            options = @{
                host = @{ type = 'str'; required = $true }
                port = @{ type = 'int'; required = $true }
                primary = @{ type = 'bool'; default = $false }
            }
        }
        use_settings_url = @{ type = 'bool'; default = $false }
        timeout = @{ type = 'int'; default = 5 }
        disk_path = @{ type = 'path' }
        proxy = @{
            type = 'dict'
            options = @{
                host = @{ type = 'str'; required = $true }
                port = @{ type = 'int'; required = $true }
                authorization = @{ type = 'str'; no_log = $true }
            }
        }
    }
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$p = $module.Params

try {
    $facts = Get-HrwFact -Group $p.groups -NetworkStep $p.network_steps -Endpoint $p.endpoints -UseSettingsUrl $p.use_settings_url `
        -TimeoutSeconds $p.timeout -DiskPath $p.disk_path -Proxy $p.proxy
}
catch {
    $module.FailJson("Failed to gather the host facts: $($_.Exception.Message)", $_)
}
$module.Result.changed = $false
$module.Result.facts = $facts
$module.ExitJson()
