"""The quality gates can fail: break a scratch copy of the collection in one way each and see the gate's tool fail.

Run by the `gate-selftest` gate of scripts/test.sh (with .venv's tools on PATH and .build synced). Each case copies the
collection from .build into a temporary ansible_collections tree, applies one breakage, runs the same tool the gate runs,
and checks that it fails naming that breakage (the unbroken tree passing is what the gates themselves show).
"""

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = ROOT / ".build" / "ansible_collections" / "azure_automation" / "hybrid_worker"
PS1_CHECK = ROOT / "tests" / "tools" / "ps1_parse_check.py"

pytestmark = pytest.mark.skipif(not BUILD.is_dir(), reason="run scripts/sync-build.sh first (scripts/test.sh does)")


@pytest.fixture(name="collection")
def fixture_collection(tmp_path):
    dest = tmp_path / "ansible_collections" / "azure_automation" / "hybrid_worker"
    shutil.copytree(BUILD, dest, ignore=shutil.ignore_patterns("output", "__pycache__", ".ansible"))
    return dest


def run(args, cwd, env=None):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=dict(os.environ, **(env or {})), check=False)


def docs_lint(collection):
    return run(["antsibull-docs", "lint-collection-docs", "--plugin-docs", str(collection)], cwd=collection)


def ansible_lint(collection):
    env = {"ANSIBLE_COLLECTIONS_PATH": str(collection.parents[2])}
    return run(["ansible-lint", "--profile", "production", "--offline", "--nocolor"], cwd=collection, env=env)


def test_docs_gate_catches_a_reference_to_an_unknown_option(collection):
    module = collection / "plugins" / "modules" / "hrw_group.py"
    text = module.read_text()
    broken = text.replace("short_description:", "short_description: See O(no_such_option) and", 1)
    assert broken != text
    module.write_text(broken)
    result = docs_lint(collection)
    assert result.returncode != 0
    assert "no_such_option" in result.stdout + result.stderr


def test_lint_gate_catches_a_task_without_fqcn(collection):
    tasks = collection / "roles" / "linux_worker" / "tasks" / "configure.yml"
    tasks.write_text(tasks.read_text() + "\n- name: Say hello\n  debug:\n    msg: hello\n")
    result = ansible_lint(collection)
    assert result.returncode != 0
    assert "fqcn[action-core]" in result.stdout and "configure.yml" in result.stdout


def test_ps1_gate_catches_a_syntax_error(collection):
    scripts = sorted((collection / "plugins").rglob("*.ps1"))
    if not scripts:
        pytest.skip("no PowerShell files")
    ok = run([sys.executable, str(PS1_CHECK), str(collection / "plugins")], cwd=collection)
    assert ok.returncode == 0, ok.stdout
    scripts[0].write_text(scripts[0].read_text() + "\nfunction Broken-Thing {\n    if ($true) {\n")
    result = run([sys.executable, str(PS1_CHECK), str(collection / "plugins")], cwd=collection)
    assert result.returncode == 1
    assert scripts[0].name in result.stdout
