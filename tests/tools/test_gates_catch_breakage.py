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


def scratch_repo(tmp_path, script_text, executable=True):
    """A git repo holding scripts/test.sh (the real one), a set-up that does nothing, and one script to check."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    (repo / "tests" / "tools").mkdir(parents=True)
    shutil.copy2(ROOT / "scripts" / "test.sh", repo / "scripts" / "test.sh")
    shutil.copy2(ROOT / "tests" / "tools" / "failure_excerpt.py", repo / "tests" / "tools" / "failure_excerpt.py")
    (repo / "scripts" / "setup.sh").write_text("#!/usr/bin/env bash\nexit 0\n")
    (repo / "scripts" / "setup.sh").chmod(0o755)
    tool = repo / "scripts" / "tool.sh"
    tool.write_text(script_text)
    tool.chmod(0o755 if executable else 0o644)
    run(["git", "init", "-q"], cwd=repo)
    run(["git", "add", "-A"], cwd=repo)
    return repo


def shellcheck_gate(repo):
    return run(["bash", "scripts/test.sh", "shellcheck"], cwd=repo)


CLEAN_SCRIPT = '#!/usr/bin/env bash\nset -euo pipefail\necho "hello"\n'


def test_shellcheck_gate_passes_a_clean_executable_script(tmp_path):
    result = shellcheck_gate(scratch_repo(tmp_path, CLEAN_SCRIPT))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "gates: 1 passed, 0 failed" in result.stdout


def test_shellcheck_gate_catches_a_shellcheck_warning(tmp_path):
    # SC2089/SC2090: what once slipped through this gate (and was caught by ansible-test's own shellcheck instead).
    broken = CLEAN_SCRIPT + "X=\"a\\$'\\\"b\"\nexport X\n"
    result = shellcheck_gate(scratch_repo(tmp_path, broken))
    assert result.returncode != 0
    assert "failed gates: shellcheck" in result.stdout
    assert "SC2089" in (tmp_path / "repo" / "tests" / "output" / "gates" / "shellcheck.log").read_text()


def test_shellcheck_gate_catches_a_script_that_is_not_executable_in_git(tmp_path):
    result = shellcheck_gate(scratch_repo(tmp_path, CLEAN_SCRIPT, executable=False))
    assert result.returncode != 0
    assert "not executable in git: scripts/tool.sh" in result.stdout
