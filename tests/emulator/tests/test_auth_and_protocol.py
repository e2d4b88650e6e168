"""Entra ID, TLS, ARM authentication, api-version rules, headers and errors."""

import json
import ssl
import time
import urllib.request

import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientSecretCredential
from azure.mgmt.automation import AutomationClient


def test_sdk_token_over_verified_tls(emu):
    token = emu.credential().get_token("https://management.azure.com/.default")
    assert token.expires_on > time.time() + 3000
    requests = emu.admin("GET", "requests")
    paths = [r["path"] for r in requests if r["area"] == "login"]
    assert f"/{emu['tenant_id']}/v2.0/.well-known/openid-configuration" in paths
    assert f"/{emu['tenant_id']}/oauth2/v2.0/token" in paths
    token_log = next(r for r in requests if r["path"].endswith("/token"))
    assert emu["client_secret"] not in str(token_log) and token.token not in str(token_log)


def test_wrong_secret_is_aadsts7000215(emu):
    credential = ClientSecretCredential(emu["tenant_id"], emu["client_id"], "wrong", authority=emu["arm_endpoint"],
                                        connection_verify=emu["ca_bundle"], disable_instance_discovery=True)
    with pytest.raises(ClientAuthenticationError) as info:
        credential.get_token("https://management.azure.com/.default")
    assert "AADSTS7000215: Invalid client secret provided" in str(info.value)
    from urllib.parse import urlencode
    form = urlencode({"grant_type": "client_credentials", "client_id": emu["client_id"], "client_secret": "wrong",
                      "scope": "https://management.azure.com/.default"}).encode()
    status, _, body = emu.call("POST", f"{emu['arm_endpoint']}/{emu['tenant_id']}/oauth2/v2.0/token", raw=form,
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 401 and body["error"] == "invalid_client" and body["error_codes"] == [7000215]


def test_untrusted_ca_fails_verification(emu):
    context = ssl.create_default_context()
    with pytest.raises(urllib.error.URLError) as info:
        urllib.request.urlopen(f"{emu['arm_endpoint']}/metadata/endpoints?api-version=2019-05-01", context=context)
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)


def test_strict_verification_and_hostnames(emu):
    context = ssl.create_default_context(cafile=emu["ca_bundle"])
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    port = emu["arm_endpoint"].rsplit(":", 1)[1]
    with urllib.request.urlopen(f"https://localhost:{port}/metadata/endpoints?api-version=2019-05-01", context=context) as r:
        assert r.status == 200
    import socket
    host = emu["hybrid_service_url"].split("/")[2].split(":")[0]
    with socket.create_connection(("127.0.0.1", int(port))) as raw:
        with context.wrap_socket(raw, server_hostname=host) as tls:  # SAN *.jrds.emu.azure-automation.net
            assert tls.version()


def test_arm_requires_bearer_token(emu):
    status, headers, body = emu.call("GET", f"{emu['arm_endpoint']}{emu.account_path}?api-version=2024-10-23")
    assert status == 401 and body["error"]["code"] == "AuthenticationFailed"
    assert headers["WWW-Authenticate"].startswith("Bearer authorization_uri=")
    token = emu.token()
    head, claims, sig = token.split(".")
    status, _, body = emu.arm("GET", emu.account_path, token=f"{head}.{claims}.{sig[:-4]}AAAA")
    assert status == 401 and body["error"]["code"] == "InvalidAuthenticationToken"
    from hrw_emulator import auth
    config = json.loads((emu.state_dir / "state.json").read_text())["config"]
    expired, _ = auth.issue(config, "https://sts.windows.net/x/", "https://management.azure.com/", lifetime=-60)
    status, _, body = emu.arm("GET", emu.account_path, token=expired)
    assert status == 401 and body["error"]["code"] == "ExpiredAuthenticationToken"
    other = emu.token(scope="https://vault.azure.net/.default")
    status, _, body = emu.arm("GET", emu.account_path, token=other)
    assert status == 401 and body["error"]["code"] == "InvalidAuthenticationTokenAudience"


def test_api_version_rules(emu):
    status, _, body = emu.arm("GET", emu.account_path, api_version=None)
    assert status == 400 and body["error"]["code"] == "MissingApiVersionParameter"
    status, _, body = emu.arm("GET", emu.account_path, api_version="2099-01-01")
    assert status == 400 and body["error"]["code"] == "InvalidApiVersionParameter"
    status, _, _ = emu.arm("PUT", f"{emu.account_path}/hybridRunbookWorkerGroups/tf", {}, api_version="2023-11-01")
    assert status == 201
    status, _, body = emu.arm("GET", f"{emu.account_path}/hybridRunbookWorkerGroups/tf", api_version="2023-11-01")
    assert status == 200 and "location" not in body
    status, _, body = emu.arm("GET", emu.vm_id("x"), api_version="2024-10-23")
    assert status == 400 and body["error"]["code"] == "InvalidApiVersionParameter"


