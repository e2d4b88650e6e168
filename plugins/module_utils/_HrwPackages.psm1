# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to the azure_automation.hybrid_worker collection: not a public API, may change without notice.
#
# The Windows host side of hrw_modules (used by hrw_host_packages.ps1): list what is installed and carry out the steps
# the controller planned (plugins/module_utils/_host_packages.py). No version comparison and no decision here.
# Windows PowerShell 5.1 compatible.

Set-StrictMode -Version 2.0

$script:HrwStoreAliases = '*\WindowsApps\*'

Function Get-HrwPython {
    # The interpreter to use: the given one, else python.exe on PATH that is not the Store's installer alias.
    param([string]$Executable)
    if ($Executable) {
        return $Executable
    }
    $command = Get-Command -Name python.exe -CommandType Application -ErrorAction SilentlyContinue |
        Where-Object { $_.Source -notlike $script:HrwStoreAliases } | Select-Object -First 1
    if ($command) {
        return $command.Source
    }
    $null
}

Function Invoke-HrwNative {
    # Output (stdout and stderr lines, as text) and exit code of a program; throws when there is no such program.
    # Windows PowerShell 5.1 turns each redirected stderr line into an error record, which the module's 'Stop' preference
    # makes terminating; pip warns on stderr, so here only the exit code counts.
    param([string]$FilePath, [string[]]$ArgumentList)
    if (-not (Get-Command -Name $FilePath -CommandType Application -ErrorAction SilentlyContinue)) {
        throw "cannot run ${FilePath}: no such program"
    }
    $ErrorActionPreference = 'Continue'
    $output = & $FilePath @ArgumentList 2>&1 | ForEach-Object { "$_" } | Out-String
    @{ output = $output; rc = $LASTEXITCODE }
}

Function Invoke-HrwPip {
    # Run "<python> -m pip <arguments>"; throw with pip's output on a non-zero exit code.
    param([string]$Python, [string[]]$Arguments, [string]$Action)
    $env:PIP_DISABLE_PIP_VERSION_CHECK = '1'
    $env:PIP_NO_INPUT = '1'
    $run = Invoke-HrwNative -FilePath $Python -ArgumentList (@('-m', 'pip') + $Arguments)
    if ($run.rc -ne 0) {
        throw "Failed to $Action with ${Python}: $($run.output.Trim())"
    }
    $run.output
}

Function Get-HrwPipListing {
    # Packages as pip lists them (names as printed: the controller normalises them).
    param([string]$Python)
    $listing = [ordered]@{ executable = $Python; installed = @{}; error = $null; detail = $null; externally_managed = $false }
    if (-not $Python) {
        $listing.error = 'no_python'
        return $listing
    }
    $env:PIP_DISABLE_PIP_VERSION_CHECK = '1'
    $run = Invoke-HrwNative -FilePath $Python -ArgumentList @('-m', 'pip', 'list', '--format', 'json')
    $text = $run.output
    if ($run.rc -ne 0) {
        $listing.error = if ($text -match 'No module named pip') { 'no_pip' } else { 'list_failed' }
        $listing.detail = $text.Trim()
        return $listing
    }
    $json = ($text -split "`n" | Where-Object { $_.TrimStart().StartsWith('[') } | Select-Object -First 1)
    # Assign first: Windows PowerShell emits a JSON array as one object, PowerShell 7 enumerates it.
    $packages = $json | ConvertFrom-Json
    foreach ($package in @($packages)) {
        $listing.installed[[string]$package.name] = [string]$package.version
    }
    $listing
}

Function Get-HrwModuleListing {
    # Versions (with their prerelease label) of the named modules visible to all users; modules under the profile excluded.
    param([string[]]$Names)
    $found = @{}
    $userRoot = [Environment]::GetFolderPath('UserProfile')
    foreach ($m in @(Get-Module -ListAvailable -Name $Names -ErrorAction SilentlyContinue)) {
        if ($userRoot -and $m.ModuleBase.StartsWith($userRoot, [StringComparison]::OrdinalIgnoreCase)) {
            continue
        }
        $version = $m.Version.ToString()
        $data = $null
        if ($m.PrivateData -is [System.Collections.IDictionary] -and $m.PrivateData.Contains('PSData')) {
            $data = $m.PrivateData['PSData']
        }
        if ($data -is [System.Collections.IDictionary] -and $data.Contains('Prerelease') -and $data['Prerelease']) {
            $version = '{0}-{1}' -f $version, $data['Prerelease']
        }
        $key = $m.Name.ToLowerInvariant()
        if (-not $found.Contains($key)) {
            $found[$key] = @()
        }
        if ($found[$key] -notcontains $version) {
            $found[$key] += $version
        }
    }
    [ordered]@{ available = $true; installed = $found }
}

