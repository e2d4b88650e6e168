"""The lab end to end: one host, azcmagent connect, the HybridWorkerForLinux extension, hwd heartbeats and
jobs, extension removal, disconnect. The tests run in file order and share the host (see conftest.py)."""

import datetime
import json
import shlex
import subprocess
import time
import urllib.parse
import uuid

import pytest
from azure.core.credentials import AccessToken

import labtools

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

GROUP = "lab-group"
EXTENSION = "HybridWorkerExtension"
HWD_DIR_GLOB = "/var/lib/waagent/Microsoft.Azure.Automation.HybridWorker.HybridWorkerForLinux-*"
STATE = {}


class EmulatorCredential:
    """A TokenCredential that hands out the emulator's client-credentials token."""

    def __init__(self, emulator):
        self.emulator = emulator

    def get_token(self, *scopes, **kwargs):
        return AccessToken(self.emulator.token(), int(time.time()) + 3000)


def automation_client(emulator):
    from azure.mgmt.automation import AutomationClient

    return AutomationClient(EmulatorCredential(emulator), emulator["subscription_id"], base_url=emulator["arm_endpoint"],
                            connection_verify=emulator["ca_bundle"])


def connect_command(emulator, secret=None, name=None, config=None):
    """azcmagent connect with the service principal as flags, or from the file ``config`` when given."""
    if config:
        credentials = ["--config", config]
    else:
        credentials = ["--service-principal-id", emulator["client_id"],
                       "--service-principal-secret", secret or emulator["client_secret"]]
    args = ["azcmagent", "connect", *credentials, "--tenant-id", emulator["tenant_id"],
            "--subscription-id", emulator["subscription_id"], "--resource-group", emulator["resource_group"],
            "--location", emulator["location"]]
    if name:
        args += ["--resource-name", name]
    return shlex.join(args)


def show(host):
    return json.loads(host.ssh("azcmagent show -j").stdout)


def parse_time(value):
    return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def test_up_twice_leaves_one_wired_host(lab_host, emulator, timings):
    emulator_json = str(labtools.STATE_DIR / "emulator.json")
    _, seconds = labtools.run_script("lab.sh", "up", "1", "--emulator-json", emulator_json)
    timings["up_again"] = seconds
    hosts = labtools.inventory_hosts()
    assert list(hosts) == [lab_host.name]
    assert hosts[lab_host.name]["ansible_user"] == "root"
    names = subprocess.run(["podman", "ps", "--filter", f"label=io.hrw-lab.instance=hrw-lab-{labtools.INSTANCE}",
                            "--format", "{{.Names}}"], capture_output=True, text=True, check=True).stdout.split()
    assert names == [lab_host.name]
    assert lab_host.ssh("systemctl is-system-running --wait", check=False).stdout.strip() == "running"
    # The jrds host name resolves to the emulator, whose certificate the host trusts.
    jrds = urllib.parse.urlsplit(emulator["hybrid_service_url"])
    assert jrds.hostname in lab_host.ssh("cat /etc/hosts").stdout
    probe = lab_host.ssh(f"curl -sS -o /dev/null -w '%{{http_code}}' -X POST -H 'Content-Type: application/json' "
                         f"-d '{{}}' {emulator['hybrid_service_url']}/heartbeat", check=False)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout in ("400", "404")
    assert "stand-in for lab tests" in lab_host.ssh("azcmagent --version").stdout
    assert show(lab_host)["status"] == "Disconnected"


def test_connect_with_a_wrong_secret_fails_without_echoing_it(lab_host, emulator):
    # A leading "-" on purpose: like the real agent's flag parser, the stand-in takes the next argument as the value,
    # so this is an authentication failure (exit 1), not a usage error (exit 2).
    wrong = "-wrong-" + uuid.uuid4().hex
    proc = lab_host.ssh(connect_command(emulator, secret=wrong), check=False)
    assert proc.returncode == 1, proc.stderr
    assert "token" in proc.stderr.lower()
    assert wrong not in proc.stdout + proc.stderr
    assert show(lab_host)["status"] == "Disconnected"


def test_connect_reads_the_service_principal_from_a_config_file(lab_host, emulator):
    bad = lab_host.ssh("azcmagent connect --config /nonexistent.json", check=False)
    assert bad.returncode == 2 and "/nonexistent.json" in bad.stderr
    lab_host.ssh("umask 077 && printf '%s' " + shlex.quote(json.dumps({"bogus-option": "x"})) + " > /root/bad.json")
    bad = lab_host.ssh("azcmagent connect --config /root/bad.json", check=False)
    assert bad.returncode == 2 and "bogus-option" in bad.stderr
    assert show(lab_host)["status"] == "Disconnected"


