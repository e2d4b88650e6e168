# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to the azure_automation.hybrid_worker collection: not a public API, may change without notice.
#
# Shared functions of the Windows implementations hrw_health.ps1 and hrw_modules.ps1.
# The decision functions mirror plugins/module_utils/_host_checks.py and _host_packages.py rule for rule, with the same
# check ids and result shape ({id, status, summary, remediation[, target][, details]}). Windows PowerShell 5.1 compatible.

Set-StrictMode -Version 2.0

$script:HrwCheckIds = @(
    'cpu_cores', 'memory', 'disk_space', 'os_supported',
    'dns', 'tcp_connect', 'tls', 'clock_skew', 'proxy',
    'worker_service', 'worker_user', 'extension_install', 'extension_settings', 'extension_status', 'log_folders',
    'runtime_powershell', 'runtime_python', 'runtime_paths', 'v1_remnants'
)
$script:HrwDefaultExpectedIssuers = @(
    'DigiCert Global Root G2', 'DigiCert Global Root G3', 'DigiCert Global Root CA',
    'Microsoft RSA Root Certificate Authority 2017', 'Microsoft ECC Root Certificate Authority 2017',
    'Microsoft Corporation', 'DigiCert Inc'
)
$script:HrwRuntimePathVariables = @('powershell_7_2_path', 'python_3_10_path')
$script:HrwExtensionName = 'Microsoft.Azure.Automation.HybridWorker.HybridWorkerForWindows'
$script:HrwPluginRoot = 'C:\Packages\Plugins'
$script:HrwWorkerService = 'HybridWorkerService'
$script:HrwLogFolders = @('C:\HybridWorkerExtensionLogs')
$script:HrwV1Paths = @(
    'HKLM:\SOFTWARE\Microsoft\HybridRunbookWorker',
    'C:\Program Files\Microsoft Monitoring Agent\Agent\AzureAutomation',
    'C:\ProgramData\Microsoft\System Center\Orchestrator\7.2\SMA\Sandboxes'
)
$script:HrwRank = @{ ok = 0; warn = 1; fail = 2 }

Function Get-HrwCheckIds { , $script:HrwCheckIds }
Function Get-HrwDefaultExpectedIssuers { , $script:HrwDefaultExpectedIssuers }

Function Get-HrwProperty {
    # A property of a ConvertFrom-Json object or a dictionary key, $null when absent (safe under strict mode).
    param($InputObject, [string]$Name)
    if ($null -eq $InputObject) {
        return $null
    }
    if ($InputObject -is [System.Collections.IDictionary]) {
        return $InputObject[$Name]
    }
    $property = $InputObject.PSObject.Properties[$Name]
    if ($property) {
        return $property.Value
    }
    $null
}

Function New-HrwCheckResult {
    param(
        [Parameter(Mandatory)][string]$Id,
        [Parameter(Mandatory)][ValidateSet('ok', 'warn', 'fail')][string]$Status,
        [Parameter(Mandatory)][string]$Summary,
        [string]$Remediation = '',
        [string]$Target,
        [System.Collections.IDictionary]$Details
    )
    $item = [ordered]@{ id = $Id; status = $Status; summary = $Summary; remediation = '' }
    if ($Status -ne 'ok') {
        $item.remediation = $Remediation
    }
    if ($Target) {
        $item.target = $Target
    }
    if ($Details -and $Details.Count -gt 0) {
        $item.details = $Details
    }
    $item
}

Function Select-HrwCheck {
    param([string[]]$Checks, [string[]]$SkipChecks)
    # Returns the ids one by one: callers collect them with @().
    $wanted = if ($Checks -and $Checks.Count -gt 0) { $Checks } else { $script:HrwCheckIds }
    $script:HrwCheckIds | Where-Object { ($wanted -contains $_) -and -not ($SkipChecks -contains $_) }
}

Function Get-HrwReportLine {
    # One readable line per result, as _host_checks.report_line builds it.
    param([Parameter(Mandatory)]$Item)
    $target = if ($Item.Contains('target') -and $Item.target) { ' ({0})' -f $Item.target } else { '' }
    $line = '{0} {1}{2}: {3}' -f $Item.status.ToUpperInvariant(), $Item.id, $target, $Item.summary
    if ($Item.remediation) {
        $line += ' Fix: {0}' -f $Item.remediation
    }
    $line
}

Function Get-HrwReport {
    # The headline, then the results that are not ok, fail before warn, as _host_checks.report builds it.
    param([object[]]$Results, $Summary)
    $lines = [System.Collections.Generic.List[string]]@()
    $lines.Add(('{0}: {1} ok, {2} warn, {3} fail' -f $Summary.status.ToUpperInvariant(), $Summary.ok, $Summary.warn, $Summary.fail))
    foreach ($status in @('fail', 'warn')) {
        foreach ($r in @($Results | Where-Object { $_.status -eq $status })) {
            $lines.Add((Get-HrwReportLine -Item $r))
        }
    }
    , $lines.ToArray()
}

Function Get-HrwSummary {
    param([object[]]$Results)
    $summary = [ordered]@{ ok = 0; warn = 0; fail = 0; total = 0; status = 'ok' }
    foreach ($r in $Results) {
        $summary[$r.status] += 1
        $summary.total += 1
        if ($script:HrwRank[$r.status] -gt $script:HrwRank[$summary.status]) {
            $summary.status = $r.status
        }
    }
    $summary
}

Function Get-HrwFailing {
    param([object[]]$Results, [string]$FailOn)
    # Returns the results one by one: callers collect them with @().
    if ($FailOn -eq 'never') {
        return
    }
    $floor = if ($FailOn -eq 'fail') { 2 } else { 1 }
    $Results | Where-Object { $script:HrwRank[$_.status] -ge $floor }
}

Function ConvertTo-HrwRedactedUrl {
    param([string]$Value)
    if (-not $Value) {
        return $Value
    }
    $Value -replace '(?<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@', '${scheme}***@'
}

Function ConvertTo-HrwVersion {
    # '1.1.11' / 'PowerShell 7.4.2' -> [int[]]; empty array when there is no number.
    param([string]$Text)
    if ($Text -match '(\d+(?:\.\d+)*)') {
        return , [int[]]($Matches[1].Split('.') | ForEach-Object { [int]$_ })
    }
    , [int[]]@()
}

Function Compare-HrwVersionArray {
    param([int[]]$A, [int[]]$B)
    $n = [Math]::Max($A.Count, $B.Count)
    for ($i = 0; $i -lt $n; $i++) {
        $x = if ($i -lt $A.Count) { $A[$i] } else { 0 }
        $y = if ($i -lt $B.Count) { $B[$i] } else { 0 }
        if ($x -lt $y) { return -1 }
        if ($x -gt $y) { return 1 }
    }
    0
}

