"""The ps1-semantic gate: real Windows PowerShell 5.1 names pass, planted misspellings fail, with PowerShell's rules.

Run by the `gate-selftest` gate (after scripts/setup.sh fetched the inventory into .cache/ps-inventory/). Each case writes
a small collection (galaxy.yml, a module .ps1 and a module_util .psm1) into a temporary folder and checks it with the
real inventory, so the cases do not depend on what today's modules happen to contain.
"""

import io
import json
import os
import pathlib
import subprocess
import sys
import tarfile

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import ps1_semantic_check as sem  # noqa: E402  (a script beside this test, not a package)

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHECK = ROOT / "tests" / "tools" / "ps1_semantic_check.py"

UTIL = '''# A module_util: two exported functions, one private one.
Function Get-HrwThing {
    [CmdletBinding(SupportsShouldProcess)]
    param([Parameter(Mandatory)][Alias('ThingName')][string]$Name, [int]$Count = 1)
    if ($PSCmdlet.ShouldProcess($Name)) { $Name * $Count }
}
Function Set-HrwPlain {
    param([string]$Value)
    $Value
}
Function Get-HrwPrivate { 'private' }
$exports = @('Get-HrwThing', 'Set-HrwPlain')
Export-ModuleMember -Function $exports
'''

MODULE_HEAD = '''#!powershell
#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -PowerShell ..module_utils._Thing
$spec = @{ options = @{ name = @{ type = 'str' } }; supports_check_mode = $true }
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
'''


@pytest.fixture(name="inventory", scope="module")
def fixture_inventory():
    try:
        return sem.Inventory.from_profile(sem.find_profile(None))
    except sem.Finding as exc:
        pytest.fail("%s (the gate-selftest gate runs after scripts/setup.sh)" % exc)


def write_collection(tmp_path, body, head=MODULE_HEAD, util=UTIL):
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "galaxy.yml").write_text("namespace: azure_automation\nname: hybrid_worker\nversion: 1.0.0\n")
    (tmp_path / "plugins" / "modules").mkdir(parents=True)
    (tmp_path / "plugins" / "module_utils").mkdir(parents=True)
    (tmp_path / "plugins" / "module_utils" / "_Thing.psm1").write_text(util)
    module = tmp_path / "plugins" / "modules" / "thing.ps1"
    module.write_text(head + body + "\n$module.ExitJson()\n")
    return module


def findings(inventory, tmp_path, body, **kwargs):
    sem.ParsedFile.cache.clear()
    module = write_collection(tmp_path, body, **kwargs)
    checker = sem.Checker(inventory)
    checker.check_file(module)
    checker.check_file(tmp_path / "plugins" / "module_utils" / "_Thing.psm1")
    return checker.findings


