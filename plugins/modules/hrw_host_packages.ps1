#!powershell

# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Windows implementation of hrw_host_packages, internal to the hrw_modules action; the documentation is in hrw_host_packages.py.
# It lists and carries out steps; the plan is made on the controller (plugins/module_utils/_host_packages.py).

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -PowerShell ..module_utils._HrwPackages

$spec = @{
    options = @{
        mode = @{ type = 'str'; required = $true; choices = @('inventory', 'apply') }
        python = @{ type = 'bool'; default = $false }
        python_executable = @{ type = 'str' }
        powershell_modules = @{ type = 'list'; elements = 'str'; default = @() }
        runtime_paths = @{ type = 'list'; elements = 'str'; default = @() }
        test_paths = @{ type = 'list'; elements = 'str'; default = @() }
        steps = @{ type = 'list'; elements = 'dict'; default = @() }
        pip_index_url = @{ type = 'str' }
        pip_find_links = @{ type = 'path' }
        break_system_packages = @{ type = 'bool'; default = $false }
        powershell_repository = @{ type = 'str'; default = 'PSGallery' }
    }
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$p = $module.Params

$module.Result.changed = ($p.mode -eq 'apply') -and $p.steps.Count -gt 0
$module.Result.inventory = $null
if (($p.mode -eq 'inventory') -or -not $module.CheckMode) {
    try {
        [Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12
        $listing = @{ Python = $p.python; PythonExecutable = $p.python_executable; PowerShellModules = $p.powershell_modules
            RuntimePaths = $p.runtime_paths; TestPaths = $p.test_paths
        }
        if ($p.mode -eq 'apply') {
            Invoke-HrwPackageStep -Steps $p.steps -PythonExecutable $p.python_executable -IndexUrl $p.pip_index_url -FindLinks $p.pip_find_links `
                -Repository $p.powershell_repository
            $listing.RuntimePaths = @()
            $listing.TestPaths = @()
        }
        $module.Result.inventory = Get-HrwPackageInventory @listing
    }
    catch {
        $module.FailJson("Failed to manage the worker's modules and packages: $($_.Exception.Message)", $_)
    }
}
$module.ExitJson()