def test_azcmagent_connect_creates_the_arc_machine(lab_host, emulator):
    STATE["connect_started"] = time.monotonic()
    # The service principal from --config (Microsoft's advice: keep the secret off the command line); the rest as flags.
    config = json.dumps({"service-principal-id": emulator["client_id"], "service-principal-secret": emulator["client_secret"]})
    lab_host.ssh("umask 077 && printf '%s' " + shlex.quote(config) + " > /root/sp.json")
    proc = lab_host.ssh(connect_command(emulator, config="/root/sp.json"))
    lab_host.ssh("rm -f /root/sp.json /root/bad.json")
    assert emulator["client_secret"] not in proc.stdout + proc.stderr
    status = show(lab_host)
    expected_id = (f"/subscriptions/{emulator['subscription_id']}/resourceGroups/{emulator['resource_group']}"
                   f"/providers/Microsoft.HybridCompute/machines/{lab_host.name}")
    assert status["status"] == "Connected"
    assert status["resourceId"].lower() == expected_id.lower()
    assert status["resourceName"] == lab_host.name
    assert status["subscriptionId"] == emulator["subscription_id"]
    assert status["resourceGroup"] == emulator["resource_group"]
    assert status["location"] == emulator["location"]
    assert status["vmId"]
    code, _, machine = emulator.arm("GET", status["resourceId"], labtools.MACHINE_API)
    assert code == 200, machine
    assert machine["identity"]["type"] == "SystemAssigned"
    assert machine["identity"]["principalId"]
    STATE["machine_id"] = machine["id"]
    again = lab_host.ssh(connect_command(emulator), check=False)
    assert again.returncode != 0 and "already connected" in again.stderr


def test_extension_installs_hwd_which_heartbeats(lab_host, emulator, timings):
    from azure.mgmt.automation.models import (HybridRunbookWorkerCreateOrUpdateParameters,
                                              HybridRunbookWorkerCreateParameters,
                                              HybridRunbookWorkerGroupCreateOrUpdateParameters)

    machine_id = STATE["machine_id"]
    client = automation_client(emulator)
    rg, account = emulator["resource_group"], emulator["automation_account"]
    client.hybrid_runbook_worker_group.create(rg, account, GROUP, HybridRunbookWorkerGroupCreateOrUpdateParameters())
    worker_id = str(uuid.uuid4())
    client.hybrid_runbook_workers.create(rg, account, GROUP, worker_id, HybridRunbookWorkerCreateParameters(
        properties=HybridRunbookWorkerCreateOrUpdateParameters(vm_resource_id=machine_id)))
    url = client.automation_account.get(rg, account).automation_hybrid_service_url
    assert url == emulator["hybrid_service_url"]

    body = {"location": emulator["location"], "properties": {
        "publisher": "Microsoft.Azure.Automation.HybridWorker", "type": "HybridWorkerForLinux",
        "typeHandlerVersion": "1.1", "autoUpgradeMinorVersion": True, "enableAutomaticUpgrade": True,
        "settings": {"AutomationAccountURL": url}}}
    started = time.monotonic()
    code, headers, answer = emulator.arm("PUT", f"{machine_id}/extensions/{EXTENSION}", labtools.MACHINE_API, body=body)
    assert code in (200, 201, 202), answer
    result, operation = emulator.wait_operation(headers)
    assert result == "Succeeded", operation
    timings["extension_put_to_succeeded"] = time.monotonic() - started

    def fresh():
        worker = client.hybrid_runbook_workers.get(rg, account, GROUP, worker_id)
        seen = worker.properties.last_seen_date_time
        if seen and (datetime.datetime.now(datetime.timezone.utc) - seen).total_seconds() < 15:
            return worker
        return None

    worker = labtools.wait_for(fresh, timeout=30, what="a fresh lastSeenDateTime")
    timings["connect_to_heartbeat"] = time.monotonic() - STATE["connect_started"]
    timings["extension_put_to_heartbeat"] = time.monotonic() - started
    assert worker.properties.worker_type == "HybridV2"
    assert worker.properties.worker_name == lab_host.name
    assert worker.properties.ip == lab_host.vars["ansible_host"]
    assert lab_host.ssh("systemctl is-active hwd").stdout.strip() == "active"
    assert lab_host.ssh("systemctl show -p User --value hwd").stdout.strip() == "hweautomation"
    assert lab_host.ssh("ps -o user= -C python3 | sort -u").stdout.split().count("hweautomation") == 1
    layout = lab_host.ssh(f"ls -d {HWD_DIR_GLOB} /var/log/azure/Microsoft.Azure.Automation.HybridWorker.HybridWorkerForLinux "
                          "/home/hweautomation/state && grep -rl AutomationAccountURL "
                          "/var/lib/waagent/Microsoft.Azure.Automation.HybridWorker.HybridWorkerForLinux/config")
    assert "HybridWorkerForLinux-1.1.23" in layout.stdout  # the newest build of typeHandlerVersion 1.1, as Azure installs
    first = worker.properties.last_seen_date_time
    # hwd keeps heartbeating (every 5 s in the lab).
    labtools.wait_for(lambda: client.hybrid_runbook_workers.get(rg, account, GROUP, worker_id)
                      .properties.last_seen_date_time > first, timeout=20, what="a second heartbeat")
    STATE["worker_id"] = worker_id


