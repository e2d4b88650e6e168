# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one host engine: facts (both OSes) -> checks, the facts schema against both probes, and the docs against the rules."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import json
import os
import re
import subprocess

import pytest

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils import _host_checks as hc
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils import _host_facts as hf
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils import _host_probe as probe
from ansible_collections.azure_automation.hybrid_worker.plugins.modules import hrw_health

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..', '..', '..'))
FIXTURES = sorted(glob.glob(os.path.join(HERE, 'fixtures', 'host_facts', '*.json')))
PS_PROBE = os.path.join(ROOT, 'plugins', 'module_utils', '_HrwProbe.psm1')
POWERSHELL_FILES = sorted(glob.glob(os.path.join(ROOT, 'plugins', '*', '*.ps*1')))


def load(path):
    with open(path) as handle:
        return json.load(handle)


# ---------------------------------------------------------------------------------------------------- facts -> checks

@pytest.mark.parametrize('path', FIXTURES, ids=[os.path.basename(p) for p in FIXTURES])
def test_facts_table(path):
    case = load(path)
    facts, options = case['facts'], dict(case['options'])
    assert hf.validate(facts, complete=not options.get('checks')) == []
    results, endpoints, _url = hc.evaluate(facts, options)
    assert [(r['id'], r['status']) for r in results] == [(e[0], e[1]) for e in case['expected']]
    for item, (_cid, _status, text) in zip(results, case['expected']):
        assert text in item['summary'], (item, text)
        assert bool(item['remediation']) == (item['status'] != 'ok'), item
    if 'endpoints' in case:
        assert endpoints == case['endpoints']


def test_fixtures_cover_both_oses_and_every_status_of_every_check():
    seen = set()
    for path in FIXTURES:
        case = load(path)
        seen.update((case['facts']['os_family'], e[0]) for e in case['expected'])
    for family in ('linux', 'windows'):
        assert set(hc.CHECK_IDS) <= set(cid for fam, cid in seen if fam == family), family


def test_rule_options_never_reach_the_probe():
    options = dict((k, v.get('default')) for k, v in hc.ARGUMENT_SPEC.items())
    options.update(automation_account_url='https://a.jrds.x.azure-automation.net/automationAccounts/a', min_cpu_cores=8,
                   min_memory_mb=1, min_disk_free_mb=3, fail_on='warn', expected_issuers=['Contoso'],
                   proxy_url='http://bob:pw@proxy:3128')
    request = hc.probe_request(options)
    assert sorted(request) == ['disk_path', 'endpoints', 'groups', 'network_steps', 'proxy', 'timeout', 'use_settings_url']
    text = json.dumps(request)
    for rule_value in ('Contoso', 'warn', '"min_', 'fail_on', 'expected_issuers', 'pw@'):
        assert rule_value not in text
    assert request['proxy'] == {'host': 'proxy', 'port': 3128, 'authorization': 'Ym9iOnB3'}


def test_facts_of_another_schema_version_are_refused():
    facts = load(FIXTURES[0])['facts']
    with pytest.raises(ValueError, match='facts schema 1'):
        hc.evaluate(dict(facts, schema_version=2), {})
    assert 'facts.bogus: not in the facts schema' in hf.validate(dict(facts, bogus=1))
    windows_only = dict(load(os.path.join(HERE, 'fixtures', 'host_facts', 'linux_healthy.json'))['facts'], winhttp_proxy=None)
    assert 'facts.winhttp_proxy: a windows-only fact in linux facts' in hf.validate(windows_only)


# ---------------------------------------------------------------------------------------------------- the PowerShell probe

def _powershell_tree(path):
    tree_sitter = pytest.importorskip('tree_sitter')
    grammar = pytest.importorskip('tree_sitter_powershell')
    parser = tree_sitter.Parser(tree_sitter.Language(grammar.language()))
    with open(path, 'rb') as handle:
        source = handle.read()
    return parser.parse(source), source


def _walk(node):
    yield node
    for child in node.children:
        yield from _walk(child)


