"""The compact API schema: up to date with the official specs, self-contained, and checked as strictly as oav does."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hrw_emulator.specs import SCHEMA_DIR, SpecIndex

TOOLS = Path(__file__).resolve().parents[1] / "tools"
sys.path.insert(0, str(TOOLS))
import compact_schema  # noqa: E402

SPECS = SpecIndex()
ROOTS = [r for r in compact_schema.default_roots() if (Path(r) / "specification").is_dir()]
COMMITTED = sorted(SCHEMA_DIR.glob("*.json"))
VM = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{name}"


def test_committed_schema_is_up_to_date_with_the_specs():
    """Regenerate from HRW_AZURE_SPECS / ../shared/azure-specs; every file whose sources are found must match."""
    if not ROOTS:
        pytest.skip("Azure REST specs not found (set HRW_AZURE_SPECS or place them at ../shared/azure-specs): "
                    "the staleness comparison needs them; the emulator itself does not")
    done, skipped = compact_schema.generate(ROOTS, compact_schema.committed_provenance(SCHEMA_DIR))
    assert done, f"none of the compact schema's sources were found under {ROOTS}: {skipped}"
    stale = [name for name, text in done.items()
             if not (SCHEMA_DIR / name).is_file() or (SCHEMA_DIR / name).read_text() != text]
    assert stale == [], f"out of date: {stale}; regenerate with python {compact_schema.GENERATOR}"
    # Compared only against the sources found here; the others (listed in `skipped`) are left as committed.


def test_staleness_check_catches_a_changed_spec(tmp_path):
    """--check fails when a swagger changes (an enum value added) and passes again after regenerating."""
    if not ROOTS:
        pytest.skip("Azure REST specs not found (set HRW_AZURE_SPECS or place them at ../shared/azure-specs)")
    rel = compact_schema.OUTPUTS[0]["files"][2]  # hybridRunbookWorkerGroup.json of 2024-10-23
    copy = tmp_path / "specs"
    copy.mkdir()
    for root in reversed(ROOTS):
        subprocess.run(["cp", "-r", "--no-preserve=mode", str(Path(root) / "specification"), str(copy)], check=True)
    spec = copy / "specification" / rel
    doc = json.loads(spec.read_text(encoding="utf-8-sig"))
    doc["definitions"]["HybridRunbookWorkerGroupProperties"]["properties"]["groupType"]["enum"].append("Hybrid")
    spec.write_text(json.dumps(doc, indent=2))
    out = tmp_path / "schema"
    out.mkdir()
    for path in COMMITTED:
        (out / path.name).write_text(path.read_text())
    tool = [sys.executable, str(TOOLS / "compact_schema.py"), "--specs", str(copy), "--out", str(out)]
    stale = subprocess.run([*tool, "--check"], capture_output=True, text=True)
    assert stale.returncode == 1 and "automation-2024-10-23.json" in stale.stderr, stale.stderr
    assert subprocess.run(tool, capture_output=True, text=True).returncode == 0
    assert subprocess.run([*tool, "--check"], capture_output=True, text=True).returncode == 0
    assert '"Hybrid"' in (out / "automation-2024-10-23.json").read_text()


def test_generator_without_specs_says_so(tmp_path, monkeypatch):
    env = dict(os.environ, **{compact_schema.ENV_VAR: str(tmp_path / "none")})
    result = subprocess.run([sys.executable, str(TOOLS / "compact_schema.py"), "--out", str(tmp_path)], env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0 and "source not found" in result.stderr  # every output skipped, nothing written
    assert list(tmp_path.glob("*.json")) == []
    monkeypatch.setenv(compact_schema.ENV_VAR, str(tmp_path / "none"))
    assert compact_schema.default_roots() == [tmp_path / "none"]
    monkeypatch.delenv(compact_schema.ENV_VAR)
    # A start path with no ancestors of ours: tmp_path may sit below a folder that has shared/azure-specs beside it.
    assert compact_schema.default_roots(start="/nonexistent-hrw-emulator-test/x/y.py") == []
    env.pop(compact_schema.ENV_VAR)
    result = subprocess.run([sys.executable, str(TOOLS / "compact_schema.py"), "--out", str(tmp_path)],
                            env=env, capture_output=True, text=True, cwd=tmp_path)
    if not ROOTS:
        assert result.returncode == 2 and compact_schema.ENV_VAR in result.stderr


@pytest.mark.parametrize("path", COMMITTED, ids=[p.name for p in COMMITTED])
def test_compact_files_hold_facts_only_and_are_self_contained(path):
    text = path.read_text()
    data = json.loads(text)
    assert text == compact_schema.render(data), "not in the generator's canonical form (sorted keys)"
    refs, keywords = set(), set()

    def walk(node):
        """A schema node: its keywords are collected; under "properties" the keys are property names."""
        if isinstance(node, dict):
            keywords.update(node)
            if "$ref" in node:
                refs.add(node["$ref"])
            for key, value in node.items():
                if key == "properties":
                    for sub in value.values():
                        walk(sub)
                elif key in ("items", "additionalProperties", "schema"):
                    walk(value)
    for definition in data["definitions"].values():
        walk(definition)
    for operation in data["operations"]:
        keywords.update(operation)
        for parameter in operation["parameters"]:
            walk(parameter)
        walk(operation["body"] or {})
        for response in operation["responses"].values():
            walk(response or {})
    assert keywords.isdisjoint({"description", "x-ms-examples", "example", "examples", "title", "allOf"}), keywords
    assert all(ref.startswith("#/definitions/") for ref in refs), sorted(refs)
    assert {ref.rsplit("/", 1)[1] for ref in refs} <= set(data["definitions"])
    for source in data["sources"]:
        assert source["path"].startswith("specification/") and len(source["sha256"]) == 64
    assert data["operations"], "no operations"


def test_emulator_needs_no_specs_folder(tmp_path):
    """The emulator starts and validates with HRW_AZURE_SPECS pointing nowhere and no shared/ above its copy."""
    package = Path(__file__).resolve().parents[1] / "hrw_emulator"
    copy = tmp_path / "hrw_emulator"
    subprocess.run(["cp", "-r", str(package), str(copy)], check=True)
    env = dict(os.environ, PYTHONPATH=str(tmp_path), HRW_AZURE_SPECS=str(tmp_path / "absent"))
    code = ("from hrw_emulator.specs import SpecIndex; s = SpecIndex(); "
            "print(sorted({(o.provider, o.api_version) for o in s.operations}))")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "('microsoft.automation', '2024-10-23')" in result.stdout
    assert "('microsoft.hybridcompute', '2026-09-01')" in result.stdout


def _schema(operation_id, version="2024-10-23", status=200, provider=None):
    operation = SPECS.by_id[(provider, version, operation_id) if provider else (version, operation_id)]
    return operation, SPECS.response_schema(operation, status)[0]


GROUP = {"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Automation/automationAccounts/a/hybridRunbookWorkerGroups/g",
         "name": "g", "type": "Microsoft.Automation/AutomationAccounts/HybridRunbookWorkerGroups", "location": "westeurope",
         "properties": {"groupType": "User", "credential": {"name": "c"}}}


def test_response_with_an_additional_property_fails():
    _, schema = _schema("HybridRunbookWorkerGroup_Get")
    assert SPECS.errors(schema, GROUP) == []
    bad = json.loads(json.dumps(GROUP))
    bad["properties"]["workerCount"] = 3
    bad["etag"] = "x"
    errors = SPECS.errors(schema, bad)
    assert any("'etag' was unexpected" in e for e in errors), errors
    assert any(e.startswith("properties:") and "'workerCount' was unexpected" in e for e in errors), errors


def test_additional_properties_stay_allowed_where_the_schema_allows_them_and_in_requests():
    _, schema = _schema("HybridRunbookWorkerGroup_Get")
    tagged = dict(GROUP, tags={"any": "thing", "other": "value"})
    assert SPECS.errors(schema, tagged) == []  # tags: additionalProperties {type: string}
    assert SPECS.errors(schema, dict(GROUP, tags={"n": 1})) != []
    operation = SPECS.by_id[("2024-10-23", "HybridRunbookWorkerGroup_Create")]
    assert SPECS.errors(operation.body_schema, {"name": "g", "properties": {}, "somethingNew": 1}) == []


def test_read_only_allowed_in_responses_ignored_in_requests():
    operation = SPECS.by_id[("microsoft.hybridcompute", "2026-09-01", "Machines_CreateOrUpdate")]
    body = {"id": "/x", "name": "m", "location": "westeurope",
            "properties": {"osType": "linux", "provisioningState": "Failed"}}
    assert SPECS.errors(operation.body_schema, body) == []  # read-only: not an error in a request
    assert SPECS.read_only_paths(operation.body_schema, body) == ["id", "name", "properties/provisioningState"]
    stripped = SPECS.strip_read_only(operation.body_schema, body)
    assert stripped == {"location": "westeurope", "properties": {"osType": "linux"}}
    response = SPECS.response_schema(operation, 200)[0]
    assert SPECS.errors(response, dict(body, type="Microsoft.HybridCompute/machines")) == []


def test_read_only_required_property_is_not_required_in_a_request():
    # TrackedResource: location required; Resource id/name/type read-only. A read-only property is never required
    # from the client, even where the schema lists it under required.
    from hrw_emulator.specs import _prepare
    node = {"type": "object", "required": ["id", "location"], "properties": {"id": {"type": "string", "readOnly": True},
                                                                          "location": {"type": "string"}}}
    assert _prepare(node, "request")["required"] == ["location"]
    assert _prepare(node, "response")["required"] == ["id", "location"]
    assert _prepare(node, "response")["additionalProperties"] is False
    assert "additionalProperties" not in _prepare(node, "request")


def test_secret_in_a_response_fails():
    from hrw_emulator.specs import Schema
    data = {"definitions": {"S": {"type": "object", "properties": {"pw": {"type": "string", "x-ms-secret": True}}}},
            "operations": []}
    SPECS.files["test-secret.json"] = data
    try:
        assert SPECS.errors(Schema({"$ref": "#/definitions/S"}, "test-secret.json", "response"), {"pw": "x"}) != []
        assert SPECS.errors(Schema({"$ref": "#/definitions/S"}, "test-secret.json", "request"), {"pw": "x"}) == []
    finally:
        del SPECS.files["test-secret.json"]


def test_response_violation_becomes_500_naming_it():
    """The emulator's own check (--validate-responses): a handler answer that breaks the schema is a 500
    ResponseValidationFailed naming the violation, and is listed for GET /admin/response-errors."""
    from types import SimpleNamespace

    from hrw_emulator.errors import ArmError
    from hrw_emulator.server import Handler
    operation, _ = _schema("HybridRunbookWorkerGroup_Get")
    emu = SimpleNamespace(specs=SPECS, response_errors=[])
    Handler._validate_response(emu, operation, "GET", "/g", 200, GROUP)
    assert emu.response_errors == []
    with pytest.raises(ArmError) as raised:
        Handler._validate_response(emu, operation, "GET", "/g", 200, dict(GROUP, etag="x"))
    assert raised.value.status == 500 and raised.value.code == "ResponseValidationFailed"
    assert "'etag' was unexpected" in raised.value.message and "HybridRunbookWorkerGroup_Get" in raised.value.message
    assert emu.response_errors[0]["operationId"] == "HybridRunbookWorkerGroup_Get"


def test_emulator_answers_pass_the_strict_check(emulator):
    """Groups in both Automation api-versions and an Arc machine with an extension: no answer breaks the schema."""
    emulator.admin("POST", "reset")
    acct = emulator.account_path
    status, _, body = emulator.arm("PUT", f"{acct}/hybridRunbookWorkerGroups/strict", {"properties": {}})
    assert status == 201, body
    for version in ("2024-10-23", "2023-11-01"):
        status, _, body = emulator.arm("GET", f"{acct}/hybridRunbookWorkerGroups/strict", api_version=version)
        assert status == 200, body
    assert emulator.admin("GET", "response-errors") == []


def test_compute_and_hybridcompute_checked_at_the_collections_api_versions():
    """plugins/module_utils/_arm.py calls Compute 2024-07-01 and HybridCompute 2024-07-10; both have a schema to check
    against (HybridCompute 2024-07-10 falls back to the newest HybridCompute schema when its own is not committed)."""
    assert SPECS.schema_version("Microsoft.Compute", "2024-07-01") == "2024-07-01"
    assert SPECS.schema_version("Microsoft.Compute", "2026-04-01") == "2024-07-01"  # SDK default: nearest schema
    assert SPECS.schema_version("Microsoft.HybridCompute", "2024-07-10") in SPECS.versions["microsoft.hybridcompute"]
    wanted = {("GET", "VirtualMachines_Get"), ("PATCH", "VirtualMachines_Update"), ("PUT", "VirtualMachineExtensions_CreateOrUpdate"),
              ("GET", "VirtualMachineExtensions_Get"), ("DELETE", "VirtualMachineExtensions_Delete")}
    found = {(o.method, o.operation_id) for o in SPECS.operations if o.provider == "microsoft.compute"}
    assert wanted <= found
    ext = SPECS.by_id[("microsoft.compute", "2024-07-01", "VirtualMachineExtensions_Get")]
    answer = {"id": "/x", "name": "e", "type": "Microsoft.Compute/virtualMachines/extensions", "location": "westeurope",
              "properties": {"publisher": "Microsoft.Azure.Automation.HybridWorker", "type": "HybridWorkerForLinux",
                             "typeHandlerVersion": "1.1", "provisioningState": "Succeeded", "settings": {"a": 1}}}
    schema = SPECS.response_schema(ext, 200)[0]
    assert SPECS.errors(schema, answer) == []
    assert SPECS.errors(schema, json.loads(json.dumps(answer).replace('"settings"', '"instanceView": null, "settings"')))
    assert SPECS.errors(schema, dict(answer, properties=dict(answer["properties"], unknownField=1)))


def _vm_path(emu, name):
    return VM.format(sub=emu["subscription_id"], rg=emu["resource_group"], name=name)


def test_compute_requests_are_validated(emu):
    path = _vm_path(emu, "strictvm")
    status, _, body = emu.arm("PUT", path, {"location": emu["location"], "identity": {"type": "Bogus"}}, api_version="2024-07-01")
    assert status == 400 and body["error"]["code"] == "InvalidRequestContent" and "identity/type" in body["error"]["message"]
    status, _, body = emu.arm("PUT", path, {"location": emu["location"]}, api_version="2024-07-01")
    assert status in (200, 201), body
    status, _, body = emu.arm("PATCH", path, {"identity": {"type": "SystemAssigned"}, "properties": {"licenseType": 7}},
                              api_version="2024-07-01")
    assert status == 400 and "properties/licenseType" in body["error"]["message"], body


def test_read_only_request_properties_are_not_echoed(emu):
    """ARM ignores read-only properties of a request: a client's instanceView or vmId never comes back."""
    path = _vm_path(emu, "rovm")
    body = {"location": emu["location"], "properties": {"vmId": "client-chosen", "instanceView": {"computerName": "fake"},
                                                        "provisioningState": "Failed"}}
    status, _, answer = emu.arm("PUT", path, body, api_version="2024-07-01")
    assert status in (200, 201), answer
    status, _, answer = emu.arm("GET", path, api_version="2024-07-01")
    props = answer["properties"]
    assert "instanceView" not in props and props["vmId"] != "client-chosen" and props["provisioningState"] == "Succeeded"


