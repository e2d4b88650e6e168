#!powershell

# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Windows implementation of hrw_health; the documentation is in hrw_health.py (same options, same result).

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -PowerShell ..module_utils._HybridWorkerHost

$checkIds = Get-HrwCheckIds
$spec = @{
    options = @{
        automation_account_url = @{ type = 'str' }
        extra_endpoints = @{ type = 'list'; elements = 'str'; default = @() }
        expected_issuers = @{ type = 'list'; elements = 'str'; default = (Get-HrwDefaultExpectedIssuers) }
        checks = @{ type = 'list'; elements = 'str'; default = @(); choices = $checkIds }
        skip_checks = @{ type = 'list'; elements = 'str'; default = @(); choices = $checkIds }
        fail_on = @{ type = 'str'; default = 'fail'; choices = @('fail', 'warn', 'never') }
        timeout = @{ type = 'int'; default = 5 }
        proxy_url = @{ type = 'str'; no_log = $true }
        min_cpu_cores = @{ type = 'int'; default = 2 }
        min_memory_mb = @{ type = 'int'; default = 4096 }
        min_disk_free_mb = @{ type = 'int'; default = 1024 }
        disk_path = @{ type = 'path' }
    }
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$p = $module.Params

Function ConvertTo-Endpoint {
    param([string]$Value)
    $text = $Value.Trim()
    if ($text -notmatch '://') {
        $text = "https://$text"
    }
    $uri = [Uri]$text
    if (-not $uri.Host) {
        throw "cannot read a host name from '$Value'"
    }
    $port = if ($uri.IsDefaultPort -or $uri.Port -lt 1) { 443 } else { $uri.Port }
    @{ host = $uri.DnsSafeHost; port = $port }
}

$selected = @(Select-HrwCheck -Checks $p.checks -SkipChecks $p.skip_checks)
$results = [System.Collections.Generic.List[object]]@()
$extension = $null
$url = $p.automation_account_url
$endpoints = @()

try {
    $extension = Get-HrwExtensionState
    if (-not $url -and $extension.url) {
        $url = $extension.url
    }

    # -- size and OS
    $system = Get-CimInstance -ClassName Win32_ComputerSystem
    $os = Get-CimInstance -ClassName Win32_OperatingSystem
    if ($selected -contains 'cpu_cores') {
        $results.Add((Test-HrwCpuCore -Cores ([int]$system.NumberOfLogicalProcessors) -Minimum $p.min_cpu_cores))
    }
    if ($selected -contains 'memory') {
        $results.Add((Test-HrwMemory -TotalMb ([int64]($system.TotalPhysicalMemory / 1048576)) -MinimumMb $p.min_memory_mb))
    }
    if ($selected -contains 'disk_space') {
        $path = if ($p.disk_path) { $p.disk_path } else { $env:SystemDrive + '\' }
        $free = $null
        $drive = Get-CimInstance -ClassName Win32_LogicalDisk -Filter ("DeviceID='{0}'" -f ([IO.Path]::GetPathRoot($path).TrimEnd('\'))) -ErrorAction SilentlyContinue
        if ($drive) {
            $free = [int64]($drive.FreeSpace / 1048576)
        }
        $results.Add((Test-HrwDiskSpace -Path $path -FreeMb $free -MinimumMb $p.min_disk_free_mb))
    }
    if ($selected -contains 'os_supported') {
        $results.Add((Test-HrwOsSupported -Caption $os.Caption -Version $os.Version -Architecture $os.OSArchitecture -ProductType ([int]$os.ProductType)))
    }

    # -- network
    $targets = @()
    if ($url) {
        $targets += , (ConvertTo-Endpoint -Value $url)
    }
    foreach ($extra in $p.extra_endpoints) {
        $candidate = ConvertTo-Endpoint -Value $extra
        if (-not ($targets | Where-Object { $_.host -eq $candidate.host -and $_.port -eq $candidate.port })) {
            $targets += , $candidate
        }
    }
    $endpoints = @($targets | ForEach-Object { '{0}:{1}' -f $_.host, $_.port })
    if (-not $url) {
        foreach ($id in @('dns', 'tcp_connect', 'tls', 'clock_skew')) {
            if ($selected -contains $id) {
                $results.Add((New-HrwCheckResult -Id $id -Status warn -Remediation 'Pass automation_account_url.' `
                            -Summary 'No worker endpoint: automation_account_url is not set and no extension settings name one.'))
            }
        }
    }
    $processEnv = @{}
    Get-ChildItem -Path Env: | ForEach-Object { $processEnv[$_.Name] = $_.Value }
    $machineEnv = [Environment]::GetEnvironmentVariables('Machine')
    $proxyConfigured = [bool](@($processEnv.Keys) + @($machineEnv.Keys) | Where-Object { @('https_proxy', 'http_proxy') -contains ([string]$_).ToLowerInvariant() })
    $proxy = ConvertTo-HrwProxy -Url $p.proxy_url
    $via = if ($proxy) { ConvertTo-HrwRedactedUrl -Value $p.proxy_url } else { $null }
    $index = 0
    foreach ($target in $targets) {
        if ($selected -contains 'dns') {
            $dns = Get-HrwDnsFact -HostName $target.host
            $results.Add((Test-HrwDns -HostName $target.host -Addresses $dns.addresses -ErrorText $dns.error))
        }
        $tcpError = $null
        if ($selected -contains 'tcp_connect') {
            $tcp = Get-HrwTcpFact -HostName $target.host -Port $target.port -TimeoutSeconds $p.timeout -Proxy $proxy
            $tcpError = $tcp.error
            $results.Add((Test-HrwTcpConnect -HostName $target.host -Port $target.port -ErrorText $tcp.error -ElapsedMs $tcp.elapsed_ms `
                        -ProxyConfigured $proxyConfigured -Via $via))
        }
        $wantClock = ($index -eq 0) -and [bool]$url -and ($selected -contains 'clock_skew')
        $index++
        if (-not (($selected -contains 'tls') -or $wantClock)) {
            continue
        }
        if ($tcpError) {
            $facts = @{ handshake_error = 'not tried: TCP connection failed' }
        }
        else {
            $facts = Get-HrwTlsFact -HostName $target.host -Port $target.port -TimeoutSeconds $p.timeout -WantDate $wantClock -Proxy $proxy
        }
        if ($selected -contains 'tls') {
            $results.Add((Test-HrwTls -HostName $target.host -Port $target.port -Facts $facts -ExpectedIssuers $p.expected_issuers))
        }
        if ($wantClock) {
            $skew = $null
            if ($null -ne $facts.server_time) {
                $skew = [int]($facts.local_time - $facts.server_time)
            }
            $why = if ($facts.date_error) { $facts.date_error } else { $facts.handshake_error }
            $results.Add((Test-HrwClockSkew -HostName $target.host -SkewSeconds $skew -ErrorText $why))
        }
    }
    if ($selected -contains 'proxy') {
        $hasProxy = if ($extension.settings_found) { $extension.has_proxy } else { $null }
        $results.Add((Test-HrwProxy -ProcessEnv $processEnv -MachineEnv $machineEnv -ExtensionHasProxy $hasProxy))
    }

    # -- worker, extension, runtimes, V1
    if ($selected -contains 'worker_service') {
        $results.Add((Test-HrwWorkerService -Name HybridWorkerService -Facts (Get-HrwServiceFact -Name HybridWorkerService)))
    }
    if ($selected -contains 'worker_user') {
        $results.Add((New-HrwCheckResult -Id worker_user -Status ok -Summary 'Windows jobs run as Local System or the group credential; there is no worker user to check.'))
    }
    if ($selected -contains 'extension_install') {
        $results.Add((Test-HrwExtensionInstall -Versions $extension.versions))
    }
    if ($selected -contains 'extension_settings') {
        if ($extension.settings_error) {
            $results.Add((New-HrwCheckResult -Id extension_settings -Status fail -Summary $extension.settings_error -Remediation 'Reinstall the HybridWorkerExtension.'))
        }
        else {
            $results.Add((Test-HrwExtensionSetting -Found $extension.settings_found -SettingsUrl $extension.url -ExpectedUrl $p.automation_account_url))
        }
    }
    if ($selected -contains 'extension_status') {
        $results.Add((Test-HrwExtensionStatus -Status $extension.status -Message $extension.message))
    }
    if ($selected -contains 'log_folders') {
        $existing = [ordered]@{}
        foreach ($folder in @('C:\HybridWorkerExtensionLogs')) {
            $existing[$folder] = Test-Path -LiteralPath $folder -PathType Container
        }
        $results.Add((Test-HrwLogFolder -Existing $existing))
    }
    if ($selected -contains 'runtime_powershell') {
        $pwsh = Get-Command -Name pwsh.exe -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
        $path = if ($pwsh) { $pwsh.Source } else { $null }
        $version = if ($pwsh) { Get-HrwCommandVersion -Path $pwsh.Source -Arguments @('--version') } else { [int[]]@() }
        $results.Add((Test-HrwRuntimePowerShell -Path $path -Version $version))
    }
    if ($selected -contains 'runtime_python') {
        $python = Get-Command -Name python.exe -CommandType Application -ErrorAction SilentlyContinue |
            Where-Object { $_.Source -notlike '*\WindowsApps\*' } | Select-Object -First 1
        $path = if ($python) { $python.Source } else { $null }
        $version = if ($python) { Get-HrwCommandVersion -Path $python.Source -Arguments @('--version') } else { [int[]]@() }
        $results.Add((Test-HrwRuntimePython -Path $path -Version $version))
    }
    if ($selected -contains 'runtime_paths') {
        $values = @{}
        $executable = @{}
        foreach ($name in @('powershell_7_2_path', 'python_3_10_path')) {
            $value = [Environment]::GetEnvironmentVariable($name, 'Machine')
            if ($value) {
                $values[$name] = $value
                $executable[$value] = Test-Path -LiteralPath $value -PathType Leaf
            }
        }
        $results.Add((Test-HrwRuntimePath -Values $values -Executable $executable))
    }
    if ($selected -contains 'v1_remnants') {
        $v1Paths = @(
            'HKLM:\SOFTWARE\Microsoft\HybridRunbookWorker',
            'C:\Program Files\Microsoft Monitoring Agent\Agent\AzureAutomation',
            'C:\ProgramData\Microsoft\System Center\Orchestrator\7.2\SMA\Sandboxes'
        )
        $found = @($v1Paths | Where-Object { Test-Path -LiteralPath $_ })
        # V1 job sandboxes run from the Monitoring Agent's AzureAutomation folder.
        $processes = @(Get-CimInstance -ClassName Win32_Process -Filter "CommandLine LIKE '%Monitoring Agent%AzureAutomation%'" -ErrorAction SilentlyContinue |
                ForEach-Object { [string]$_.CommandLine })
        $agent = @(Get-Service -Name HealthService -ErrorAction SilentlyContinue | ForEach-Object { 'service HealthService' })
        $results.Add((Test-HrwV1Remnant -Paths ($found + $agent) -Processes $processes -Users @()))
    }
}
catch {
    $module.FailJson("Failed to run the health checks: $($_.Exception.Message)", $_)
}

$order = @{}
for ($i = 0; $i -lt $checkIds.Count; $i++) {
    $order[$checkIds[$i]] = $i
}
# Stable sort by check order, keeping the per-endpoint order.
$position = 0
$sorted = @($results | ForEach-Object { [pscustomobject]@{ rank = $order[$_.id]; position = $position++; item = $_ } } |
        Sort-Object -Property @('rank', 'position') | ForEach-Object { $_.item })

$module.Result.changed = $false
$module.Result.checks = $sorted
$module.Result.summary = Get-HrwSummary -Results $sorted
$module.Result.report = Get-HrwReport -Results $sorted -Summary $module.Result.summary
$module.Result.endpoints = $endpoints
$module.Result.automation_account_url = $url

$bad = @(Get-HrwFailing -Results $sorted -FailOn $p.fail_on)
if ($bad.Count -gt 0) {
    $lines = ($bad | ForEach-Object { Get-HrwReportLine -Item $_ }) -join ' | '
    $module.FailJson(('{0} health check(s) at or above {1}: {2}' -f $bad.Count, $p.fail_on, $lines))
}
$module.ExitJson()