def powershell_fact_shapes(path):
    """(key sets of the [ordered]@{} literals, names assigned as $facts.<name>) of a PowerShell file."""
    tree, source = _powershell_tree(path)

    def text(node):
        return source[node.start_byte:node.end_byte].decode()

    literals, members = [], set()
    for node in _walk(tree.root_node):
        if node.type == 'cast_expression' and text(node.children[0]).lower() == '[ordered]':
            hashes = [c for c in _walk(node) if c.type == 'hash_literal_expression']
            keys = [text(k) for k in _walk(hashes[0]) if k.type == 'key_expression' and k.parent.parent.parent == hashes[0]]
            literals.append(frozenset(keys))
        elif node.type == 'assignment_expression':
            left = text(node.children[0])
            match = re.match(r'^\$facts\.(\w+)$', left)
            if match:
                members.add(match.group(1))
    return literals, members


def _dict_nodes(schema, family, found):
    if schema['type'] == 'dict':
        found.append(frozenset(hf.keys_for(family, schema)))
        for sub in schema['keys'].values():
            if sub.get('os') in (None, family):
                _dict_nodes(sub, family, found)
    elif schema['type'] == 'list':
        _dict_nodes(schema['items'], family, found)
    elif schema['type'] == 'map':
        _dict_nodes(schema['values'], family, found)
    return found


def test_powershell_probe_emits_exactly_the_windows_schema():
    literals, members = powershell_fact_shapes(PS_PROBE)
    top = [keys for keys in literals if 'schema_version' in keys]
    assert len(top) == 1
    # Top level: the first literal plus every $facts.<name> = ... assignment.
    assert sorted(top[0] | members) == hf.keys_for('windows')
    nested = _dict_nodes(hf.SCHEMA, 'windows', [])[1:]
    for keys in literals:
        if keys is not top[0]:
            assert keys in nested, 'an [ordered] literal of _HrwProbe.psm1 matches no node of the facts schema: %s' % sorted(keys)
    missing = [sorted(n) for n in nested if n not in literals]
    assert missing == [], 'schema nodes the PowerShell probe never builds'
    with open(PS_PROBE) as handle:
        assert re.search(r'schema_version = %d;' % hf.SCHEMA_VERSION, handle.read())


def test_static_shape_check_catches_a_renamed_key(tmp_path):
    with open(PS_PROBE) as handle:
        text = handle.read()
    broken = tmp_path / 'probe.psm1'
    broken.write_text(text.replace('[ordered]@{ path = $path; free_mb = $free }', '[ordered]@{ path = $path; freemb = $free }'))
    literals, _members = powershell_fact_shapes(str(broken))
    assert frozenset(['path', 'freemb']) in literals
    assert frozenset(['path', 'freemb']) not in _dict_nodes(hf.SCHEMA, 'windows', [])


@pytest.mark.parametrize('path', POWERSHELL_FILES, ids=[os.path.basename(p) for p in POWERSHELL_FILES])
def test_no_rule_threshold_or_remediation_in_powershell(path):
    with open(path) as handle:
        text = handle.read()
    code = '\n'.join(line for line in text.splitlines() if not line.lstrip().startswith('#'))
    for forbidden in ("'warn'", "'fail'", 'remediation', 'Remediation', '[version]', 'D6', 'Compare-', 'ConvertTo-HrwVersion',
                      'Sort-Object -Property $sortKey', 'upgrade', 'downgrade', 'Fix:'):
        assert forbidden not in code, '%s in %s' % (forbidden, path)
    for threshold in (hc.MIN_MEMORY_MB, hc.MIN_DISK_FREE_MB, hc.CLOCK_SKEW_FAIL_SECONDS, hc.CLOCK_SKEW_WARN_SECONDS):
        assert not re.search(r'(?<![\d.])%d(?![\d.])' % threshold, code), '%d in %s' % (threshold, path)


# ---------------------------------------------------------------------------------------------------- the Linux probe

ALL_GROUPS = hf.groups_for(hf.CHECK_IDS)


def _run(argv):
    out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
    return out.returncode, out.stdout, out.stderr


