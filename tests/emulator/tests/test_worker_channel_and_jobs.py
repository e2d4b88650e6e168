"""Runbooks, jobs with runOn, the worker channel, modules and python3 packages."""

import uuid

from azure.core.exceptions import ResourceNotFoundError


def _register(emu, automation, group, vm_name):
    rg, aa = emu["resource_group"], emu["automation_account"]
    automation.hybrid_runbook_worker_group.create(rg, aa, group, {})
    wid = str(uuid.uuid4())
    automation.hybrid_runbook_workers.create(rg, aa, group, wid, {"properties": {"vmResourceId": emu.vm_id(vm_name, "machine")}})
    return wid


def test_heartbeat_sets_last_seen_and_unknown_is_404(emu, automation):
    rg, aa = emu["resource_group"], emu["automation_account"]
    wid = _register(emu, automation, "hb", "arc-hb")
    base = emu["hybrid_service_url"].split("/automationAccounts/")[1]
    url = f"{emu['arm_endpoint']}/automationAccounts/{base}"
    status, _, body = emu.call("POST", f"{url}/heartbeat", {"vmResourceId": emu.vm_id("ARC-HB", "machine"),
                                                           "workerName": "host-hb", "ip": "10.88.0.5"})
    assert status == 200 and body == {"workerId": wid, "group": "hb", "pollIntervalSeconds": 30}
    worker = automation.hybrid_runbook_workers.get(rg, aa, "hb", wid)
    assert worker.properties.ip == "10.88.0.5" and worker.properties.worker_name == "host-hb"
    assert worker.properties.last_seen_date_time is not None
    status, _, body = emu.call("POST", f"{url}/heartbeat", {"vmResourceId": emu.vm_id("other", "machine")})
    assert status == 404 and body["error"]["message"] == "Account/Group specified does not exist"
    status, _, body = emu.call("POST", f"{emu['arm_endpoint']}/automationAccounts/{uuid.uuid4()}/heartbeat",
                               {"vmResourceId": emu.vm_id("arc-hb", "machine")})
    assert status == 404 and body["error"]["message"] == "Account/Group specified does not exist"
    aged = emu.admin("POST", "heartbeat", {"vmResourceId": emu.vm_id("arc-hb", "machine"), "ageSeconds": 7200})
    assert aged["properties"]["lastSeenDateTime"] < worker.properties.last_seen_date_time.isoformat()


def test_canary_job_runs_on_group_worker(emu, automation):
    rg, aa = emu["resource_group"], emu["automation_account"]
    _register(emu, automation, "canary", "arc-canary")
    automation.runbook.create_or_update(rg, aa, "hello", {"location": emu["location"], "properties": {"runbookType": "Python3"}})
    assert automation.runbook.get(rg, aa, "hello").state == "New"
    automation.runbook_draft.begin_replace_content(rg, aa, "hello", b"print('hello from', 'canary')").result()
    assert automation.runbook_draft.get_content(rg, aa, "hello")
    automation.runbook.begin_publish(rg, aa, "hello").result()
    assert automation.runbook.get(rg, aa, "hello").state == "Published"
    job = automation.job.create(rg, aa, "job-1", {"properties": {"runbook": {"name": "hello"}, "runOn": "canary",
                                                                 "parameters": {"who": "lab"}}})
    assert job.status == "Activating" and job.run_on == "canary"
    url = emu["hybrid_service_url"].replace(emu["hybrid_service_url"].split("/")[2], emu["arm_endpoint"].split("/")[2])
    status, _, claimed = emu.call("POST", f"{url}/jobs/claim", {"vmResourceId": emu.vm_id("arc-canary", "machine")})
    assert status == 200 and len(claimed["jobs"]) == 1
    item = claimed["jobs"][0]
    assert item["runbookType"] == "Python3" and "canary" in item["content"] and item["parameters"] == {"who": "lab"}
    assert automation.job.get(rg, aa, "job-1").status == "Running"
    assert emu.call("POST", f"{url}/jobs/claim", {"vmResourceId": emu.vm_id("arc-canary", "machine")})[2] == {"jobs": []}
    status, _, _ = emu.call("POST", f"{url}/jobs/{item['jobId']}/result", {"status": "Completed", "output": "hello from canary\n"})
    assert status == 200
    done = automation.job.get(rg, aa, "job-1")
    assert done.status == "Completed" and done.end_time is not None
    assert automation.job.get_output(rg, aa, "job-1") == "hello from canary\n"
    assert [j.name for j in automation.job.list_by_automation_account(rg, aa)] == ["job-1"]


def test_job_on_missing_group_is_suspended(emu, automation):
    rg, aa = emu["resource_group"], emu["automation_account"]
    automation.runbook.create_or_update(rg, aa, "rb", {"location": emu["location"], "properties": {"runbookType": "PowerShell"}})
    automation.runbook_draft.begin_replace_content(rg, aa, "rb", b"Write-Output 1").result()
    automation.runbook.begin_publish(rg, aa, "rb").result()
    job = automation.job.create(rg, aa, "job-x", {"properties": {"runbook": {"name": "rb"}, "runOn": "ghost"}})
    assert job.status == "Suspended" and "ghost" in job.exception


def test_modules_and_python3_packages(emu, automation):
    rg, aa = emu["resource_group"], emu["automation_account"]
    emu.admin("POST", "settings", {"lroSeconds": 0})
    link = {"properties": {"contentLink": {"uri": "https://example.invalid/pkg.whl", "version": "1.0.0",
                                           "contentHash": {"algorithm": "sha256", "value": "ab" * 32}}}}
    created = automation.python3_package.create_or_update(rg, aa, "requests", link)
    assert created.name == "requests"
    assert automation.python3_package.get(rg, aa, "requests").provisioning_state == "Succeeded"
    assert [p.name for p in automation.python3_package.list_by_automation_account(rg, aa)] == ["requests"]
    automation.python3_package.delete(rg, aa, "requests")
    module = automation.module.create_or_update(rg, aa, "Az.Accounts", {**link, "location": emu["location"]})
    assert module.name == "Az.Accounts"
    assert [x.name for x in automation.module.list_by_automation_account(rg, aa)] == ["Az.Accounts"]
    automation.module.delete(rg, aa, "Az.Accounts")
    try:
        automation.module.get(rg, aa, "Az.Accounts")
        raise AssertionError("module still there")
    except ResourceNotFoundError:
        pass