def test_hwd_runs_a_python_job(lab_host, emulator):
    path = emulator.account_path
    runbook = f"{path}/runbooks/lab-hello"
    code, _, answer = emulator.arm("PUT", runbook, "2024-10-23", body={
        "location": emulator["location"], "properties": {"runbookType": "Python3", "logProgress": False, "logVerbose": False}})
    assert code in (200, 201), answer
    script = "import socket, sys\nprint('hello from', socket.gethostname(), 'args', ' '.join(sys.argv[1:]))\n"
    code, _, answer = emulator.arm("PUT", f"{runbook}/draft/content", "2024-10-23", text=script)
    assert code in (200, 201, 202), answer
    code, headers, answer = emulator.arm("POST", f"{runbook}/publish", "2024-10-23")
    assert code in (200, 202), answer
    if code == 202:
        assert emulator.wait_operation(headers)[0] == "Succeeded"
    job = f"{path}/jobs/lab-{uuid.uuid4().hex[:8]}"
    code, _, answer = emulator.arm("PUT", job, "2024-10-23", body={"properties": {
        "runbook": {"name": "lab-hello"}, "runOn": GROUP, "parameters": {"who": "lab"}}})
    assert code in (200, 201), answer

    def finished():
        status = emulator.arm("GET", job, "2024-10-23")[2]["properties"]["status"]
        return status if status in ("Completed", "Failed", "Suspended", "Stopped") else None

    assert labtools.wait_for(finished, timeout=30, what="the job to finish") == "Completed"
    output = emulator.arm("GET", f"{job}/output", "2024-10-23")[2]
    assert f"hello from {lab_host.name} args lab" in str(output)


def test_hwd_survives_a_deleted_worker_record(lab_host, emulator):
    from azure.mgmt.automation.models import HybridRunbookWorkerCreateOrUpdateParameters, HybridRunbookWorkerCreateParameters

    client = automation_client(emulator)
    rg, account = emulator["resource_group"], emulator["automation_account"]
    client.hybrid_runbook_workers.delete(rg, account, GROUP, STATE["worker_id"])
    log = "/var/log/azure/Microsoft.Azure.Automation.HybridWorker.HybridWorkerForLinux/hwd.log"
    labtools.wait_for(lambda: "Account/Group specified does not exist" in lab_host.ssh(f"tail -n 5 {log}").stdout,
                      timeout=20, what="hwd to log the missing record")
    assert lab_host.ssh("systemctl is-active hwd").stdout.strip() == "active"
    client.hybrid_runbook_workers.create(rg, account, GROUP, STATE["worker_id"], HybridRunbookWorkerCreateParameters(
        properties=HybridRunbookWorkerCreateOrUpdateParameters(vm_resource_id=STATE["machine_id"])))
    labtools.wait_for(lambda: client.hybrid_runbook_workers.get(rg, account, GROUP, STATE["worker_id"])
                      .properties.last_seen_date_time, timeout=20, what="heartbeats to resume")


