#!powershell

# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Windows implementation of hrw_modules; the documentation is in hrw_modules.py (same options, same result).
# PowerShell modules are installed in-process by Windows PowerShell (AllUsers: C:\Program Files\WindowsPowerShell\Modules,
# which PowerShell 7 also loads); runtime_paths are machine environment variables.

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -PowerShell ..module_utils._HybridWorkerHost

$spec = @{
    options = @{
        state = @{ type = 'str'; default = 'present'; choices = @('present', 'absent') }
        powershell_modules = @{
            type = 'list'; elements = 'dict'; default = @()
            options = @{ name = @{ type = 'str'; required = $true }; version = @{ type = 'str' } }
        }
        powershell_repository = @{ type = 'str'; default = 'PSGallery' }
        python_packages = @{
            type = 'list'; elements = 'dict'; default = @()
            options = @{ name = @{ type = 'str'; required = $true }; version = @{ type = 'str' }; src = @{ type = 'path' } }
        }
        python_executable = @{ type = 'str' }
        pip_index_url = @{ type = 'str' }
        pip_find_links = @{ type = 'path' }
        break_system_packages = @{ type = 'bool'; default = $false }
        runtime_paths = @{
            type = 'dict'
            options = @{ powershell_7_2_path = @{ type = 'str' }; python_3_10_path = @{ type = 'str' } }
        }
    }
    mutually_exclusive = @(, @('pip_index_url', 'pip_find_links'))
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$p = $module.Params

Function Invoke-Pip {
    # Run "<python> -m pip <arguments>"; throw with pip's output on a non-zero exit code.
    param([string]$Python, [string[]]$Arguments, [string]$Action)
    $env:PIP_DISABLE_PIP_VERSION_CHECK = '1'
    $env:PIP_NO_INPUT = '1'
    $output = & $Python -m pip @Arguments 2>&1 | Out-String
    if ($LASTEXITCODE -ne 0) {
        throw "Failed to $Action with ${Python}: $($output.Trim())"
    }
    $output
}

Function Get-PipInstalled {
    param([string]$Python)
    $installed = @{}
    $text = Invoke-Pip -Python $Python -Arguments @('list', '--format', 'json') -Action 'list the Python packages'
    $json = ($text -split "`n" | Where-Object { $_.TrimStart().StartsWith('[') } | Select-Object -First 1)
    # Assign first: Windows PowerShell emits a JSON array as one object, PowerShell 7 enumerates it.
    $packages = $json | ConvertFrom-Json
    foreach ($package in $packages) {
        $installed[(ConvertTo-HrwPipName -Name $package.name)] = [string]$package.version
    }
    $installed
}

Function Invoke-PipChange {
    [CmdletBinding(SupportsShouldProcess)]
    param([string]$Python, [object[]]$Items, [string]$IndexUrl, [string]$FindLinks)
    $removes = @($Items | Where-Object { $_.action -eq 'remove' } | ForEach-Object { $_.spec })
    $installs = @($Items | Where-Object { $_.action -ne 'remove' } | ForEach-Object { $_.spec })
    if ($removes.Count -gt 0 -and $PSCmdlet.ShouldProcess(($removes -join ', '), 'pip uninstall')) {
        $null = Invoke-Pip -Python $Python -Arguments (@('uninstall', '--no-input', '-y') + $removes) -Action "remove $($removes -join ', ')"
    }
    if ($installs.Count -gt 0 -and $PSCmdlet.ShouldProcess(($installs -join ', '), 'pip install')) {
        $arguments = @('install', '--no-input')
        if ($FindLinks) {
            $arguments += @('--no-index', '--find-links', $FindLinks)
        }
        elseif ($IndexUrl) {
            $arguments += @('--index-url', $IndexUrl)
        }
        $null = Invoke-Pip -Python $Python -Arguments ($arguments + $installs) -Action "install $($installs -join ', ')"
    }
}

Function Get-AllUsersModule {
    # Versions of the named modules visible to all users (CurrentUser scope, under the profile, excluded).
    param([string[]]$Names)
    $found = @{}
    $userRoot = [Environment]::GetFolderPath('UserProfile')
    foreach ($m in @(Get-Module -ListAvailable -Name $Names -ErrorAction SilentlyContinue)) {
        if ($userRoot -and $m.ModuleBase.StartsWith($userRoot, [StringComparison]::OrdinalIgnoreCase)) {
            continue
        }
        $key = $m.Name.ToLowerInvariant()
        if (-not $found.Contains($key)) {
            $found[$key] = @()
        }
        if ($found[$key] -notcontains $m.Version.ToString()) {
            $found[$key] += $m.Version.ToString()
        }
    }
    $found
}

Function Invoke-PsModuleChange {
    [CmdletBinding(SupportsShouldProcess)]
    param([System.Collections.IDictionary]$Item, [string]$Repository)
    if ($Item.action -eq 'remove') {
        $removed = @($Item.before | Where-Object { $Item.after -notcontains $_ })
        if (@($Item.after).Count -eq 0) {
            if ($PSCmdlet.ShouldProcess($Item.name, 'Uninstall-Module -AllVersions')) {
                Uninstall-Module -Name $Item.name -AllVersions -Force -ErrorAction Stop
            }
            return
        }
        foreach ($version in $removed) {
            if ($PSCmdlet.ShouldProcess("$($Item.name) $version", 'Uninstall-Module')) {
                Uninstall-Module -Name $Item.name -RequiredVersion $version -Force -ErrorAction Stop
            }
        }
        return
    }
    $new = @($Item.after | Where-Object { @($Item.before) -notcontains $_ })[0]
    $install = @{ Name = $Item.name; Repository = $Repository; Scope = 'AllUsers'; Force = $true; AllowClobber = $true; ErrorAction = 'Stop' }
    if ($new -ne 'latest') {
        $install.RequiredVersion = $new
    }
    $command = Get-Command -Name Install-Module
    foreach ($optional in @('AcceptLicense', 'SkipPublisherCheck')) {
        if ($command.Parameters.ContainsKey($optional)) {
            $install[$optional] = $true
        }
    }
    if ($PSCmdlet.ShouldProcess("$($Item.name) $new", 'Install-Module -Scope AllUsers')) {
        if (-not (Get-PackageProvider -ListAvailable -Name NuGet -ErrorAction SilentlyContinue)) {
            $null = Install-PackageProvider -Name NuGet -MinimumVersion 2.8.5.201 -Force -ErrorAction Stop
        }
        Install-Module @install
    }
}

Function Set-MachineVariable {
    [CmdletBinding(SupportsShouldProcess)]
    param([string]$Name, [string]$Value)
    if ($PSCmdlet.ShouldProcess($Name, 'Set machine environment variable')) {
        $newValue = if ($Value) { $Value } else { $null }
        [Environment]::SetEnvironmentVariable($Name, $newValue, 'Machine')
    }
}

$plan = [System.Collections.Generic.List[object]]@()
$pythonAfter = [ordered]@{}
$powershellAfter = [ordered]@{}
$restartRequired = $false
$failure = $null

try {
    [Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12

    if ($p.python_packages.Count -gt 0) {
        $python = $p.python_executable
        if (-not $python) {
            $cmd = Get-Command -Name python.exe -CommandType Application -ErrorAction SilentlyContinue |
                Where-Object { $_.Source -notlike '*\WindowsApps\*' } | Select-Object -First 1
            if (-not $cmd) {
                throw 'Python packages were requested but no python.exe is on PATH; install Python 3 or set python_executable.'
            }
            $python = $cmd.Source
        }
        $installed = Get-PipInstalled -Python $python
        $pythonPlan = Get-HrwPythonPlan -Requested $p.python_packages -Installed $installed -State $p.state
        foreach ($item in $pythonPlan) { $plan.Add($item) }
        $todo = @($pythonPlan | Where-Object { $_.action -ne 'noop' })
        if ($todo.Count -gt 0) {
            Invoke-PipChange -Python $python -Items $todo -IndexUrl $p.pip_index_url -FindLinks $p.pip_find_links -WhatIf:$module.CheckMode
            $after = if ($module.CheckMode) { $null } else { Get-PipInstalled -Python $python }
        }
        foreach ($item in $pythonPlan) {
            if ($todo.Count -gt 0 -and -not $module.CheckMode) {
                $key = ConvertTo-HrwPipName -Name $item.name
                $pythonAfter[$item.name] = if ($after.Contains($key)) { $after[$key] } else { $null }
            }
            else {
                $pythonAfter[$item.name] = if ($item.after -eq 'latest') { $null } else { $item.after }
            }
        }
    }

    if ($p.powershell_modules.Count -gt 0) {
        $names = @($p.powershell_modules | ForEach-Object { $_.name })
        $psPlan = Get-HrwPowerShellPlan -Requested $p.powershell_modules -Installed (Get-AllUsersModule -Names $names) -State $p.state
        foreach ($item in $psPlan) { $plan.Add($item) }
        $todo = @($psPlan | Where-Object { $_.action -ne 'noop' })
        foreach ($item in $todo) {
            Invoke-PsModuleChange -Item $item -Repository $p.powershell_repository -WhatIf:$module.CheckMode
        }
        $final = if ($todo.Count -gt 0 -and -not $module.CheckMode) { Get-AllUsersModule -Names $names } else { $null }
        foreach ($item in $psPlan) {
            if ($null -ne $final) {
                $key = $item.name.ToLowerInvariant()
                $powershellAfter[$item.name] = if ($final.Contains($key)) { @($final[$key]) } else { @() }
            }
            else {
                $powershellAfter[$item.name] = @($item.after)
            }
        }
    }

    if ($p.runtime_paths) {
        foreach ($name in @('powershell_7_2_path', 'python_3_10_path')) {
            $wanted = $p.runtime_paths[$name]
            if ($null -eq $wanted) {
                continue
            }
            $before = [Environment]::GetEnvironmentVariable($name, 'Machine')
            if (-not $before) {
                $before = $null
            }
            $after = if ($wanted) { $wanted } else { $null }
            if ($wanted -and -not (Test-Path -LiteralPath $wanted -PathType Leaf)) {
                $module.Warn("runtime_paths.${name}: $wanted is not a file on this host.")
            }
            $action = 'noop'
            if ($before -ne $after) {
                $action = if ($null -eq $after) { 'unset' } else { 'set' }
                Set-MachineVariable -Name $name -Value $wanted -WhatIf:$module.CheckMode
                $restartRequired = $true
            }
            $plan.Add([ordered]@{ type = 'environment'; name = $name; action = $action; before = $before; after = $after })
        }
    }
}
catch {
    $failure = $_
}

$actions = @($plan | ForEach-Object {
        $copy = [ordered]@{}
        foreach ($k in $_.Keys) {
            if ($k -ne 'spec') { $copy[$k] = $_[$k] }
        }
        $copy
    })
$module.Result.actions = $actions
if ($failure) {
    $module.FailJson("Failed to manage the worker's modules and packages: $($failure.Exception.Message)", $failure)
}

$module.Result.changed = @($plan | Where-Object { $_.action -ne 'noop' }).Count -gt 0
$module.Result.python_packages = $pythonAfter
$module.Result.powershell_modules = $powershellAfter
$module.Result.restart_required = $restartRequired
if ($module.DiffMode) {
    $sections = @{ python = 'python_packages'; powershell = 'powershell_modules'; environment = 'environment' }
    $before = @{}
    $after = @{}
    foreach ($item in $plan) {
        $section = $sections[$item.type]
        if (-not $before.Contains($section)) {
            $before[$section] = [ordered]@{}
            $after[$section] = [ordered]@{}
        }
        $before[$section][$item.name] = $item.before
        $after[$section][$item.name] = $item.after
    }
    $module.Diff.before = $before
    $module.Diff.after = $after
}
$module.ExitJson()