def test_vm_identity_and_extension_answers_pass_the_strict_check(emu):
    path = _vm_path(emu, "extvm")
    assert emu.arm("PUT", path, {"location": emu["location"]}, api_version="2024-07-01")[0] in (200, 201)
    status, _, vm = emu.arm("PATCH", path, {"identity": {"type": "SystemAssigned"}}, api_version="2024-07-01")
    assert status == 200 and vm["identity"]["principalId"], vm
    ext = {"location": emu["location"], "properties": {"publisher": "Microsoft.Azure.Automation.HybridWorker",
                                                         "type": "HybridWorkerForLinux", "typeHandlerVersion": "1.1",
                                                         "settings": {"AutomationAccountURL": emu["hybrid_service_url"]}}}
    status, _, answer = emu.arm("PUT", f"{path}/extensions/HybridWorkerExtension", ext, api_version="2024-07-01")
    assert status in (200, 201), answer
    for query in ("", "?$expand=instanceView"):
        assert emu.arm("GET", f"{path}/extensions/HybridWorkerExtension{query}", api_version="2024-07-01")[0] == 200
        assert emu.arm("GET", f"{path}{query}", api_version="2024-07-01")[0] == 200
    assert emu.arm("GET", f"{path}/extensions", api_version="2024-07-01")[0] == 200
    deadline = time.monotonic() + 30  # a DELETE while the PUT's operation runs is refused (409), as on Azure
    while emu.arm("GET", f"{path}/extensions/HybridWorkerExtension", api_version="2024-07-01")[2]["properties"].get(
            "provisioningState") in ("Creating", "Updating") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert emu.arm("DELETE", f"{path}/extensions/HybridWorkerExtension", api_version="2024-07-01")[0] in (200, 202, 204)
    assert emu.admin("GET", "response-errors") == []


