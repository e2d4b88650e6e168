# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to the azure_automation.hybrid_worker collection: not a public API, may change without notice.
#
# The Windows host probe of hrw_health (used by hrw_host_probe.ps1): it observes and returns facts in the shape of the
# facts schema, plugins/module_utils/_host_facts.py. It holds no threshold, rule, version comparison or remediation text:
# every decision is taken on the controller by plugins/module_utils/_host_checks.py.
# Convention checked by tests/unit/plugins/module_utils/test_host_engine.py: every facts object is an [ordered]@{ } literal
# with exactly the keys of one node of the schema; plain @{ } is for free-key maps and internal state.
# Windows PowerShell 5.1 compatible.

Set-StrictMode -Version 2.0

$script:HrwExtensionRoot = 'C:\Packages\Plugins\Microsoft.Azure.Automation.HybridWorker.HybridWorkerForWindows'
$script:HrwWorkerService = 'HybridWorkerService'
$script:HrwLogFolders = @('C:\HybridWorkerExtensionLogs')
$script:HrwEventLog = 'Microsoft-SMA/Operational'
$script:HrwRuntimePathVariables = @('powershell_7_2_path', 'python_3_10_path')
$script:HrwProxyVariables = @('http_proxy', 'https_proxy', 'no_proxy')
$script:HrwV1Paths = @(
    'HKLM:\SOFTWARE\Microsoft\HybridRunbookWorker',
    'C:\Program Files\Microsoft Monitoring Agent\Agent\AzureAutomation',
    'C:\ProgramData\Microsoft\System Center\Orchestrator\7.2\SMA\Sandboxes'
)
$script:HrwV1Services = @('HealthService')
$script:HrwWinHttpKey = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Internet Settings\Connections'

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

Function ConvertTo-HrwRedactedUrl {
    # user:password@ of a URL replaced by ***@, so that no credential leaves the host.
    param([string]$Value)
    if (-not $Value) {
        return $Value
    }
    $Value -replace '(?<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@', '${scheme}***@'
}

Function ConvertTo-HrwEndpoint {
    # 'https://h:8443/x' -> host and port (443 when the URL has none).
    param([string]$Value)
    $uri = [Uri]$Value.Trim()
    $port = if ($uri.IsDefaultPort -or $uri.Port -lt 1) { 443 } else { $uri.Port }
    @{ host = $uri.DnsSafeHost; port = $port }
}

# ------------------------------------------------------------------------------------------------ network