def test_hwd_uses_proxy_url_from_protected_settings(lab_host, emulator):
    from connect_proxy import ConnectProxy

    address = urllib.parse.urlsplit(emulator["arm_endpoint"]).hostname
    proxy = ConnectProxy(address, upstream=address)
    try:
        body = {"location": emulator["location"], "properties": {
            "publisher": "Microsoft.Azure.Automation.HybridWorker", "type": "HybridWorkerForLinux",
            "typeHandlerVersion": "1.1", "settings": {"AutomationAccountURL": emulator["hybrid_service_url"]},
            "protectedSettings": {"Proxy_URL": f"http://labuser:labpass@{address}:{proxy.port}"}}}
        code, headers, answer = emulator.arm("PUT", f"{STATE['machine_id']}/extensions/{EXTENSION}",
                                             labtools.MACHINE_API, body=body)
        assert code in (200, 201, 202), answer
        assert emulator.wait_operation(headers)[0] == "Succeeded"
        labtools.wait_for(lambda: proxy.seen, timeout=20, what="hwd to call through the proxy")
        jrds = urllib.parse.urlsplit(emulator["hybrid_service_url"])
        assert proxy.seen[0]["target"] == f"{jrds.hostname}:{jrds.port}"
        assert proxy.seen[0]["proxy_authorization"] == "Basic bGFidXNlcjpsYWJwYXNz"  # labuser:labpass
        log = lab_host.ssh("cat /var/log/azure/Microsoft.Azure.Automation.HybridWorker.HybridWorkerForLinux/hwd.log").stdout
        assert "labpass" not in log
    finally:
        proxy.close()


def test_bad_extension_settings_fail_the_operation(lab_host, emulator):
    body = {"location": emulator["location"], "properties": {
        "publisher": "Microsoft.Azure.Automation.HybridWorker", "type": "HybridWorkerForLinux",
        "typeHandlerVersion": "1.1", "settings": {}}}
    code, headers, answer = emulator.arm("PUT", f"{STATE['machine_id']}/extensions/{EXTENSION}", labtools.MACHINE_API,
                                         body=body)
    assert code in (200, 201, 202), answer
    result, operation = emulator.wait_operation(headers)
    assert result == "Failed"
    assert "AutomationAccountURL" in json.dumps(operation)
    code, _, extension = emulator.arm("GET", f"{STATE['machine_id']}/extensions/{EXTENSION}", labtools.MACHINE_API)
    assert extension["properties"]["provisioningState"] == "Failed"


def test_extension_removal_stops_hwd(lab_host, emulator, timings):
    started = time.monotonic()
    code, headers, answer = emulator.arm("DELETE", f"{STATE['machine_id']}/extensions/{EXTENSION}", labtools.MACHINE_API)
    assert code in (200, 202, 204), answer
    if code == 202:
        result, operation = emulator.wait_operation(headers)
        assert result == "Succeeded", operation
    timings["extension_delete"] = time.monotonic() - started
    assert lab_host.ssh("systemctl is-active hwd", check=False).stdout.strip() in ("inactive", "unknown")
    assert lab_host.ssh(f"ls -d {HWD_DIR_GLOB}", check=False).returncode != 0
    assert lab_host.ssh("id hweautomation").returncode == 0
    code, _, _ = emulator.arm("GET", f"{STATE['machine_id']}/extensions/{EXTENSION}", labtools.MACHINE_API)
    assert code == 404


def test_azcmagent_disconnect_deletes_the_machine(lab_host, emulator):
    args = shlex.join(["azcmagent", "disconnect", "--service-principal-id", emulator["client_id"],
                       "--service-principal-secret", emulator["client_secret"]])
    proc = lab_host.ssh(args)
    assert emulator["client_secret"] not in proc.stdout + proc.stderr
    assert show(lab_host)["status"] == "Disconnected"
    code, _, _ = emulator.arm("GET", STATE["machine_id"], labtools.MACHINE_API)
    assert code == 404
    again = lab_host.ssh(args, check=False)
    assert again.returncode != 0 and "not connected" in again.stderr


def test_down_twice_succeeds(lab_host):
    labtools.run_script("lab.sh", "down")
    labtools.run_script("lab.sh", "down")
    names = subprocess.run(["podman", "ps", "-a", "--filter", f"label=io.hrw-lab.instance=hrw-lab-{labtools.INSTANCE}",
                            "--format", "{{.Names}}"], capture_output=True, text=True, check=True).stdout.split()
    assert names == []
    assert not (labtools.STATE_DIR / "inventory.yml").exists()