def test_linux_probe_on_a_fake_worker_tree_matches_the_schema(tmp_path, monkeypatch):
    waagent = tmp_path / 'waagent'
    install = waagent / (probe.EXTENSION_NAME + '-1.1.13')
    (install / 'status').mkdir(parents=True)
    (install / 'status' / '0.status').write_text(json.dumps([{'status': {'status': 'success'}}]))
    (waagent / probe.EXTENSION_NAME / 'config').mkdir(parents=True)
    (waagent / probe.EXTENSION_NAME / 'config' / '0.settings').write_text(json.dumps(
        {'runtimeSettings': [{'handlerSettings': {'publicSettings': {'AutomationAccountURL': 'https://127.0.0.1:9/a'},
                                                  'protectedSettings': 'MIIB...encrypted'}}]}))
    (tmp_path / 'environment').write_text('https_proxy=http://u:secret-pw@proxy:3128\npython_3_10_path=/usr/bin/python3\n')
    monkeypatch.setattr(probe, 'WAAGENT_DIR', str(waagent))
    monkeypatch.setattr(probe, 'ENVIRONMENT_FILE', str(tmp_path / 'environment'))
    facts = probe.gather(ALL_GROUPS, ['dns', 'tcp', 'tls', 'date'], [], True, 1, None, None, run_command=_run,
                         get_bin_path=lambda name: None)
    assert hf.validate(facts, 'linux', complete=True) == []
    assert facts['endpoints'][0]['host'] == '127.0.0.1' and facts['endpoints'][0]['primary'] is True
    assert facts['extension']['settings']['proxy_configured'] is None  # encrypted: cannot tell
    assert facts['proxy_env']['system'] == {'https_proxy': 'http://***@proxy:3128'}
    assert 'secret-pw' not in json.dumps(facts)


def test_linux_probe_on_this_machine_matches_the_schema():
    """The real file system of whatever runs the tests (the lab runs the same probe through Molecule)."""
    facts = probe.gather(ALL_GROUPS, ['dns'], [{'host': 'localhost', 'port': 443, 'primary': True}], False, 1, None, None,
                         run_command=_run, get_bin_path=lambda name: None)
    assert hf.validate(facts, 'linux', complete=True) == []
    results, _endpoints, _url = hc.evaluate(facts, {'automation_account_url': 'https://localhost/x', 'checks': [
        c for c in hc.CHECK_IDS if c not in ('tcp_connect', 'tls', 'clock_skew')]})
    assert [r['id'] for r in results] == [c for c in hc.CHECK_IDS if c not in ('tcp_connect', 'tls', 'clock_skew')]


# ---------------------------------------------------------------------------------------------------- docs

def test_checks_doc_table_matches_the_rules():
    with open(os.path.join(ROOT, 'docs', 'hrw_health_checks.md')) as handle:
        text = handle.read()
    rows = re.findall(r'^\| `(\w+)` \|', text, re.MULTILINE)
    assert tuple(rows) == hc.CHECK_IDS
    for fact in ('`min_cpu_cores` (%d' % hc.MIN_CPU_CORES, '`min_memory_mb` (%d' % hc.MIN_MEMORY_MB,
                 '`min_disk_free_mb` (%d)' % hc.MIN_DISK_FREE_MB, '≤ %d s' % hc.CLOCK_SKEW_WARN_SECONDS,
                 '> %d s' % hc.CLOCK_SKEW_FAIL_SECONDS, '≥ %s' % hc.version_text(hc.EXTENSION_RUNTIME_VERSION),
                 hc.WINDOWS_EVENT_LOG):
        assert fact in text, fact


def test_module_documentation_matches_the_rules():
    import yaml
    doc = yaml.safe_load(hrw_health.DOCUMENTATION)
    described = re.findall(r'^C\((\w+)\) - ', '\n'.join(d for d in doc['description'] if isinstance(d, str)), re.MULTILINE)
    assert tuple(described) == hc.CHECK_IDS
    for option in ('checks', 'skip_checks'):
        assert tuple(doc['options'][option]['choices']) == hc.CHECK_IDS
    for option, spec in hc.ARGUMENT_SPEC.items():
        assert doc['options'][option].get('default') == spec.get('default'), option


def test_powershell_package_inventory_has_the_shape_the_planner_reads():
    """_HrwPackages.psm1 builds the inventory as [ordered] literals with the keys the Linux side returns."""
    from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils import _host_apply as host

    class Module(object):
        def run_command(self, argv, environ_update=None):
            return (0, '[{"name": "six", "version": "1.16.0"}]', '') if argv[1:3] == ['-m', 'pip'] else (0, 'False\n', '')

        def get_bin_path(self, name, required=False):
            return None

    linux = host.inventory(Module(), {'python': True, 'python_executable': '/usr/bin/python3', 'powershell_modules': ['Pester'],
                                      'runtime_paths': [], 'test_paths': []})
    literals, _members = powershell_fact_shapes(os.path.join(ROOT, 'plugins', 'module_utils', '_HrwPackages.psm1'))
    assert sorted(literals, key=sorted) == sorted([frozenset(linux), frozenset(linux['python']), frozenset(linux['powershell'])], key=sorted)