def test_arc_machine_answers_at_2024_07_10_pass_the_strict_check(emu):
    """The collection calls HybridCompute 2024-07-10: machine and extension answers there must fit that version."""
    assert SPECS.schema_version("Microsoft.HybridCompute", "2024-07-10") == "2024-07-10"
    path = (f"/subscriptions/{emu['subscription_id']}/resourceGroups/{emu['resource_group']}/providers/"
            "Microsoft.HybridCompute/machines/arc2407")
    version = "2024-07-10"
    status, _, machine = emu.arm("PUT", path, {"location": emu["location"], "properties": {"osType": "linux"}}, api_version=version)
    assert status == 200, machine
    assert emu.arm("GET", path, api_version=version)[0] == 200
    status, _, body = emu.arm("PATCH", path, {"identity": {"type": "Bogus"}}, api_version=version)
    assert status == 400 and "identity/type" in body["error"]["message"]
    ext = {"location": emu["location"], "properties": {"publisher": "Microsoft.Azure.Automation.HybridWorker",
                                                         "type": "HybridWorkerForLinux", "typeHandlerVersion": "1.1",
                                                         "settings": {"AutomationAccountURL": emu["hybrid_service_url"]}}}
    status, _, answer = emu.arm("PUT", f"{path}/extensions/HybridWorkerExtension", ext, api_version=version)
    assert status in (200, 202), answer
    emu.admin("POST", "complete-operations", {})
    assert emu.arm("GET", f"{path}/extensions/HybridWorkerExtension", api_version=version)[0] == 200
    assert emu.arm("GET", f"{path}/extensions", api_version=version)[0] == 200
    assert emu.arm("DELETE", f"{path}/extensions/HybridWorkerExtension", api_version=version)[0] in (200, 202, 204)
    emu.admin("POST", "complete-operations", {})
    status, _, answer = emu.arm("DELETE", path, api_version=version)
    assert status in (200, 204), answer  # 2024-07-10 documents no 202 for a machine delete
    assert emu.admin("GET", "response-errors") == []


def test_arc_machine_without_identity_fits_each_api_version(emu):
    """2024-07-10 knows only identity type SystemAssigned: a machine without identity has no identity property there,
    while 2026-09-01 says type None (found by the strict check in the hrw_register integration target)."""
    ids = emu.admin("POST", "machines", {"count": 1, "prefix": "noid", "identity": False})["ids"]
    status, _, old = emu.arm("GET", ids[0], api_version="2024-07-10")
    assert status == 200 and "identity" not in old, old
    status, _, new = emu.arm("GET", ids[0], api_version="2026-09-01")
    assert status == 200 and new["identity"]["type"] == "None", new
    assert emu.admin("GET", "response-errors") == []