Function Find-HrwIssuerMatch {
    param([string[]]$Names, [string[]]$ExpectedIssuers)
    foreach ($name in $Names) {
        foreach ($expected in $ExpectedIssuers) {
            if ($expected -and $name -and $name.ToLowerInvariant().Contains($expected.ToLowerInvariant())) {
                return $name
            }
        }
    }
    $null
}

# ------------------------------------------------------------------------------------------------ decisions (mirror _host_checks.py)

Function Test-HrwCpuCore {
    param($Cores, [int]$Minimum = 2)
    if ($null -eq $Cores) {
        return New-HrwCheckResult -Id cpu_cores -Status warn -Summary 'Could not count the CPU cores.' -Remediation 'Check the processor count by hand.'
    }
    if ($Cores -ge $Minimum) {
        return New-HrwCheckResult -Id cpu_cores -Status ok -Summary "$Cores CPU cores (minimum $Minimum)."
    }
    New-HrwCheckResult -Id cpu_cores -Status fail -Summary "$Cores CPU core(s), below the documented minimum of $Minimum." `
        -Remediation "Give the machine at least $Minimum cores (Hybrid Runbook Worker prerequisites)."
}

Function Test-HrwMemory {
    param($TotalMb, [int]$MinimumMb = 4096)
    if ($null -eq $TotalMb) {
        return New-HrwCheckResult -Id memory -Status warn -Summary 'Could not read the memory size.' -Remediation 'Check the memory size by hand.'
    }
    if ($TotalMb -ge $MinimumMb) {
        return New-HrwCheckResult -Id memory -Status ok -Summary "$TotalMb MB of memory (minimum $MinimumMb MB)."
    }
    if ($TotalMb -ge $MinimumMb * 0.9) {
        return New-HrwCheckResult -Id memory -Status warn -Summary "$TotalMb MB of memory, just below the $MinimumMb MB minimum (the kernel reserves some)." `
            -Remediation "Confirm the machine has at least $MinimumMb MB of RAM."
    }
    New-HrwCheckResult -Id memory -Status fail -Summary "$TotalMb MB of memory, below the documented minimum of $MinimumMb MB." `
        -Remediation "Give the machine at least $MinimumMb MB of RAM."
}

Function Test-HrwDiskSpace {
    param([string]$Path, $FreeMb, [int]$MinimumMb = 1024)
    if ($null -eq $FreeMb) {
        return New-HrwCheckResult -Id disk_space -Status warn -Summary "Could not read the free space of $Path." -Remediation 'Check the free space by hand.' -Target $Path
    }
    if ($FreeMb -lt $MinimumMb) {
        return New-HrwCheckResult -Id disk_space -Status fail -Summary "$FreeMb MB free on $Path, below $MinimumMb MB." `
            -Remediation "Free disk space on ${Path}: the extension, runtimes, job sandboxes and logs live there." -Target $Path
    }
    if ($FreeMb -lt 2 * $MinimumMb) {
        return New-HrwCheckResult -Id disk_space -Status warn -Summary "$FreeMb MB free on $Path, less than twice the $MinimumMb MB minimum." `
            -Remediation "Free disk space on $Path before logs and modules fill it." -Target $Path
    }
    New-HrwCheckResult -Id disk_space -Status ok -Summary "$FreeMb MB free on $Path." -Target $Path
}

Function Test-HrwOsSupported {
    # Windows Server 2012 (6.2) and later, Windows 10/11; x64 only.
    param([string]$Caption, [string]$Version, [string]$Architecture, [int]$ProductType)
    if ($Architecture -and $Architecture -notmatch '64') {
        return New-HrwCheckResult -Id os_supported -Status fail -Summary "$Caption on ${Architecture}: the worker needs x64." `
            -Remediation 'Use an x64 machine; the Hybrid Worker extension is published for x64 only.'
    }
    $v = ConvertTo-HrwVersion -Text $Version
    if ($v.Count -eq 0) {
        return New-HrwCheckResult -Id os_supported -Status warn -Summary 'Could not read the Windows version.' -Remediation 'Check the OS version by hand.'
    }
    if ((Compare-HrwVersionArray -A $v -B @(6, 2)) -lt 0) {
        return New-HrwCheckResult -Id os_supported -Status warn -Summary "$Caption ($Version) is older than Windows Server 2012." `
            -Remediation 'Use Windows Server 2012 or later.'
    }
    if ($ProductType -eq 1 -and $Caption -notmatch 'Windows 1[01]') {
        return New-HrwCheckResult -Id os_supported -Status warn -Summary "$Caption ($Version) is not in the documented list." `
            -Remediation 'Check the current supported OS list of extension-based Hybrid Runbook Workers.'
    }
    New-HrwCheckResult -Id os_supported -Status ok -Summary "$Caption ($Version, $Architecture) is supported."
}