def test_case_insensitive_paths_headers_and_request_validation(emu):
    path = emu.account_path.upper().replace("/SUBSCRIPTIONS/", "/subscriptions/")
    path = path.replace(emu["subscription_id"].upper(), emu["subscription_id"])
    status, headers, body = emu.arm("GET", path, headers={"x-ms-correlation-request-id": "corr-1"})
    assert status == 200 and body["name"] == emu["automation_account"]
    assert headers["x-ms-request-id"] and headers["x-ms-correlation-request-id"] == "corr-1"
    assert int(headers["x-ms-ratelimit-remaining-subscription-reads"]) > 0
    assert int(headers["x-ms-ratelimit-remaining-subscription-writes"]) > 0
    status, _, body = emu.arm("PUT", f"{emu.account_path}/hybridRunbookWorkerGroups/bad", {"properties": {"credential": "x"}})
    assert status == 400 and body["error"]["code"] == "InvalidRequestContent"
    status, _, body = emu.arm("PUT", f"{emu.account_path}/hybridRunbookWorkerGroups/bad", raw=b"{not json",
                              headers={"Content-Type": "application/json"})
    assert status == 400 and body["error"]["code"] == "InvalidRequestContent"
    status, _, body = emu.arm("GET", f"{emu.account_path}/hybridRunbookWorkerGroups/nope")
    assert status == 404 and body["error"]["code"] == "ResourceNotFound"


def test_request_log_and_clear(emu):
    emu.arm("GET", emu.account_path)
    log = emu.admin("GET", "requests")
    entry = [r for r in log if r["area"] == "arm"][-1]
    assert entry["method"] == "GET" and entry["api-version"] == "2024-10-23" and entry["status"] == 200
    assert entry["milliseconds"] >= 0 and entry["response_body"]["name"] == emu["automation_account"]
    assert [r["seq"] for r in log] == list(range(1, len(log) + 1))
    assert emu.admin("GET", f"requests?since={len(log) - 1}") == [log[-1]]
    emu.admin("DELETE", "requests")
    assert emu.admin("GET", "requests") == []


def test_metadata_custom_cloud(emu):
    status, _, body = emu.call("GET", emu["metadata_url"])
    assert status == 200
    assert body["authentication"]["loginEndpoint"].startswith(emu["arm_endpoint"])
    assert body["authentication"]["audiences"] and body["galleryEndpoint"] and body["graphEndpoint"]
    assert body["portalEndpoint"] and body["clouds"][0]["resourceManager"].startswith(emu["arm_endpoint"])
    # A client configured only from metadata: login endpoint + audience from the document.
    login = body["authentication"]["loginEndpoint"].rstrip("/")
    audience = body["authentication"]["audiences"][0]
    credential = ClientSecretCredential(emu["tenant_id"], emu["client_id"], emu["client_secret"], authority=login,
                                        connection_verify=emu["ca_bundle"], disable_instance_discovery=True)
    client = AutomationClient(credential, emu["subscription_id"], base_url=emu["arm_endpoint"],
                              credential_scopes=[audience + ".default"], connection_verify=emu["ca_bundle"])
    assert client.automation_account.get(emu["resource_group"], emu["automation_account"]).name == emu["automation_account"]


def test_instance_discovery_document(emu):
    status, _, body = emu.call("GET", f"{emu['arm_endpoint']}/common/discovery/instance?api-version=1.1")
    assert status == 200 and body["tenant_discovery_endpoint"].endswith("/v2.0/.well-known/openid-configuration")


def test_latency_setting_delays_arm_only(emu):
    token = emu.token()
    emu.admin("POST", "settings", {"latencyMs": 150})
    started = time.perf_counter()
    emu.arm("GET", emu.account_path, token=token)
    assert time.perf_counter() - started >= 0.15
    started = time.perf_counter()
    emu.call("GET", emu["metadata_url"])
    assert time.perf_counter() - started < 0.15


def test_sdk_reuses_keep_alive_connections(emu, automation):
    automation.automation_account.get(emu["resource_group"], emu["automation_account"])
    before = emu.admin("GET", "stats")
    for _ in range(10):
        automation.automation_account.get(emu["resource_group"], emu["automation_account"])
    after = emu.admin("GET", "stats")
    assert after["requests"] - before["requests"] >= 11  # 10 GETs + one stats call
    assert after["connections"] - before["connections"] <= 2  # the stats call's own connection, at most one more