# (good line, bad line, what the finding must say): the good line passes, the bad one fails naming the mistake.
CASES = [
    ("Get-Service -Name x", "Get-Servise -Name x", "unknown command Get-Servise"),
    ("Get-CimInstance -ClassName Win32_Process", "Get-CimInstance -ClasName Win32_Process", "Get-CimInstance has no parameter -ClasName"),
    ("$c = [Net.Sockets.TcpClient]::new()", "$c = [Net.Sockets.TcpClinet]::new()", "unknown type [Net.Sockets.TcpClinet]"),
    ("$c = New-Object -TypeName System.Net.Sockets.TcpClient", "$c = New-Object -TypeName System.Net.Sockets.TcpClinet",
     "unknown type [System.Net.Sockets.TcpClinet]"),
    ("$c = New-Object System.Text.StringBuilder", "$c = New-Object System.Text.StringBuildr", "unknown type [System.Text.StringBuildr]"),
    # prefixes: unambiguous ones bind, ambiguous ones do not (-F: -File, -Filter, -Force)
    ("Get-ChildItem -Path C:\\ -Fo", "Get-ChildItem -Path C:\\ -F", "-F of Get-ChildItem is ambiguous"),
    ("Get-CimInstance -cl Win32_Process", "Get-CimInstance -Cx Win32_Process", "no parameter -Cx"),
    # parameter aliases of the inventory and the common parameters with theirs
    ("Get-Service -ServiceName x -ea SilentlyContinue -ov found", "Get-Service -ServiceNam x -ErrorAktion Stop", "no parameter -ErrorAktion"),
    # the keys of a splatted hash literal bind like named parameters (keys added later too; computed keys are not read)
    ("$i = @{ Name = 'x'; Force = $true }; $i.RequiredVersion = '1.0'; $i[$k] = 1; Install-Module @i",
     "$i = @{ Name = 'x'; AllowClober = $true }; Install-Module @i", "no parameter -AllowClober (did you mean -AllowClobber?) (a key of the splatted"),
    # -WhatIf only where the command supports ShouldProcess
    ("Remove-Item -LiteralPath x -WhatIf", "Get-Item -LiteralPath x -WhatIf", "Get-Item has no parameter -WhatIf"),
    # our functions: parameters, [Alias()], SupportsShouldProcess, the export list
    ("Get-HrwThing -ThingName x -Count 2 -WhatIf:$true -Verbose", "Get-HrwThing -Nmae x", "Get-HrwThing has no parameter -Nmae"),
    ("Set-HrwPlain -Value x", "Set-HrwPlain -Value x -WhatIf", "Set-HrwPlain has no parameter -WhatIf"),
    ("$x = Get-HrwThing -Name a", "$x = Get-HrwPrivate", "unknown command Get-HrwPrivate"),
    # types: accelerators, the implicit System., generics, arrays, [ordered] on a hash literal only
    ("$t = [string], [int], [hashtable], [pscustomobject], [regex], [ipaddress], [wmi], [int[]], [ref], [uri]",
     "$t = [strng]", "unknown type [strng]"),
    ("$l = [System.Collections.Generic.List[object]]@()", "$l = [System.Collections.Generic.List[strin]]@()", "unknown type [strin]"),
    ("$d = [System.Collections.Generic.Dictionary[string, int]]::new()", "$d = [System.Collections.Generic.Dictionary[string]]::new()",
     "unknown generic type with 1 argument(s)"),
    ("$o = [ordered]@{ a = 1 }", "$o = [ordered]'a'", "[ordered] only works on a hash literal"),
    ("if ($x -is [Collections.IDictionary]) { }", "if ($x -is [Collections.IDictionnary]) { }", "unknown type [Collections.IDictionnary]"),
    # static members, attribute properties
    ("$e = [IO.File]::Exists('x'); $p = [Net.SecurityProtocolType]::Tls12", "$e = [IO.File]::Exist('x')", "[System.IO.File] has no static member Exist"),
    ("$v = [Environment]::GetEnvironmentVariable('x', 'Machine')", "$v = [Environment]::GetEnvVariable('x')", "no static member GetEnvVariable"),
    ("function F { param([Parameter(Mandatory = $true, Position = 0)][ValidateSet('a')][string]$A) }",
     "function F { param([Parameter(Mandatry)][string]$A) }", "ParameterAttribute] has no property Mandatry"),
    ("function F { param([ValidateNotNullOrEmpty()][string]$A) }", "function F { param([ValidateNotNullOrEmty()][string]$A) }",
     "unknown attribute [ValidateNotNullOrEmty(...)]"),
    # Ansible.Basic's types and members come from the installed ansible-core
    ("$module.Warn('x'); [Ansible.Basic.AnsibleModule]::FromJson('{}')", "[Ansible.Basic.AnsibleModule]::FromJsn('{}')",
     "[Ansible.Basic.AnsibleModule] has no static member FromJsn"),
    # instance members of variables whose type is certain: the module object, type-constrained parameters, New-Object
    ("$module.Warn('x'); $module.Result.changed = $module.CheckMode", "$module.ExitJsn()",
     "$module is a [Ansible.Basic.AnsibleModule], which has no member ExitJsn (did you mean ExitJson?)"),
    ("function F {\n    param([string]$V)\n    $V.Trim().Length + $V.Count }", "function F {\n    param([string]$V)\n    $V.Trimm() }",
     "$V is a [System.String], which has no member Trimm"),
    ("$sb = New-Object System.Text.StringBuilder; $null = $sb.Append('x')", "$sb = New-Object System.Text.StringBuilder; $null = $sb.Apend('x')",
     "$sb is a [System.Text.StringBuilder], which has no member Apend"),
    # native commands of Windows Server 2019, with or without the extension
    ("certutil -generateSSTFromWU roots.sst; w32tm.exe /resync", "certutl -generateSSTFromWU roots.sst", "unknown command certutl"),
    # keywords are not commands, though the grammar reads a multi-line `$x = if {} else {}` so
    ("$c = if ($x) { 1 }\nelse { Get-Service -Name x }", "$c = if ($x) { 1 }\nelse { Get-Servise -Name x }", "unknown command Get-Servise"),
    # module-qualified names and a PowerShell class of our own
    ("Microsoft.PowerShell.Management\\Get-Service -Name x", "Microsoft.PowerShell.Utility\\Get-Service -Name x", "unknown command"),
    ("class HrwBox { [string]$Name }\n$b = [HrwBox]::new()", "class HrwBox { [string]$Name }\n$b = [HrwBoks]::new()", "unknown type [HrwBoks]"),
]


@pytest.mark.parametrize("good,bad,message", CASES, ids=[c[2][:40] for c in CASES])
def test_real_names_pass_and_misspellings_fail(inventory, tmp_path, good, bad, message):
    assert findings(inventory, tmp_path / "good", good) == []
    found = findings(inventory, tmp_path / "bad", bad)
    assert len(found) == 1 and message in found[0], found
    line = MODULE_HEAD.count("\n") + 1 + bad.count("\n")
    assert "thing.ps1:%d:" % line in found[0], found  # the line of the planted mistake