Function Test-HrwDns {
    param([string]$HostName, [string[]]$Addresses, [string]$ErrorText)
    if ($ErrorText -or -not $Addresses) {
        $why = if ($ErrorText) { $ErrorText } else { 'no address' }
        return New-HrwCheckResult -Id dns -Status fail -Summary "Cannot resolve ${HostName}: $why" -Target $HostName `
            -Remediation "Fix DNS so $HostName resolves (with Private Link: the private DNS zone privatelink.azure-automation.net)."
    }
    New-HrwCheckResult -Id dns -Status ok -Summary "$HostName resolves to $($Addresses -join ', ')." -Target $HostName
}

Function Test-HrwTcpConnect {
    # $Via: the proxy URL without credentials when the connection goes through a CONNECT tunnel.
    param([string]$HostName, [int]$Port, [string]$ErrorText, $ElapsedMs, [bool]$ProxyConfigured, [string]$Via)
    $target = "${HostName}:$Port"
    $route = if ($Via) { " through proxy $Via" } else { '' }
    if ($ErrorText) {
        if ($Via) {
            return New-HrwCheckResult -Id tcp_connect -Status fail -Summary "Cannot open TCP $target${route}: $ErrorText." -Target $target `
                -Remediation "Check the proxy URL and credentials, and that the proxy allows CONNECT to *.azure-automation.net:$Port."
        }
        $hint = ''
        if ($ProxyConfigured) {
            $hint = ' A proxy is configured on this host: the worker uses the extension proxy settings; pass proxy_url to test through it.'
        }
        return New-HrwCheckResult -Id tcp_connect -Status fail -Summary "Cannot open TCP ${target}: $ErrorText.$hint" -Target $target `
            -Remediation "Allow outbound TCP $Port to *.azure-automation.net (service tag GuestAndHybridManagement) in host and network firewalls."
    }
    $timing = if ($null -ne $ElapsedMs) { " in $ElapsedMs ms" } else { '' }
    New-HrwCheckResult -Id tcp_connect -Status ok -Summary "TCP $target open$route$timing." -Target $target
}

Function Test-HrwTls {
    # $Facts: handshake_error, verified, verify_code (OpenSSL numbering: 19/20/21/2/18 untrusted chain, 62 name mismatch),
    # verify_message, leaf_issuer, names.
    param([string]$HostName, [int]$Port, [System.Collections.IDictionary]$Facts, [string[]]$ExpectedIssuers)
    $target = "${HostName}:$Port"
    if ($Facts.handshake_error) {
        return New-HrwCheckResult -Id tls -Status fail -Summary "TLS handshake with $target failed: $($Facts.handshake_error)" -Target $target `
            -Remediation 'Check that nothing between the host and Azure blocks or downgrades TLS 1.2; the worker needs TLS 1.2.'
    }
    $issuer = if ($Facts.leaf_issuer) { $Facts.leaf_issuer } else { 'an unknown issuer' }
    $matched = Find-HrwIssuerMatch -Names @($Facts.names) -ExpectedIssuers $ExpectedIssuers
    $details = [ordered]@{ issuer = $issuer; verified = [bool]$Facts.verified }
    if ($Facts.verified) {
        if ($matched) {
            return New-HrwCheckResult -Id tls -Status ok -Summary "Certificate of $target validates and chains to $matched." -Target $target -Details $details
        }
        return New-HrwCheckResult -Id tls -Status warn -Target $target -Details $details `
            -Summary "TLS interception: the certificate of $target validates against the system store but is issued by $issuer, not by an expected issuer." `
            -Remediation 'A TLS-intercepting proxy re-signs traffic to Azure. Exempt *.azure-automation.net from TLS inspection, or add its issuer to expected_issuers if this is intended.'
    }
    $code = $Facts.verify_code
    $message = if ($Facts.verify_message) { $Facts.verify_message } else { 'certificate verify failed' }
    $details.verify_code = $code
    $details.verify_message = $message
    if ($matched) {
        return New-HrwCheckResult -Id tls -Status fail -Target $target -Details $details `
            -Summary "Certificate of $target from $issuer does not validate ($message); it does not look like interception." `
            -Remediation 'Update the trusted root certificates (Windows Update / certutil -generateSSTFromWU) so they contain the DigiCert/Microsoft roots, and check the clock.'
    }
    if (@(2, 18, 19, 20, 21, 62) -contains $code) {
        return New-HrwCheckResult -Id tls -Status fail -Target $target -Details $details `
            -Summary "Certificate of $target does not validate ($message) and is issued by $issuer, not by an expected issuer: this looks like a TLS-intercepting proxy." `
            -Remediation 'Exempt *.azure-automation.net from TLS inspection, or add the proxy CA to the machine trust store and to expected_issuers.'
    }
    New-HrwCheckResult -Id tls -Status fail -Target $target -Details $details -Summary "Certificate of $target does not validate ($message); issuer $issuer." `
        -Remediation 'Check the clock and the certificate chain the endpoint presents.'
}

Function Test-HrwClockSkew {
    param([string]$HostName, $SkewSeconds, [string]$ErrorText)
    if ($null -eq $SkewSeconds) {
        $why = if ($ErrorText) { ": $ErrorText" } else { '' }
        return New-HrwCheckResult -Id clock_skew -Status warn -Summary "No HTTP Date from $HostName to compare the clock with$why." -Target $HostName `
            -Remediation 'Check time synchronisation (w32tm /query /status) by hand.'
    }
    $size = [Math]::Abs($SkewSeconds)
    $text = 'Clock differs from {0} by {1:+0;-0;+0} s.' -f $HostName, $SkewSeconds
    if ($size -le 60) {
        return New-HrwCheckResult -Id clock_skew -Status ok -Summary $text -Target $HostName
    }
    $remedy = 'Synchronise the clock (w32tm /resync); token validation fails beyond a few minutes.'
    if ($size -le 300) {
        return New-HrwCheckResult -Id clock_skew -Status warn -Summary $text -Remediation $remedy -Target $HostName
    }
    New-HrwCheckResult -Id clock_skew -Status fail -Summary $text -Remediation $remedy -Target $HostName
}