Function Get-HrwPackageInventory {
    param([bool]$Python, [string]$PythonExecutable, [string[]]$PowerShellModules, [string[]]$RuntimePaths, [string[]]$TestPaths)
    $inventory = [ordered]@{ python = $null; powershell = $null; environment = @{}; executable = @{} }
    if ($Python) {
        $inventory.python = Get-HrwPipListing -Python (Get-HrwPython -Executable $PythonExecutable)
    }
    if ($PowerShellModules.Count -gt 0) {
        $inventory.powershell = Get-HrwModuleListing -Names $PowerShellModules
    }
    foreach ($name in $RuntimePaths) {
        $value = [Environment]::GetEnvironmentVariable($name, 'Machine')
        $inventory.environment[$name] = if ($value) { $value } else { $null }
    }
    foreach ($path in $TestPaths) {
        $inventory.executable[$path] = Test-Path -LiteralPath $path -PathType Leaf
    }
    $inventory
}

Function Install-HrwModule {
    param([System.Collections.IDictionary]$Step, [string]$Repository)
    $install = @{ Name = $Step['name']; Repository = $Repository; Scope = 'AllUsers'; Force = $true; AllowClobber = $true; ErrorAction = 'Stop' }
    if ($Step['version']) {
        $install.RequiredVersion = $Step['version']
    }
    $command = Get-Command -Name Install-Module
    $optional = @('AcceptLicense', 'SkipPublisherCheck')
    if ($Step['prerelease']) {
        $optional += 'AllowPrerelease'
    }
    foreach ($name in $optional) {
        if ($command.Parameters.ContainsKey($name)) {
            $install[$name] = $true
        }
    }
    if (-not (Get-PackageProvider -ListAvailable -Name NuGet -ErrorAction SilentlyContinue)) {
        $null = Install-PackageProvider -Name NuGet -MinimumVersion 2.8.5.201 -Force -ErrorAction Stop
    }
    Install-Module @install
}

Function Uninstall-HrwModule {
    # The versions of the step, or all versions; -AllowPrerelease when the controller says a prerelease is among them
    # (PowerShellGet refuses a prerelease RequiredVersion without it; the inbox PowerShellGet 1.0 has no such parameter).
    param([System.Collections.IDictionary]$Step)
    $uninstall = @{ Name = $Step['name']; Force = $true; ErrorAction = 'Stop' }
    $optional = @()
    if ($Step['prerelease']) {
        $optional += 'AllowPrerelease'
    }
    $command = Get-Command -Name Uninstall-Module
    foreach ($name in $optional) {
        if ($command.Parameters.ContainsKey($name)) {
            $uninstall[$name] = $true
        }
    }
    if ($Step['versions']) {
        foreach ($version in @($Step['versions'])) {
            Uninstall-Module @uninstall -RequiredVersion $version
        }
    }
    else {
        Uninstall-Module @uninstall -AllVersions
    }
}

Function Invoke-HrwPackageStep {
    # Carry out the steps in order, as planned on the controller.
    param([object[]]$Steps, [string]$PythonExecutable, [string]$IndexUrl, [string]$FindLinks, [string]$Repository)
    $python = Get-HrwPython -Executable $PythonExecutable
    foreach ($step in $Steps) {
        switch ($step['kind']) {
            'pip_uninstall' {
                $specs = @($step['specs'])
                $null = Invoke-HrwPip -Python $python -Arguments (@('uninstall', '--no-input', '-y') + $specs) -Action "remove $($specs -join ', ')"
            }
            'pip_install' {
                $arguments = @('install', '--no-input')
                if ($FindLinks) {
                    $arguments += @('--no-index', '--find-links', $FindLinks)
                }
                elseif ($IndexUrl) {
                    $arguments += @('--index-url', $IndexUrl)
                }
                # Local files (src) are expanded here on the host, as a path option is.
                $files = @($step['files'])
                $specs = @($step['specs'] | ForEach-Object { if ($files -contains $_) { [Environment]::ExpandEnvironmentVariables($_) } else { $_ } })
                $null = Invoke-HrwPip -Python $python -Arguments ($arguments + $specs) -Action "install $($specs -join ', ')"
            }
            'module_install' {
                Install-HrwModule -Step $step -Repository $Repository
            }
            'module_uninstall' {
                Uninstall-HrwModule -Step $step
            }
            'environment' {
                $values = $step['values']
                foreach ($name in @($values.Keys)) {
                    [Environment]::SetEnvironmentVariable($name, $values[$name], 'Machine')
                }
            }
            default {
                throw "unknown step '$($step['kind'])'"
            }
        }
    }
}

Export-ModuleMember -Function @('Get-HrwPackageInventory', 'Invoke-HrwPackageStep')