def test_a_file_with_syntax_errors_fails_instead_of_being_judged_on_what_the_parser_recovered(inventory, tmp_path):
    found = findings(inventory, tmp_path, "function Broken {\n    if ($true) {\n")
    assert len(found) == 1 and "syntax errors (see the ps1-parse gate)" in found[0], found


def test_members_of_adapted_or_reassigned_objects_are_not_judged(inventory, tmp_path):
    body = ("function F {\n    param([hashtable]$H, [System.Collections.IDictionary]$D)\n    $H.anyKey; $D.otherKey }\n"
            "$os = Get-CimInstance -ClassName Win32_OperatingSystem; $os.Caption\n"
            "$x = New-Object System.Text.StringBuilder; $x = 'now a string'; $x.Whatever")
    assert findings(inventory, tmp_path, body) == []


def test_ansible_basic_types_need_the_csharp_util(inventory, tmp_path):
    head = MODULE_HEAD.replace("#AnsibleRequires -CSharpUtil Ansible.Basic\n", "")
    found = findings(inventory, tmp_path, "", head=head)
    assert len(found) == 1 and "unknown type [Ansible.Basic.AnsibleModule]" in found[0], found


def test_without_an_export_list_every_function_of_a_util_is_visible(inventory, tmp_path):
    util = UTIL.replace("Export-ModuleMember -Function $exports\n", "")
    assert findings(inventory, tmp_path, "$x = Get-HrwPrivate", util=util) == []


def test_a_missing_util_is_an_error_not_a_pass(inventory, tmp_path):
    with pytest.raises(sem.Finding, match="cannot find the util"):
        findings(inventory, tmp_path, "", head=MODULE_HEAD.replace("_Thing", "_Nothing"))


def test_parse_type_reads_generics_and_arrays():
    assert sem.parse_type("System.Collections.Generic.Dictionary[string, object][]") == (
        "System.Collections.Generic.Dictionary", [("string", []), ("object", [])])
    assert sem.parse_type("int[,]") == ("int", [])
    assert sem.parse_type("List[[string]]") == ("List", [("string", [])])


def _fake_profile(os_name, ps_version):
    return json.dumps({"Platform": {"OperatingSystem": {"Name": os_name}, "PowerShell": {"Version": ps_version}},
                       "Runtime": {}}).encode("utf-8-sig")


def test_extract_profile_picks_server_2019_by_what_the_profile_says(tmp_path):
    # win-48 is Windows 10 Pro: a file name alone does not tell the Server 2019 profile.
    package = tmp_path / "package.tgz"
    with tarfile.open(package, "w:gz") as tar:
        for name, os_name, version in [("win-48_x64_10.0.17763.0_5.1.17763.316_x64_4.0.30319.42000_framework.json",
                                        "Microsoft Windows 10 Pro", "5.1.17763.316"),
                                       ("win-8_x64_10.0.17763.0_5.1.17763.316_x64_4.0.30319.42000_framework.json",
                                        "Microsoft Windows Server 2019 Datacenter", "5.1.17763.316"),
                                       ("win-8_x64_10.0.17763.0_7.0.0_x64_3.1.2_core.json", "Microsoft Windows Server 2019 Datacenter", "7.0.0")]:
            data = _fake_profile(os_name, version)
            info = tarfile.TarInfo("package/PSScriptAnalyzer/1.19.0/compatibility_profiles/" + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    written = sem.extract_profile(package, tmp_path / "out")
    assert written.name.startswith("win-8_") and "_5.1." in written.name
    assert [p.name for p in (tmp_path / "out").iterdir()] == [written.name]


def test_the_gate_passes_on_the_collection_and_fails_on_a_planted_mistake(tmp_path):
    ok = subprocess.run([sys.executable, str(CHECK)], cwd=ROOT, capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "0 problem(s)" in ok.stdout
    module = write_collection(tmp_path, "Get-Servise -Name HealthService\nGet-CimInstance -ClasName Win32_Process\n"
                                        "$c = [Net.Sockets.TcpClinet]::new()")
    bad = subprocess.run([sys.executable, str(CHECK), str(module.parent.parent)], cwd=ROOT, capture_output=True, text=True, check=False)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    for mistake in ("Get-Servise", "-ClasName", "[Net.Sockets.TcpClinet]"):
        assert mistake in bad.stdout
    assert "3 problem(s)" in bad.stdout


def test_the_gate_fails_without_an_inventory(tmp_path):
    result = subprocess.run([sys.executable, str(CHECK), "--profile", str(tmp_path / "missing.json")], cwd=ROOT,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2 and "cannot load the inventory" in result.stdout