Function Get-HrwDnsFact {
    param([string]$HostName)
    try {
        $addresses = @([System.Net.Dns]::GetHostAddresses($HostName) | ForEach-Object { $_.IPAddressToString } | Select-Object -Unique)
        return [ordered]@{ addresses = $addresses; error = $null }
    }
    catch {
        return [ordered]@{ addresses = @(); error = $_.Exception.Message }
    }
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
        return [ordered]@{ elapsed_ms = [int]$watch.ElapsedMilliseconds; error = $null }
    }
    catch {
        return [ordered]@{ elapsed_ms = $null; error = (Get-HrwInnerMessage -Exception $_.Exception) }
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
    # Handshake once, recording what certificate validation reported (the controller decides on it), then HEAD / for the
    # Date header. Every certificate is accepted so that the issuer and the Date header can still be read.
    param([string]$HostName, [int]$Port, [int]$TimeoutSeconds, [bool]$WantDate, [System.Collections.IDictionary]$Proxy)
    $tls = [ordered]@{ verified = $false; handshake_error = $null; policy_errors = $null; chain_status = @(); leaf_issuer = $null
        names = @(); server_time = $null; local_time = $null; date_error = $null
    }
    $state = @{ errors = [System.Net.Security.SslPolicyErrors]::None; chain = @(); status = @() }
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
        $tls.handshake_error = 'cannot connect: {0}' -f (Get-HrwInnerMessage -Exception $_.Exception)
        return $tls
    }
    try {
        $stream = New-Object -TypeName System.Net.Security.SslStream -ArgumentList @($client.GetStream(), $false, $callback)
        $stream.AuthenticateAsClient($HostName, $null, [System.Security.Authentication.SslProtocols]::Tls12, $false)
        $leaf = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Certificate2 -ArgumentList $stream.RemoteCertificate
        $tls.leaf_issuer = $leaf.Issuer
        $names = @(Get-HrwNamePart -DistinguishedName $leaf.Issuer)
        foreach ($cert in @($state.chain | Select-Object -Skip 1)) {
            $names += @(Get-HrwNamePart -DistinguishedName $cert.Subject)
            $names += @(Get-HrwNamePart -DistinguishedName $cert.Issuer)
        }
        $tls.names = $names
        $tls.policy_errors = $state.errors.ToString()
        $tls.chain_status = @($state.status)
        $tls.verified = $state.errors -eq [System.Net.Security.SslPolicyErrors]::None
        if ($WantDate) {
            try {
                $request = [System.Text.Encoding]::ASCII.GetBytes("HEAD / HTTP/1.1`r`nHost: $HostName`r`nUser-Agent: hrw_health`r`nConnection: close`r`n`r`n")
                $stream.Write($request, 0, $request.Length)
                $reader = New-Object -TypeName System.IO.StreamReader -ArgumentList @($stream, [System.Text.Encoding]::GetEncoding('iso-8859-1'))
                $line = $reader.ReadLine()
                while ($null -ne $line -and $line -ne '') {
                    if ($line -match '^(?i)date:\s*(.+)$') {
                        $tls.server_time = [DateTimeOffset]::Parse($Matches[1].Trim(), [Globalization.CultureInfo]::InvariantCulture).ToUnixTimeSeconds()
                        $tls.local_time = [DateTimeOffset]::UtcNow.ToUnixTimeSeconds()
                    }
                    $line = $reader.ReadLine()
                }
                if ($null -eq $tls.server_time) {
                    $tls.date_error = 'no Date header in the response'
                }
            }
            catch {
                $tls.date_error = $_.Exception.Message
            }
        }
    }
    catch {
        $tls.handshake_error = Get-HrwInnerMessage -Exception $_.Exception
    }
    finally {
        $client.Dispose()
    }
    $tls
}

Function Get-HrwEndpointFact {
    param([string]$HostName, [int]$Port, [bool]$Primary, [string[]]$Steps, [int]$TimeoutSeconds, [System.Collections.IDictionary]$Proxy)
    $item = [ordered]@{ host = $HostName; port = $Port; primary = $Primary; dns = $null; tcp = $null; tls = $null }
    if ($Steps -contains 'dns') {
        $item.dns = Get-HrwDnsFact -HostName $HostName
    }
    if ($Steps -contains 'tcp') {
        $item.tcp = Get-HrwTcpFact -HostName $HostName -Port $Port -TimeoutSeconds $TimeoutSeconds -Proxy $Proxy
    }
    $wantDate = $Primary -and ($Steps -contains 'date')
    if (($Steps -contains 'tls') -or $wantDate) {
        if ($item.tcp -and $item.tcp.error) {
            $item.tls = [ordered]@{ verified = $false; handshake_error = 'not tried: TCP connection failed'; policy_errors = $null; chain_status = @()
                leaf_issuer = $null; names = @(); server_time = $null; local_time = $null; date_error = $null
            }
        }
        else {
            $item.tls = Get-HrwTlsFact -HostName $HostName -Port $Port -TimeoutSeconds $TimeoutSeconds -WantDate $wantDate -Proxy $Proxy
        }
    }
    $item
}

# ------------------------------------------------------------------------------------------------ extension, services, runtimes

Function Get-HrwNewestNumberedFile {
    # The file with the highest sequence number (3.settings over 2.settings), then the newest write time.
    param([string]$Path, [string]$Filter)
    if (-not (Test-Path -LiteralPath $Path)) {
        return $null
    }
    Get-ChildItem -LiteralPath $Path -Filter $Filter -File | Sort-Object -Property @(
        @{ Expression = { $stem = $_.Name.Split('.')[0]; if ($stem -match '^\d+$') { [int]$stem } else { -1 } } },
        @{ Expression = { $_.LastWriteTimeUtc } }
    ) | Select-Object -Last 1
}

