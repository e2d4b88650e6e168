"""The ps1-spec-parity gate: a .ps1 module's Ansible.Basic spec that drifts from its .py twin fails, naming the option.

Run by the `gate-selftest` gate. Each case writes a small collection (galaxy.yml, a module .ps1, its .py with
DOCUMENTATION and argument_spec, a module_util .psm1 and a Python module_util) into a temporary folder, plants one
mismatch, and runs the checker on it.
"""

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import ps1_spec_parity as parity  # noqa: E402  (a script beside this test, not a package)

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHECK = ROOT / "tests" / "tools" / "ps1_spec_parity.py"

PS1 = '''#!powershell
#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -PowerShell ..module_utils._Thing

$ids = Get-ThingIds
$spec = @{
    options = @{
        name = @{ type = 'str'; required = $true; aliases = @('thing_name', 'n') }
        state = @{ type = 'str'; default = 'present'; choices = @('present', 'absent') }
        checks = @{ type = 'list'; elements = 'str'; default = @(); choices = $ids }
        timeout = @{ type = 'int'; default = 5 }
        password = @{ type = 'str'; no_log = $true }
        items = @{
            type = 'list'; elements = 'dict'; default = @()
            options = @{ key = @{ type = 'str'; required = $true }; src = @{ type = 'path' } }
        }
        index_url = @{ type = 'str' }
        find_links = @{ type = 'path' }
    }
    mutually_exclusive = @(, @('index_url', 'find_links'))
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$module.ExitJson()
'''

PSM1 = '''$script:ThingIds = @('cpu', 'memory', 'disk')
Function Get-ThingIds { , $script:ThingIds }
Export-ModuleMember -Function 'Get-ThingIds'
'''

PY = '''# -*- coding: utf-8 -*-
DOCUMENTATION = r"""
module: thing
short_description: A thing
description: A thing.
options:
  name:
    description: Name.
    type: str
    required: true
    aliases: [n, thing_name]
  state:
    description: State.
    type: str
    default: present
    choices: [present, absent]
  checks:
    description: Checks.
    type: list
    elements: str
    default: []
    choices: [cpu, memory, disk]
  timeout:
    description: Seconds.
    type: int
    default: 5
  password:
    description: Secret.
    type: str
  items:
    description: Items.
    type: list
    elements: dict
    default: []
    suboptions:
      key:
        description: Key.
        type: str
        required: true
      src:
        description: Source.
        type: path
  index_url:
    description: Index.
    type: str
  find_links:
    description: Links.
    type: path
attributes:
  check_mode:
    support: full
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils import _things as things


def main():
    argument_spec = dict(
        name=dict(type='str', required=True, aliases=['thing_name', 'n']),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        checks=dict(type='list', elements='str', default=[], choices=list(things.IDS)),
        timeout=dict(type='int', default=things.TIMEOUT),
        password=dict(type='str', no_log=True),
        items=dict(type='list', elements='dict', default=[], options=dict(key=dict(type='str', required=True), src=dict(type='path'))),
        index_url=dict(type='str'),
        find_links=dict(type='path'),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True, mutually_exclusive=[('index_url', 'find_links')])
    module.exit_json()
'''

PY_UTIL = "IDS = ('cpu', 'memory', 'disk')\nTIMEOUT = 5\n"


def write_collection(tmp_path, ps1=PS1, py=PY, psm1=PSM1, py_util=PY_UTIL):
    (tmp_path / "galaxy.yml").write_text("namespace: azure_automation\nname: hybrid_worker\nversion: 1.0.0\n")
    modules = tmp_path / "plugins" / "modules"
    utils = tmp_path / "plugins" / "module_utils"
    modules.mkdir(parents=True, exist_ok=True)
    utils.mkdir(parents=True, exist_ok=True)
    (utils / "_Thing.psm1").write_text(psm1)
    (utils / "_things.py").write_text(py_util)
    (modules / "thing.py").write_text(py)
    (modules / "thing.ps1").write_text(ps1)
    return modules / "thing.ps1"


def problems(tmp_path, **kwargs):
    parity.sem.ParsedFile.cache.clear()
    found, _notes = parity.check_module(write_collection(tmp_path, **kwargs))
    return found


def replace(text, old, new):
    assert old in text, old
    return text.replace(old, new, 1)


def test_matching_spec_passes_with_nothing_left_uncompared(tmp_path):
    parity.sem.ParsedFile.cache.clear()
    found, notes = parity.check_module(write_collection(tmp_path))
    assert found == [] and notes == []


