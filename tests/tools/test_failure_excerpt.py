"""The failure excerpt a failing gate prints must name the failing task, host and message, not the clean-up after it."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import failure_excerpt  # noqa: E402  (a script beside this test, not a package)


def _ansible_log(result, kind='fatal'):
    body = json.dumps(result, indent=4).splitlines()
    return [
        'TASK [linux_worker : Check the worker] ****',
        'task path: /x/roles/linux_worker/tasks/configure.yml:3',
        '%s: [hrw-lab-mol-1]: FAILED! => %s' % (kind, body[0]),
    ] + body[1:] + [
        '',
        'TASK [Write an empty instance configuration] ****',
        'changed: [localhost] => {"changed": true}',
    ]


def test_ansible_fatal_gives_task_host_and_msg():
    lines = _ansible_log({'changed': False, 'failed': True, 'msg': 'hrw_health: 1 check(s) at fail:\n disk_space (fail)'})
    found = failure_excerpt.excerpts(lines)
    assert found == ['task [linux_worker : Check the worker] host hrw-lab-mol-1: msg=hrw_health: 1 check(s) at fail: '
                     'disk_space (fail)']


def test_loop_failure_names_the_failed_items():
    lines = _ansible_log({'failed': True, 'msg': 'One or more items failed',
                          'results': [{'failed': False, 'msg': 'fine'}, {'failed': True, 'msg': 'pip: no space left'}]},
                         kind='failed')
    (found,) = failure_excerpt.excerpts(lines)
    assert 'One or more items failed' in found and 'item: msg=pip: no space left' in found and 'fine' not in found


def test_ignored_failure_is_not_reported():
    lines = _ansible_log({'failed': True, 'msg': 'expected'})
    end = next(i for i, line in enumerate(lines) if line == '}')
    lines.insert(end + 1, '...ignoring')
    assert failure_excerpt.excerpts(lines) == []


def test_unreachable_and_pytest_and_generic_errors():
    lines = [
        'TASK [Gathering Facts] ***',
        'fatal: [h1]: UNREACHABLE! => {"changed": false, "msg": "ssh: connect to host 10.88.0.5 port 22", '
        '"unreachable": true}',
        'E       assert 1 == 2',
        'FAILED tests/unit/test_x.py::test_y - assert 1 == 2',
        'ERROR    Ansible return code was 2, command was: ansible-playbook converge.yml',
        'ERROR    Ansible return code was 2, command was: ansible-playbook converge.yml',
    ]
    found = failure_excerpt.excerpts(lines)
    assert found[0] == 'task [Gathering Facts] host h1: msg=ssh: connect to host 10.88.0.5 port 22'
    assert found[1:] == lines[2:5]


def test_main_caps_and_cuts(tmp_path, capsys):
    log = tmp_path / 'gate.log'
    log.write_text('\n'.join('ERROR %d %s' % (i, 'x' * 500) for i in range(20)) + '\n')
    failure_excerpt.main([str(log), '--max', '3'])
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 4 and out[-1] == '... 17 more'
    assert all(len(line) <= failure_excerpt.WIDTH + 4 for line in out[:3])