Function Get-HrwSettingsFact {
    param([string]$Directory)
    $file = Get-HrwNewestNumberedFile -Path (Join-Path -Path $Directory -ChildPath 'RuntimeSettings') -Filter '*.settings'
    if (-not $file) {
        return $null
    }
    $settings = [ordered]@{ path = $file.FullName; url = $null; proxy_configured = $false; error = $null }
    try {
        $data = Get-Content -LiteralPath $file.FullName -Raw | ConvertFrom-Json
        $handler = Get-HrwProperty -InputObject @(Get-HrwProperty -InputObject $data -Name runtimeSettings)[0] -Name handlerSettings
        $public = Get-HrwProperty -InputObject $handler -Name publicSettings
        $settings.url = Get-HrwProperty -InputObject $public -Name AutomationAccountURL
        $settings.proxy_configured = $null -ne (Get-HrwProperty -InputObject $public -Name ProxySettings)
    }
    catch {
        $settings.error = "unreadable settings file $($file.FullName): $($_.Exception.Message)"
    }
    $settings
}

Function Get-HrwStatusFact {
    param([string]$Directory)
    $file = Get-HrwNewestNumberedFile -Path (Join-Path -Path $Directory -ChildPath 'Status') -Filter '*.status'
    if (-not $file) {
        return $null
    }
    $status = [ordered]@{ status = 'unknown'; message = $null }
    try {
        # Windows PowerShell emits a JSON array as one object, PowerShell 7 enumerates it.
        $parsed = Get-Content -LiteralPath $file.FullName -Raw | ConvertFrom-Json
        $data = if ($parsed -is [array]) { $parsed[0] } else { $parsed }
        $inner = Get-HrwProperty -InputObject $data -Name status
        $value = [string](Get-HrwProperty -InputObject $inner -Name status)
        if ($value) {
            $status.status = $value
        }
        $status.message = Get-HrwProperty -InputObject (Get-HrwProperty -InputObject $inner -Name formattedMessage) -Name message
    }
    catch {
        $status.status = 'error'
        $status.message = "unreadable status file $($file.FullName): $($_.Exception.Message)"
    }
    $status
}

Function Get-HrwExtensionFact {
    # Every version directory with its newest settings and status file; the controller picks the newest version.
    $versions = @()
    $byVersion = @{}
    if (Test-Path -LiteralPath $script:HrwExtensionRoot) {
        foreach ($dir in @(Get-ChildItem -LiteralPath $script:HrwExtensionRoot -Directory)) {
            $versions += $dir.Name
            $settings = Get-HrwSettingsFact -Directory $dir.FullName
            $status = Get-HrwStatusFact -Directory $dir.FullName
            $byVersion[$dir.Name] = [ordered]@{ settings = $settings; status = $status }
        }
    }
    [ordered]@{ versions = $versions; by_version = $byVersion }
}

Function Get-HrwServiceFact {
    param([string]$Name)
    $service = Get-CimInstance -ClassName Win32_Service -Filter "Name='$Name'" -ErrorAction SilentlyContinue
    $state = if ($service) { [string]$service.State } else { $null }
    $mode = if ($service) { [string]$service.StartMode } else { $null }
    [ordered]@{ name = $Name; manager = $true; active = $state; enabled = $mode }
}

Function Get-HrwCommandVersion {
    # First non-empty line the program prints for --version, $null when it cannot run.
    param([string]$Path)
    # Windows PowerShell 5.1 turns each redirected stderr line into an error record, terminating under the module's 'Stop'.
    $ErrorActionPreference = 'Continue'
    try {
        $out = & $Path --version 2>&1 | ForEach-Object { "$_" } | Out-String
    }
    catch {
        return $null
    }
    $line = @($out -split "`r?`n" | Where-Object { $_.Trim() } | Select-Object -First 1)
    if ($line.Count -eq 0) {
        return $null
    }
    $line[0].Trim()
}