# (file, old, new, what the finding must say)
CASES = [
    ("ps1", "timeout = @{ type = 'int'; default = 5 }", "timeout = @{ type = 'str'; default = 5 }", "option timeout: type is 'str' in the .ps1"),
    ("ps1", "default = 'present'", "default = 'presnt'", "option state: default is 'presnt' in the .ps1"),
    ("ps1", "choices = @('present', 'absent')", "choices = @('present', 'absent', 'gone')", "option state: choices"),
    ("ps1", "type = 'str'; required = $true; aliases", "type = 'str'; aliases", "option name: required is False in the .ps1"),
    ("ps1", "aliases = @('thing_name', 'n')", "aliases = @('thing_name')", "option name: aliases"),
    ("ps1", "password = @{ type = 'str'; no_log = $true }", "password = @{ type = 'str' }",
     "option password: no_log is False in the .ps1 spec but True in thing.py argument_spec"),
    ("py", "password=dict(type='str', no_log=True)", "password=dict(type='str', no_log=False)", "option password: no_log is True in the .ps1 spec but False"),
    ("ps1", "type = 'list'; elements = 'dict'", "type = 'list'; elements = 'raw'", "option items: elements is 'raw'"),
    ("ps1", "src = @{ type = 'path' }", "src = @{ type = 'str' }", "option items.src: type is 'str' in the .ps1"),
    ("ps1", "; src = @{ type = 'path' }", "", "option items.src is in thing.py DOCUMENTATION but not in the .ps1 spec"),
    ("ps1", "        find_links = @{ type = 'path' }\n", "        find_links = @{ type = 'path' }\n        extra = @{ type = 'str' }\n",
     "option extra is in the .ps1 spec but not in thing.py DOCUMENTATION"),
    ("ps1", "supports_check_mode = $true", "supports_check_mode = $false", "supports_check_mode is False in the .ps1 spec"),
    ("ps1", "mutually_exclusive = @(, @('index_url', 'find_links'))", "mutually_exclusive = @()", "mutually_exclusive"),
    # a value computed by a module_util function (`, $script:X`) is evaluated, so drift there fails too
    ("psm1", "@('cpu', 'memory', 'disk')", "@('cpu', 'memory')", "option checks: choices is ['cpu', 'memory'] in the .ps1"),
    # the Python side's constants are read from the collection's module_utils
    ("py_util", "TIMEOUT = 5", "TIMEOUT = 50", "option timeout: default is 5 in the .ps1 spec but 50 in thing.py argument_spec"),
    ("py", "    default: 5\n", "    default: 6\n", "option timeout: default is 5 in the .ps1 spec but 6 in thing.py DOCUMENTATION"),
]


@pytest.mark.parametrize("where,old,new,message", CASES, ids=[c[3][:50] for c in CASES])
def test_a_planted_mismatch_fails_naming_the_option(tmp_path, where, old, new, message):
    texts = {"ps1": PS1, "py": PY, "psm1": PSM1, "py_util": PY_UTIL}
    texts[where] = replace(texts[where], old, new)
    found = problems(tmp_path, **texts)
    assert found, "no finding for %s" % message
    assert any(message in text for _line, text in found), found


def test_a_finding_points_at_the_line_of_the_option(tmp_path):
    found = problems(tmp_path, ps1=replace(PS1, "default = 'present'", "default = 'presnt'"))
    assert [line for line, _text in found] == [9, 9]  # against DOCUMENTATION and against argument_spec


def test_a_value_that_cannot_be_evaluated_is_a_note_not_a_pass_in_silence(tmp_path):
    parity.sem.ParsedFile.cache.clear()
    module = write_collection(tmp_path, ps1=replace(PS1, "default = 5 }", "default = (Get-Random) }"))
    found, notes = parity.check_module(module)
    assert found == [] and any("default of option timeout not compared" in n for n in notes)


def test_options_and_attributes_from_our_doc_fragments_count(tmp_path):
    # timeout and check_mode move into a doc fragment of the collection: still compared, and drift there still fails.
    py = replace(PY, "  timeout:\n    description: Seconds.\n    type: int\n    default: 5\n", "")
    py = replace(py, "attributes:\n  check_mode:\n    support: full\n", "extends_documentation_fragment:\n  - azure_automation.hybrid_worker._frag\n")
    fragment = ('class ModuleDocFragment(object):\n    DOCUMENTATION = r"""\noptions:\n  timeout:\n    description: Seconds.\n'
                '    type: int\n    default: %d\nattributes:\n  check_mode:\n    support: %s\n"""\n')
    for default, support, expected in [(5, "full", []), (7, "full", ["option timeout: default is 5 in the .ps1 spec but 7 in thing.py DOCUMENTATION"]),
                                       (5, "none", ["supports_check_mode is True in the .ps1 spec but DOCUMENTATION says check_mode support: none"])]:
        folder = tmp_path / ("%d-%s" % (default, support))
        folder.mkdir()
        (folder / "plugins" / "doc_fragments").mkdir(parents=True)
        (folder / "plugins" / "doc_fragments" / "_frag.py").write_text(fragment % (default, support))
        assert [text for _line, text in problems(folder, py=py)] == expected


def test_a_ps1_without_its_py_fails(tmp_path):
    module = write_collection(tmp_path)
    module.with_suffix(".py").unlink()
    found, _ = parity.check_module(module)
    assert found and "has no thing.py" in found[0][1]


def test_the_gate_passes_on_the_collection_and_fails_when_any_of_its_modules_drifts(tmp_path):
    ok = subprocess.run([sys.executable, str(CHECK)], cwd=ROOT, capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    modules = sorted((ROOT / "plugins" / "modules").glob("*.ps1"))
    if not modules:
        pytest.skip("no PowerShell modules")
    copy = tmp_path / "plugins"
    shutil.copytree(ROOT / "plugins", copy)
    shutil.copy2(ROOT / "galaxy.yml", tmp_path / "galaxy.yml")
    for module in modules:
        planted = copy / "modules" / module.name
        planted.write_text(replace(planted.read_text(), "options = @{", "options = @{\n        planted_option = @{ type = 'str' }"))
    bad = subprocess.run([sys.executable, str(CHECK), str(copy / "modules")], cwd=ROOT, capture_output=True, text=True, check=False)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    for module in modules:
        assert "%s:" % module.name in bad.stdout and "option planted_option is in the .ps1 spec but not in %s DOCUMENTATION" % (
            module.with_suffix(".py").name) in bad.stdout
    assert "%d with mismatches" % len(modules) in bad.stdout