Function Test-HrwProxy {
    # $ProcessEnv / $MachineEnv: dictionaries of variables; only *_proxy keys are used.
    # $ExtensionHasProxy: the extension settings carry ProxySettings ($true/$false), $null when no settings were found.
    param([System.Collections.IDictionary]$ProcessEnv, [System.Collections.IDictionary]$MachineEnv, $ExtensionHasProxy)
    $pick = {
        param($values)
        $out = [ordered]@{}
        foreach ($k in @($values.Keys)) {
            $lower = ([string]$k).ToLowerInvariant()
            if (@('http_proxy', 'https_proxy', 'no_proxy') -contains $lower -and $values[$k]) {
                $out[$lower] = [string]$values[$k]
            }
        }
        $out
    }
    $envProxy = & $pick $ProcessEnv
    $machineProxy = & $pick $MachineEnv
    $shown = @()
    foreach ($pair in @(@('environment', $envProxy), @('machine environment', $machineProxy))) {
        foreach ($k in @($pair[1].Keys | Sort-Object)) {
            $shown += "$($pair[0]) $k=$(ConvertTo-HrwRedactedUrl -Value $pair[1][$k])"
        }
    }
    $details = [ordered]@{ environment = [ordered]@{}; machine_environment = [ordered]@{}; extension_proxy_settings = $ExtensionHasProxy }
    foreach ($k in $envProxy.Keys) { $details.environment[$k] = ConvertTo-HrwRedactedUrl -Value $envProxy[$k] }
    foreach ($k in $machineProxy.Keys) { $details.machine_environment[$k] = ConvertTo-HrwRedactedUrl -Value $machineProxy[$k] }
    $configured = $envProxy.Contains('https_proxy') -or $envProxy.Contains('http_proxy') -or $machineProxy.Contains('https_proxy') -or $machineProxy.Contains('http_proxy')
    $extension = if ($ExtensionHasProxy -eq $true) { ' The extension has ProxySettings.' } else { '' }
    if (-not $configured) {
        return New-HrwCheckResult -Id proxy -Status ok -Summary "No proxy configured on this host.$extension" -Details $details
    }
    if ($ExtensionHasProxy -eq $false) {
        return New-HrwCheckResult -Id proxy -Status warn -Details $details `
            -Summary "A proxy is configured ($($shown -join '; ')) but the extension has no proxy settings." `
            -Remediation 'If the host needs the proxy to reach Azure, set settings ProxySettings {ProxyServer, UserName} and protectedSettings ProxyPassword on the HybridWorkerExtension.'
    }
    if ($envProxy.Contains('https_proxy') -and $machineProxy.Contains('https_proxy') -and $envProxy.https_proxy -ne $machineProxy.https_proxy) {
        return New-HrwCheckResult -Id proxy -Status warn -Details $details -Summary "https_proxy differs between the environment and the machine environment ($($shown -join '; '))." `
            -Remediation 'Use one proxy setting; services read the machine environment.'
    }
    New-HrwCheckResult -Id proxy -Status ok -Summary "Proxy configured: $($shown -join '; ').$extension" -Details $details
}

Function Test-HrwWorkerService {
    # $Facts: manager (bool), active ('active'|'inactive'|...), enabled ('enabled'|'disabled'|...).
    param([string]$Name, [System.Collections.IDictionary]$Facts)
    if (-not $Facts.manager) {
        return New-HrwCheckResult -Id worker_service -Status warn -Summary "No service manager found to query $Name." -Remediation 'Check the worker service by hand.' -Target $Name
    }
    $active = if ($Facts.active) { $Facts.active } else { 'unknown' }
    $enabled = if ($Facts.enabled) { $Facts.enabled } else { 'unknown' }
    if ($active -eq 'active') {
        if ($enabled -eq 'enabled') {
            return New-HrwCheckResult -Id worker_service -Status ok -Summary "Service $Name is $active and $enabled." -Target $Name
        }
        return New-HrwCheckResult -Id worker_service -Status warn -Summary "Service $Name is active but ${enabled}: it will not start after a reboot." `
            -Remediation "Set-Service -Name $Name -StartupType Automatic (or re-enable the extension)." -Target $Name
    }
    New-HrwCheckResult -Id worker_service -Status fail -Summary "Service $Name is $active ($enabled)." -Target $Name `
        -Remediation "Start it (Start-Service $Name); if it is missing, (re)install the HybridWorkerExtension."
}

Function Test-HrwExtensionInstall {
    param([string[]]$Versions)
    if (-not $Versions -or $Versions.Count -eq 0) {
        return New-HrwCheckResult -Id extension_install -Status fail -Summary 'The Hybrid Worker extension is not installed on this host.' `
            -Remediation 'Install the HybridWorkerExtension (hrw_register with state=present).'
    }
    $ordered = @($Versions | Sort-Object -Property @{ Expression = { $v = ConvertTo-HrwVersion -Text $_; ($v | ForEach-Object { '{0:D6}' -f $_ }) -join '.' } })
    $newest = $ordered[-1]
    $details = [ordered]@{ versions = $ordered }
    if ((Compare-HrwVersionArray -A (ConvertTo-HrwVersion -Text $newest) -B @(1, 1, 11)) -lt 0) {
        return New-HrwCheckResult -Id extension_install -Status warn -Details $details `
            -Summary "Extension $newest installed; PowerShell 7.2 and Python 3.10 runbooks need 1.1.11 or later." `
            -Remediation 'Set autoUpgradeMinorVersion/enableAutomaticUpgrade on the extension or upgrade it.'
    }
    if ($ordered.Count -gt 1) {
        return New-HrwCheckResult -Id extension_install -Status ok -Details $details `
            -Summary "Extension $newest installed (older directories kept: $(($ordered[0..($ordered.Count - 2)]) -join ', '))."
    }
    New-HrwCheckResult -Id extension_install -Status ok -Summary "Extension $newest installed." -Details $details
}

Function ConvertTo-HrwNormalizedUrl {
    param([string]$Url)
    if (-not $Url) {
        return ''
    }
    $Url.Trim().TrimEnd('/').ToLowerInvariant()
}

Function Test-HrwExtensionSetting {
    param([bool]$Found, [string]$SettingsUrl, [string]$ExpectedUrl)
    if (-not $Found) {
        return New-HrwCheckResult -Id extension_settings -Status fail -Summary 'No extension settings file found.' `
            -Remediation 'Reinstall the HybridWorkerExtension; its settings carry AutomationAccountURL.'
    }
    if (-not $SettingsUrl) {
        return New-HrwCheckResult -Id extension_settings -Status fail -Summary 'The extension settings have no AutomationAccountURL.' `
            -Remediation 'Set settings {"AutomationAccountURL": "<automationHybridServiceUrl of the account>"} on the extension.'
    }
    if (-not (ConvertTo-HrwNormalizedUrl -Url $SettingsUrl).StartsWith('https://')) {
        return New-HrwCheckResult -Id extension_settings -Status fail -Summary "AutomationAccountURL $SettingsUrl is not an https URL." `
            -Remediation "Use the account's properties.automationHybridServiceUrl unchanged."
    }
    if ($ExpectedUrl -and (ConvertTo-HrwNormalizedUrl -Url $ExpectedUrl) -ne (ConvertTo-HrwNormalizedUrl -Url $SettingsUrl)) {
        return New-HrwCheckResult -Id extension_settings -Status fail -Summary "AutomationAccountURL is $SettingsUrl, expected $ExpectedUrl." `
            -Remediation 'The worker reports to another account: update the extension settings (hrw_register).'
    }
    New-HrwCheckResult -Id extension_settings -Status ok -Summary "AutomationAccountURL is $SettingsUrl."
}

Function Test-HrwExtensionStatus {
    param([string]$Status, [string]$Message)
    $text = if ($Message) { " ($Message)" } else { '' }
    if (-not $Status) {
        return New-HrwCheckResult -Id extension_status -Status warn -Summary 'No extension status file found.' `
            -Remediation 'Wait for the extension to report, or look at the extension logs.'
    }
    $s = $Status.ToLowerInvariant()
    if ($s -eq 'success') {
        return New-HrwCheckResult -Id extension_status -Status ok -Summary "Extension reports success$text."
    }
    if (@('transitioning', 'warning') -contains $s) {
        return New-HrwCheckResult -Id extension_status -Status warn -Summary "Extension reports $s$text." `
            -Remediation 'Wait a few minutes and run the check again; read the extension log if it stays so.'
    }
    New-HrwCheckResult -Id extension_status -Status fail -Summary "Extension reports $s$text." `
        -Remediation 'Read the extension log folder and the troubleshooter output, then reinstall the extension.'
}