Function Get-HrwRuntimeFact {
    param([string]$Name)
    # python.exe under WindowsApps is the Store's installer alias, not an interpreter.
    $command = Get-Command -Name $Name -CommandType Application -ErrorAction SilentlyContinue |
        Where-Object { $_.Source -notlike '*\WindowsApps\*' } | Select-Object -First 1
    $path = if ($command) { $command.Source } else { $null }
    $version = if ($command) { Get-HrwCommandVersion -Path $command.Source } else { $null }
    [ordered]@{ path = $path; version = $version }
}

Function Get-HrwProxyVariable {
    # *_proxy variables of a dictionary, lower-case names, credentials redacted.
    param([System.Collections.IDictionary]$Values)
    $out = @{}
    foreach ($key in @($Values.Keys)) {
        $lower = ([string]$key).ToLowerInvariant()
        if ($script:HrwProxyVariables -contains $lower -and $Values[$key]) {
            $out[$lower] = ConvertTo-HrwRedactedUrl -Value ([string]$Values[$key])
        }
    }
    $out
}

Function Get-HrwWinHttpProxy {
    # The proxy server of the WinHTTP settings blob (netsh winhttp set proxy), $null for direct access.
    # Layout: version, counter and flags (Int32 each), then the length-prefixed proxy server string.
    $value = Get-ItemProperty -LiteralPath $script:HrwWinHttpKey -Name WinHttpSettings -ErrorAction SilentlyContinue
    if (-not $value) {
        return $null
    }
    $bytes = [byte[]]$value.WinHttpSettings
    if ($bytes.Length -lt 16) {
        return $null
    }
    $length = [BitConverter]::ToInt32($bytes, 12)
    if ($length -le 0 -or $bytes.Length -lt 16 + $length) {
        return $null
    }
    ConvertTo-HrwRedactedUrl -Value ([System.Text.Encoding]::ASCII.GetString($bytes, 16, $length))
}

# ------------------------------------------------------------------------------------------------ the whole probe