Function Test-HrwLogFolder {
    param([System.Collections.IDictionary]$Existing)
    $missing = @($Existing.Keys | Where-Object { -not $Existing[$_] } | Sort-Object)
    if ($missing.Count -eq 0) {
        return New-HrwCheckResult -Id log_folders -Status ok -Summary "Log folders present: $((@($Existing.Keys) | Sort-Object) -join ', ')."
    }
    New-HrwCheckResult -Id log_folders -Status warn -Summary "Missing log folder(s): $($missing -join ', ')." -Details ([ordered]@{ missing = $missing }) `
        -Remediation 'They appear when the extension installs and the worker runs; reinstall the extension if they stay missing.'
}

Function Test-HrwRuntimePowerShell {
    param([string]$Path, [int[]]$Version)
    if (-not $Path) {
        return New-HrwCheckResult -Id runtime_powershell -Status warn -Summary 'pwsh not found: PowerShell 7 runbooks cannot run on this worker.' `
            -Remediation 'Install PowerShell 7 if the worker runs PowerShell 7 runbooks.'
    }
    if (-not $Version -or $Version.Count -eq 0) {
        return New-HrwCheckResult -Id runtime_powershell -Status warn -Summary "pwsh at $Path did not report its version." -Remediation 'Run pwsh --version by hand.'
    }
    New-HrwCheckResult -Id runtime_powershell -Status ok -Summary "PowerShell $($Version -join '.') at $Path."
}

Function Test-HrwRuntimePython {
    # On Windows Python is optional (Python runbooks only), so a missing interpreter is a warning.
    param([string]$Path, [int[]]$Version)
    if (-not $Path) {
        return New-HrwCheckResult -Id runtime_python -Status warn -Summary 'python not found: Python runbooks cannot run on this worker.' `
            -Remediation 'Install Python 3 if the worker runs Python runbooks.'
    }
    if (-not $Version -or $Version.Count -eq 0 -or $Version[0] -lt 3) {
        return New-HrwCheckResult -Id runtime_python -Status warn -Summary "Python at $Path reports version $($Version -join '.')." -Remediation 'Install Python 3.'
    }
    New-HrwCheckResult -Id runtime_python -Status ok -Summary "Python $($Version -join '.') at $Path."
}

Function Test-HrwRuntimePath {
    # $Values: variables; $Executable: path -> bool.
    param([System.Collections.IDictionary]$Values, [System.Collections.IDictionary]$Executable)
    $set = [ordered]@{}
    foreach ($k in $script:HrwRuntimePathVariables) {
        if ($Values.Contains($k) -and $Values[$k]) {
            $set[$k] = [string]$Values[$k]
        }
    }
    $broken = @($set.Keys | Where-Object { -not $Executable[$set[$_]] } | Sort-Object)
    if ($broken.Count -gt 0) {
        return New-HrwCheckResult -Id runtime_paths -Status fail -Details $set `
            -Summary "$($broken -join ', ') point(s) to a missing or non-executable file: $(($broken | ForEach-Object { $set[$_] }) -join ', ')." `
            -Remediation 'Fix the machine environment variable (hrw_modules runtime_paths) and restart the worker.'
    }
    if ($set.Count -eq 0) {
        return New-HrwCheckResult -Id runtime_paths -Status warn -Details $set `
            -Summary 'Neither powershell_7_2_path nor python_3_10_path is set: PowerShell 7.2 and Python 3.10 runbooks will not run here.' `
            -Remediation 'Set them as machine environment variables (hrw_modules runtime_paths) and restart the worker.'
    }
    $summary = 'Set: {0}.' -f ((@($set.Keys) | Sort-Object | ForEach-Object { "$_=$($set[$_])" }) -join ', ')
    $unset = @($script:HrwRuntimePathVariables | Where-Object { -not $set.Contains($_) })
    if ($unset.Count -gt 0) {
        $summary += " Not set: $($unset -join ', ')."
    }
    New-HrwCheckResult -Id runtime_paths -Status ok -Summary $summary -Details $set
}

Function Test-HrwV1Remnant {
    param([string[]]$Paths, [string[]]$Processes, [string[]]$Users)
    $Paths = @($Paths | Where-Object { $_ })
    $Processes = @($Processes | Where-Object { $_ })
    $Users = @($Users | Where-Object { $_ })
    if ($Paths.Count -eq 0 -and $Processes.Count -eq 0 -and $Users.Count -eq 0) {
        return New-HrwCheckResult -Id v1_remnants -Status ok -Summary 'No agent-based (V1) worker found.'
    }
    $details = [ordered]@{ paths = @($Paths | Sort-Object); processes = $Processes; users = @($Users | Sort-Object) }
    if ($Processes.Count -gt 0) {
        return New-HrwCheckResult -Id v1_remnants -Status warn -Details $details -Summary "An agent-based (V1) worker is running ($($Processes.Count) process(es))." `
            -Remediation 'After the V2 worker heartbeats, run Remove-HybridRunbookWorker and remove the Microsoft Monitoring Agent.'
    }
    New-HrwCheckResult -Id v1_remnants -Status warn -Details $details -Summary "Leftovers of an agent-based (V1) worker: $((@($Paths | Sort-Object) + @($Users | Sort-Object)) -join ', ')." `
        -Remediation 'Run Remove-HybridRunbookWorker if it is still registered, then delete HKLM:\SOFTWARE\Microsoft\HybridRunbookWorker and remove the agent.'
}

# ------------------------------------------------------------------------------------------------ probes (Windows)

Function Get-HrwDnsFact {
    param([string]$HostName)
    try {
        $addresses = @([System.Net.Dns]::GetHostAddresses($HostName) | ForEach-Object { $_.IPAddressToString } | Select-Object -Unique)
        return @{ addresses = $addresses; error = $null }
    }
    catch {
        return @{ addresses = @(); error = $_.Exception.Message }
    }
}

Function ConvertTo-HrwProxy {
    # 'http://user:pass@host:3128' -> @{ host; port; authorization (Basic credentials or $null) }; $null without a URL.
    param([string]$Url)
    if (-not $Url) {
        return $null
    }
    $uri = $null
    if (-not [Uri]::TryCreate($Url.Trim(), [UriKind]::Absolute, [ref]$uri) -or $uri.Scheme -ne 'http' -or -not $uri.Host) {
        throw 'proxy_url must look like http://[user:password@]host:port'
    }
    $authorization = $null
    if ($uri.UserInfo) {
        $user, $password = $uri.UserInfo.Split(@(':'), 2)
        $pair = '{0}:{1}' -f [Uri]::UnescapeDataString($user), [Uri]::UnescapeDataString([string]$password)
        $authorization = [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($pair))
    }
    $port = if ($uri.IsDefaultPort) { 80 } else { $uri.Port }
    @{ host = $uri.Host; port = $port; authorization = $authorization }
}

Function Open-HrwConnection {
    # A connected TcpClient to HostName:Port, directly or through an HTTP proxy tunnel (CONNECT). Throws on failure.
    param([string]$HostName, [int]$Port, [int]$TimeoutSeconds, [System.Collections.IDictionary]$Proxy)
    $client = New-Object System.Net.Sockets.TcpClient
    try {
        $connectHost = if ($Proxy) { $Proxy.host } else { $HostName }
        $connectPort = if ($Proxy) { $Proxy.port } else { $Port }
        $task = $client.ConnectAsync($connectHost, $connectPort)
        if (-not $task.Wait($TimeoutSeconds * 1000)) {
            throw 'timed out'
        }
        $client.ReceiveTimeout = $TimeoutSeconds * 1000
        $client.SendTimeout = $TimeoutSeconds * 1000
        if ($Proxy) {
            $stream = $client.GetStream()
            $request = "CONNECT ${HostName}:$Port HTTP/1.1`r`nHost: ${HostName}:$Port`r`n"
            if ($Proxy.authorization) {
                $request += "Proxy-Authorization: Basic $($Proxy.authorization)`r`n"
            }
            $bytes = [System.Text.Encoding]::ASCII.GetBytes($request + "`r`n")
            $stream.Write($bytes, 0, $bytes.Length)
            # Byte by byte: nothing of the tunnelled stream may be consumed.
            $header = New-Object System.Text.StringBuilder
            while (-not $header.ToString().EndsWith("`r`n`r`n")) {
                $next = $stream.ReadByte()
                if ($next -lt 0 -or $header.Length -gt 16384) {
                    throw 'the proxy closed the connection during CONNECT'
                }
                $null = $header.Append([char]$next)
            }
            $status = $header.ToString().Split([char[]]"`r`n")[0]
            $fields = $status.Split(' ')
            if ($fields.Count -lt 2 -or $fields[1] -ne '200') {
                throw "the proxy answered `"$status`" to CONNECT ${HostName}:$Port"
            }
        }
        $client
    }
    catch {
        $client.Dispose()
        throw
    }
}

Function Get-HrwInnerMessage {
    param([System.Exception]$Exception)
    $inner = $Exception
    while ($inner.InnerException) {
        $inner = $inner.InnerException
    }
    $inner.Message
}

Function Get-HrwTcpFact {
    param([string]$HostName, [int]$Port, [int]$TimeoutSeconds, [System.Collections.IDictionary]$Proxy)
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    try {
        $client = Open-HrwConnection -HostName $HostName -Port $Port -TimeoutSeconds $TimeoutSeconds -Proxy $Proxy
        $client.Dispose()
        return @{ elapsed_ms = [int]$watch.ElapsedMilliseconds; error = $null }
    }
    catch {
        return @{ elapsed_ms = $null; error = (Get-HrwInnerMessage -Exception $_.Exception) }
    }
}

Function Get-HrwNamePart {
    # CN and O values of an X.500 distinguished name, one by one: callers collect them with @().
    param([string]$DistinguishedName)
    foreach ($attr in @('CN', 'O')) {
        if ($DistinguishedName -match "(?:^|,\s*)$attr=(`"[^`"]*`"|[^,]*)") {
            $Matches[1].Trim('"')
        }
    }
}

Function Get-HrwTlsFact {
    # Handshake once, validating with the machine store and recording what validation said, then HEAD / for the Date header.
    param([string]$HostName, [int]$Port, [int]$TimeoutSeconds, [bool]$WantDate, [System.Collections.IDictionary]$Proxy)
    $facts = @{ verified = $false; handshake_error = $null; verify_code = $null; verify_message = $null; leaf_issuer = $null
        names = @(); server_time = $null; local_time = $null; date_error = $null
    }
    $state = @{ errors = [System.Net.Security.SslPolicyErrors]::None; chain = @(); status = @() }
    # Accept every certificate so the Date header can still be read; the decision is taken from what validation reported.
    $validate = {
        param($source, $certificate, $chain, $policyErrors)
        $state.errors = $policyErrors
        if ($chain) {
            $state.chain = @($chain.ChainElements | ForEach-Object { $_.Certificate })
            $state.status = @($chain.ChainStatus | ForEach-Object { $_.Status.ToString() })
        }
        $true
    }.GetNewClosure()
    $callback = [System.Net.Security.RemoteCertificateValidationCallback]$validate
    try {
        $client = Open-HrwConnection -HostName $HostName -Port $Port -TimeoutSeconds $TimeoutSeconds -Proxy $Proxy
    }
    catch {
        $facts.handshake_error = 'cannot connect: {0}' -f (Get-HrwInnerMessage -Exception $_.Exception)
        return $facts
    }
    try {
        $stream = New-Object System.Net.Security.SslStream($client.GetStream(), $false, $callback)
        $stream.AuthenticateAsClient($HostName, $null, [System.Security.Authentication.SslProtocols]::Tls12, $false)
        $leaf = New-Object System.Security.Cryptography.X509Certificates.X509Certificate2($stream.RemoteCertificate)
        $facts.leaf_issuer = $leaf.Issuer
        $names = @(Get-HrwNamePart -DistinguishedName $leaf.Issuer)
        foreach ($cert in @($state.chain | Select-Object -Skip 1)) {
            $names += @(Get-HrwNamePart -DistinguishedName $cert.Subject)
            $names += @(Get-HrwNamePart -DistinguishedName $cert.Issuer)
        }
        $facts.names = $names
        $errors = $state.errors
        if ($errors -eq [System.Net.Security.SslPolicyErrors]::None) {
            $facts.verified = $true
        }
        elseif ($errors -band [System.Net.Security.SslPolicyErrors]::RemoteCertificateNameMismatch) {
            $facts.verify_code = 62
            $facts.verify_message = 'Hostname mismatch'
        }
        elseif ($state.status -contains 'UntrustedRoot') {
            $facts.verify_code = 19
            $facts.verify_message = 'untrusted root certificate in the chain'
        }
        elseif ($state.status -contains 'PartialChain') {
            $facts.verify_code = 20
            $facts.verify_message = 'unable to get local issuer certificate'
        }
        elseif ($state.status -contains 'NotTimeValid') {
            $facts.verify_code = 10
            $facts.verify_message = 'certificate has expired or is not yet valid'
        }
        else {
            $facts.verify_code = -1
            $facts.verify_message = "certificate verify failed ($errors; $($state.status -join ', '))"
        }
        if ($WantDate) {
            try {
                $request = [System.Text.Encoding]::ASCII.GetBytes("HEAD / HTTP/1.1`r`nHost: $HostName`r`nUser-Agent: hrw_health`r`nConnection: close`r`n`r`n")
                $stream.Write($request, 0, $request.Length)
                $reader = New-Object System.IO.StreamReader($stream, [System.Text.Encoding]::GetEncoding('iso-8859-1'))
                $line = $reader.ReadLine()
                while ($null -ne $line -and $line -ne '') {
                    if ($line -match '^(?i)date:\s*(.+)$') {
                        $facts.server_time = [DateTimeOffset]::Parse($Matches[1].Trim(), [Globalization.CultureInfo]::InvariantCulture).ToUnixTimeSeconds()
                        $facts.local_time = [DateTimeOffset]::UtcNow.ToUnixTimeSeconds()
                    }
                    $line = $reader.ReadLine()
                }
                if ($null -eq $facts.server_time) {
                    $facts.date_error = 'no Date header in the response'
                }
            }
            catch {
                $facts.date_error = $_.Exception.Message
            }
        }
    }
    catch {
        $facts.handshake_error = Get-HrwInnerMessage -Exception $_.Exception
    }
    finally {
        $client.Dispose()
    }
    $facts
}

Function Get-HrwExtensionVersion {
    # Version directory names, one by one: callers collect them with @().
    $root = Join-Path $script:HrwPluginRoot $script:HrwExtensionName
    if (Test-Path -LiteralPath $root) {
        Get-ChildItem -LiteralPath $root -Directory | ForEach-Object { $_.Name }
    }
}

Function Get-HrwNewestNumberedFile {
    param([string]$Path, [string]$Filter)
    if (-not (Test-Path -LiteralPath $Path)) {
        return $null
    }
    Get-ChildItem -LiteralPath $Path -Filter $Filter -File | Sort-Object -Property @(
        @{ Expression = { $stem = $_.Name.Split('.')[0]; if ($stem -match '^\d+$') { [int]$stem } else { -1 } } },
        @{ Expression = { $_.LastWriteTimeUtc } }
    ) | Select-Object -Last 1
}

Function Get-HrwExtensionState {
    # Settings and status of the newest extension version directory.
    $state = @{ versions = @(Get-HrwExtensionVersion); settings_found = $false; url = $null; has_proxy = $null; settings_error = $null
        status = $null; message = $null
    }
    if ($state.versions.Count -eq 0) {
        return $state
    }
    $newest = $state.versions | Sort-Object -Property @{ Expression = { ((ConvertTo-HrwVersion -Text $_) | ForEach-Object { '{0:D6}' -f $_ }) -join '.' } } | Select-Object -Last 1
    $dir = Join-Path (Join-Path $script:HrwPluginRoot $script:HrwExtensionName) $newest
    $settings = Get-HrwNewestNumberedFile -Path (Join-Path $dir 'RuntimeSettings') -Filter '*.settings'
    if ($settings) {
        $state.settings_found = $true
        try {
            $data = Get-Content -LiteralPath $settings.FullName -Raw | ConvertFrom-Json
            $handler = Get-HrwProperty -InputObject @(Get-HrwProperty -InputObject $data -Name runtimeSettings)[0] -Name handlerSettings
            $public = Get-HrwProperty -InputObject $handler -Name publicSettings
            $state.url = Get-HrwProperty -InputObject $public -Name AutomationAccountURL
            $state.has_proxy = $null -ne (Get-HrwProperty -InputObject $public -Name ProxySettings)
        }
        catch {
            $state.settings_error = "unreadable settings file $($settings.FullName): $($_.Exception.Message)"
        }
    }
    $status = Get-HrwNewestNumberedFile -Path (Join-Path $dir 'Status') -Filter '*.status'
    if ($status) {
        try {
            # Windows PowerShell emits a JSON array as one object, PowerShell 7 enumerates it.
            $parsed = Get-Content -LiteralPath $status.FullName -Raw | ConvertFrom-Json
            $data = if ($parsed -is [array]) { $parsed[0] } else { $parsed }
            $inner = Get-HrwProperty -InputObject $data -Name status
            $state.status = [string](Get-HrwProperty -InputObject $inner -Name status)
            if (-not $state.status) {
                $state.status = 'unknown'
            }
            $state.message = Get-HrwProperty -InputObject (Get-HrwProperty -InputObject $inner -Name formattedMessage) -Name message
        }
        catch {
            $state.status = 'error'
            $state.message = "unreadable status file $($status.FullName): $($_.Exception.Message)"
        }
    }
    $state
}

Function Get-HrwServiceFact {
    param([string]$Name)
    $service = Get-CimInstance -ClassName Win32_Service -Filter "Name='$Name'" -ErrorAction SilentlyContinue
    if (-not $service) {
        return @{ manager = $true; active = 'missing'; enabled = 'missing' }
    }
    $active = if ($service.State -eq 'Running') { 'active' } else { ([string]$service.State).ToLowerInvariant() }
    $enabled = if ($service.StartMode -eq 'Auto') { 'enabled' } else { ([string]$service.StartMode).ToLowerInvariant() }
    @{ manager = $true; active = $active; enabled = $enabled }
}

Function Get-HrwCommandVersion {
    param([string]$Path, [string[]]$Arguments)
    try {
        $out = & $Path @Arguments 2>&1 | Out-String
        return , (ConvertTo-HrwVersion -Text $out)
    }
    catch {
        return , [int[]]@()
    }
}

# ------------------------------------------------------------------------------------------------ packages (mirror _host_packages.py)

Function ConvertTo-HrwPipName {
    param([string]$Name)
    ($Name -replace '[-_.]+', '-').ToLowerInvariant()
}

Function Test-HrwSameVersion {
    param([string]$A, [string]$B)
    if (-not $A -or -not $B) {
        return $false
    }
    $va = ConvertTo-HrwVersion -Text $A
    $vb = ConvertTo-HrwVersion -Text $B
    $suffixA = $A -replace '^[vV]?\d+(\.\d+)*', ''
    $suffixB = $B -replace '^[vV]?\d+(\.\d+)*', ''
    ((Compare-HrwVersionArray -A $va -B $vb) -eq 0) -and ($suffixA -eq $suffixB)
}

Function Get-HrwVersionFromFileName {
    param([string]$Path)
    $base = Split-Path -Leaf $Path
    if ($base -match '^([^-]+)-([^-]+)(-\d[^-]*)?-[^-]+-[^-]+-[^-]+\.whl$') {
        return $Matches[2]
    }
    if ($base -match '^(.+)-(\d[^-]*)\.(tar\.gz|zip|tar\.bz2)$') {
        return $Matches[2]
    }
    $null
}

Function New-HrwPlanItem {
    param([string]$Type, [string]$Name, [string]$Action, $Before, $After, [string]$Spec)
    $item = [ordered]@{ type = $Type; name = $Name; action = $Action; before = $Before; after = $After }
    if ($Spec) {
        $item.spec = $Spec
    }
    $item
}

Function Get-HrwPythonPlan {
    # $Requested: @(@{name; version; src}); $Installed: normalised name -> version.
    param([object[]]$Requested, [System.Collections.IDictionary]$Installed, [string]$State)
    $plan = @()
    foreach ($req in $Requested) {
        $name = $req.name
        $key = ConvertTo-HrwPipName -Name $name
        $current = if ($Installed.Contains($key)) { $Installed[$key] } else { $null }
        $wanted = $req.version
        if (-not $wanted -and $req.src) {
            $wanted = Get-HrwVersionFromFileName -Path $req.src
        }
        if ($State -eq 'absent') {
            if ($null -ne $current -and (-not $wanted -or (Test-HrwSameVersion -A $current -B $wanted))) {
                $plan += New-HrwPlanItem -Type python -Name $name -Action remove -Before $current -After $null -Spec $name
            }
            else {
                $plan += New-HrwPlanItem -Type python -Name $name -Action noop -Before $current -After $current
            }
            continue
        }
        $spec = if ($req.src) { $req.src } elseif ($wanted) { "$name==$wanted" } else { $name }
        if ($null -eq $current) {
            $after = if ($wanted) { $wanted } else { 'latest' }
            $plan += New-HrwPlanItem -Type python -Name $name -Action install -Before $null -After $after -Spec $spec
        }
        elseif (-not $wanted -or (Test-HrwSameVersion -A $current -B $wanted)) {
            $plan += New-HrwPlanItem -Type python -Name $name -Action noop -Before $current -After $current
        }
        else {
            $cmp = Compare-HrwVersionArray -A (ConvertTo-HrwVersion -Text $wanted) -B (ConvertTo-HrwVersion -Text $current)
            $action = if ($cmp -gt 0) { 'upgrade' } else { 'downgrade' }
            $plan += New-HrwPlanItem -Type python -Name $name -Action $action -Before $current -After $wanted -Spec $spec
        }
    }
    , $plan
}

Function Get-HrwPowerShellPlan {
    # $Requested: @(@{name; version}); $Installed: lower name -> @(versions).
    param([object[]]$Requested, [System.Collections.IDictionary]$Installed, [string]$State)
    $sortKey = @{ Expression = { ((ConvertTo-HrwVersion -Text $_) | ForEach-Object { '{0:D6}' -f $_ }) -join '.' } }
    $plan = @()
    foreach ($req in $Requested) {
        $name = $req.name
        $key = $name.ToLowerInvariant()
        $versions = @()
        if ($Installed.Contains($key)) {
            $versions = @($Installed[$key] | Sort-Object -Property $sortKey)
        }
        $wanted = $req.version
        $hasWanted = if ($wanted) { @($versions | Where-Object { Test-HrwSameVersion -A $_ -B $wanted }).Count -gt 0 } else { $versions.Count -gt 0 }
        if ($State -eq 'absent') {
            if ($hasWanted) {
                $after = @($versions | Where-Object { $wanted -and -not (Test-HrwSameVersion -A $_ -B $wanted) })
                $plan += New-HrwPlanItem -Type powershell -Name $name -Action remove -Before $versions -After $after
            }
            else {
                $plan += New-HrwPlanItem -Type powershell -Name $name -Action noop -Before $versions -After $versions
            }
            continue
        }
        if ($hasWanted) {
            $plan += New-HrwPlanItem -Type powershell -Name $name -Action noop -Before $versions -After $versions
        }
        elseif ($versions.Count -eq 0) {
            $after = if ($wanted) { $wanted } else { 'latest' }
            $plan += New-HrwPlanItem -Type powershell -Name $name -Action install -Before @() -After @($after)
        }
        else {
            $newer = @($versions | Where-Object { (Compare-HrwVersionArray -A (ConvertTo-HrwVersion -Text $wanted) -B (ConvertTo-HrwVersion -Text $_)) -le 0 }).Count -eq 0
            $action = if ($newer) { 'upgrade' } else { 'install' }
            $plan += New-HrwPlanItem -Type powershell -Name $name -Action $action -Before $versions -After @(@($versions) + @($wanted) | Sort-Object -Property $sortKey)
        }
    }
    , $plan
}

$exports = @(
    'Get-HrwCheckIds', 'Get-HrwDefaultExpectedIssuers', 'Get-HrwProperty', 'New-HrwCheckResult', 'Select-HrwCheck', 'Get-HrwSummary', 'Get-HrwReportLine', 'Get-HrwReport', 'Get-HrwFailing',
    'ConvertTo-HrwRedactedUrl', 'ConvertTo-HrwVersion', 'Compare-HrwVersionArray', 'Find-HrwIssuerMatch',
    'Test-HrwCpuCore', 'Test-HrwMemory', 'Test-HrwDiskSpace', 'Test-HrwOsSupported', 'Test-HrwDns', 'Test-HrwTcpConnect', 'Test-HrwTls',
    'Test-HrwClockSkew', 'Test-HrwProxy', 'Test-HrwWorkerService', 'Test-HrwExtensionInstall', 'Test-HrwExtensionSetting',
    'Test-HrwExtensionStatus', 'Test-HrwLogFolder', 'Test-HrwRuntimePowerShell', 'Test-HrwRuntimePython', 'Test-HrwRuntimePath',
    'Test-HrwV1Remnant', 'Get-HrwDnsFact', 'ConvertTo-HrwProxy', 'Open-HrwConnection', 'Get-HrwInnerMessage', 'Get-HrwTcpFact', 'Get-HrwTlsFact', 'Get-HrwExtensionState', 'Get-HrwServiceFact',
    'Get-HrwCommandVersion', 'ConvertTo-HrwPipName', 'Test-HrwSameVersion', 'Get-HrwPythonPlan', 'Get-HrwPowerShellPlan'
)
Export-ModuleMember -Function $exports