Function Get-HrwFact {
    # The facts of the groups asked for (top-level keys of the facts schema).
    param(
        [string[]]$Group,
        [string[]]$NetworkStep,
        [object[]]$Endpoint,
        [bool]$UseSettingsUrl,
        [int]$TimeoutSeconds,
        [string]$DiskPath,
        [System.Collections.IDictionary]$Proxy
    )
    $facts = [ordered]@{ schema_version = 1; os_family = 'windows' }
    $extension = $null
    if (($Group -contains 'extension') -or $UseSettingsUrl) {
        $extension = Get-HrwExtensionFact
        $facts.extension = $extension
    }
    $system = $null
    if (($Group -contains 'cpu_cores') -or ($Group -contains 'memory_mb')) {
        $system = Get-CimInstance -ClassName Win32_ComputerSystem -ErrorAction SilentlyContinue
    }
    if ($Group -contains 'cpu_cores') {
        $facts.cpu_cores = if ($system) { [int]$system.NumberOfLogicalProcessors } else { $null }
    }
    if ($Group -contains 'memory_mb') {
        $facts.memory_mb = if ($system) { [int64][Math]::Floor($system.TotalPhysicalMemory / 1048576) } else { $null }
    }
    if ($Group -contains 'disk') {
        $path = if ($DiskPath) { $DiskPath } else { $env:SystemDrive + '\' }
        $free = $null
        $device = ([IO.Path]::GetPathRoot($path)).TrimEnd('\')
        $drive = Get-CimInstance -ClassName Win32_LogicalDisk -Filter ("DeviceID='{0}'" -f $device) -ErrorAction SilentlyContinue
        if ($drive) {
            $free = [int64][Math]::Floor($drive.FreeSpace / 1048576)
        }
        $facts.disk = [ordered]@{ path = $path; free_mb = $free }
    }
    if ($Group -contains 'os') {
        $os = Get-CimInstance -ClassName Win32_OperatingSystem
        $facts.os = [ordered]@{ id = 'windows'; version = [string]$os.Version; name = [string]$os.Caption; machine = [string]$os.OSArchitecture
            product_type = [int]$os.ProductType
        }
    }
    if ($Group -contains 'endpoints') {
        $targets = @($Endpoint | ForEach-Object { @{ host = $_.host; port = [int]$_.port; primary = [bool]$_.primary } })
        if ($UseSettingsUrl -and $extension) {
            # The URL of every version directory's settings: the controller keeps the one of the newest version.
            foreach ($version in @($extension.versions)) {
                $settings = $extension.by_version[$version].settings
                if ($settings -and $settings.url) {
                    $first = ConvertTo-HrwEndpoint -Value $settings.url
                    $others = @($targets | Where-Object { -not ($_.host -eq $first.host -and $_.port -eq $first.port) })
                    $targets = @(@{ host = $first.host; port = $first.port; primary = $true }) + $others
                }
            }
        }
        $facts.endpoints = @($targets | ForEach-Object {
                Get-HrwEndpointFact -HostName $_.host -Port $_.port -Primary $_.primary -Steps $NetworkStep -TimeoutSeconds $TimeoutSeconds -Proxy $Proxy
            })
    }
    if ($Group -contains 'proxy_env') {
        $process = @{}
        Get-ChildItem -Path Env: | ForEach-Object { $process[$_.Name] = $_.Value }
        $machine = [Environment]::GetEnvironmentVariables('Machine')
        $facts.proxy_env = [ordered]@{ process = (Get-HrwProxyVariable -Values $process); system = (Get-HrwProxyVariable -Values $machine) }
    }
    if ($Group -contains 'winhttp_proxy') {
        $facts.winhttp_proxy = Get-HrwWinHttpProxy
    }
    if ($Group -contains 'service') {
        $facts.service = Get-HrwServiceFact -Name $script:HrwWorkerService
    }
    if ($Group -contains 'log_folders') {
        $folders = @{}
        foreach ($folder in $script:HrwLogFolders) {
            $folders[$folder] = Test-Path -LiteralPath $folder -PathType Container
        }
        $facts.log_folders = $folders
    }
    if ($Group -contains 'event_log') {
        $log = Get-WinEvent -ListLog $script:HrwEventLog -ErrorAction SilentlyContinue
        $facts.event_log = [ordered]@{ name = $script:HrwEventLog; exists = [bool]$log }
    }
    if ($Group -contains 'runtimes') {
        $facts.runtimes = [ordered]@{ powershell = (Get-HrwRuntimeFact -Name pwsh.exe); python = (Get-HrwRuntimeFact -Name python.exe) }
    }
    if ($Group -contains 'runtime_paths') {
        $values = @{}
        $executable = @{}
        foreach ($name in $script:HrwRuntimePathVariables) {
            $value = [Environment]::GetEnvironmentVariable($name, 'Machine')
            if ($value) {
                $values[$name] = $value
                $executable[$value] = Test-Path -LiteralPath $value -PathType Leaf
            }
        }
        $facts.runtime_paths = [ordered]@{ values = $values; executable = $executable }
    }
    if ($Group -contains 'v1') {
        $paths = @($script:HrwV1Paths | Where-Object { Test-Path -LiteralPath $_ })
        # V1 job sandboxes run from the Monitoring Agent's AzureAutomation folder.
        $processes = @(Get-CimInstance -ClassName Win32_Process -Filter "CommandLine LIKE '%Monitoring Agent%AzureAutomation%'" -ErrorAction SilentlyContinue |
                ForEach-Object { [string]$_.CommandLine })
        $services = @($script:HrwV1Services | Where-Object { Get-Service -Name $_ -ErrorAction SilentlyContinue })
        $facts.v1 = [ordered]@{ paths = $paths; processes = $processes; users = @(); services = $services }
    }
    $facts
}

Export-ModuleMember -Function Get-HrwFact
