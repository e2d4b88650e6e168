# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ArmClient: backoff, Retry-After, error translation, paging, LRO polling and its deadline."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import email.utils

import pytest

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._arm import (
    ArmClient, RetryPolicy, TransportError, error_details, parse_retry_after)
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._errors import (
    ArmError, ConflictError, NotFoundError, OperationFailed, OperationTimeout, ThrottledError)

from hrw_fakes import FakeClock, ScriptedTransport, resp


def client(responses, max_retries=4, rand=None):
    clock = FakeClock()
    warnings = []
    arm = ArmClient(ScriptedTransport(responses), "sub", warn=warnings.append, clock=clock, sleep=clock.sleep,
                    retry=RetryPolicy(max_retries=max_retries, base=1.0, cap=8.0, rand=rand or (lambda a, b: b)))
    return arm, clock, warnings


class TestBackoff:
    def test_exponential_and_capped(self):
        policy = RetryPolicy(base=1.0, cap=8.0, rand=lambda a, b: b)
        assert [policy.delay(n) for n in range(6)] == [1, 2, 4, 8, 8, 8]

    def test_full_jitter_stays_below_the_cap(self):
        policy = RetryPolicy(base=1.0, cap=8.0)
        values = [policy.delay(10) for dummy in range(200)]
        assert all(0 <= v <= 8 for v in values)
        assert len(set(values)) > 100

    def test_retry_after_is_a_floor(self):
        policy = RetryPolicy(base=1.0, cap=8.0, rand=lambda a, b: b)
        assert policy.delay(0, retry_after=5) == 5
        assert policy.delay(4, retry_after=5) == 8

    @pytest.mark.parametrize("headers,expected", [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "0"}, 0.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"x-ms-retry-after-ms": "250"}, 0.25),
        ({}, None),
        ({"retry-after": "soon"}, None),
    ])
    def test_parse_retry_after(self, headers, expected):
        assert parse_retry_after(headers) == expected

    def test_parse_retry_after_http_date(self):
        header = email.utils.formatdate(1000030, usegmt=True)
        assert parse_retry_after({"retry-after": header}, now=1000000) == pytest.approx(30)


class TestRequest:
    def test_429_waits_retry_after_and_warns(self):
        arm, clock, warnings = client([resp(429, {"error": {"code": "TooManyRequests"}}, {"Retry-After": "6"}),
                                       resp(200, {"ok": True})])
        response = arm.request("automation", "PUT", "/x", "create", "thing 'x'", body={})
        assert response.body == {"ok": True}
        assert clock.sleeps == [6.0]
        assert arm.stats == {"reads": 0, "writes": 2, "retries": 1, "throttled": 1}
        assert len(warnings) == 1 and "HTTP 429 TooManyRequests" in warnings[0] and "Retry-After 6.0s" in warnings[0]

    def test_5xx_and_connection_errors_are_retried(self):
        arm, clock, warnings = client([resp(503, {"error": {"code": "ServiceUnavailable"}}), TransportError("reset"),
                                       resp(200, {})])
        arm.request("automation", "GET", "/x", "read", "thing")
        assert clock.sleeps == [1.0, 2.0]
        assert arm.stats["retries"] == 2 and len(warnings) == 2
        assert "connection error" in warnings[1]

    def test_retries_are_capped(self):
        arm, clock, warnings = client([resp(500, {"code": "InternalServerError", "message": "boom"})] * 3, max_retries=2)
        with pytest.raises(ArmError) as info:
            arm.request("automation", "GET", "/x", "read", "group 'g'")
        assert info.value.code == "InternalServerError" and info.value.status == 500
        assert "Failed to read group 'g': InternalServerError (HTTP 500): boom" == str(info.value)
        assert len(warnings) == 2

    def test_throttle_exhausted_is_typed(self):
        arm, clock, warnings = client([resp(429, {}, {"Retry-After": "1"})] * 4, max_retries=1)
        with pytest.raises(ThrottledError):
            arm.request("automation", "PUT", "/x", "create", "x")
        assert arm.stats["writes"] == 4 and len(warnings) == 3

    @pytest.mark.parametrize("status,cls", [(400, ArmError), (403, ArmError), (404, NotFoundError), (409, ConflictError)])
    def test_client_errors_are_not_retried(self, status, cls):
        arm, clock, warnings = client([resp(status, {"error": {"code": "Nope", "message": "no"}})])
        with pytest.raises(cls) as info:
            arm.request("automation", "PUT", "/x", "create", "x")
        assert info.value.code == "Nope" and not clock.sleeps and not warnings

    def test_retryable_conflict_code_is_retried(self):
        arm, clock, warnings = client([resp(409, {"error": {"code": "RetryableErrorDueToAnotherOperation"}}), resp(200, {})])
        arm.request("compute", "PUT", "/x", "install", "x")
        assert arm.stats["retries"] == 1

    def test_post_without_retry_fails_at_once(self):
        arm, clock, warnings = client([resp(503, {})])
        with pytest.raises(ArmError):
            arm.request("automation", "POST", "/x/move", "move", "x", retry=False)
        assert arm.stats == {"reads": 0, "writes": 1, "retries": 0, "throttled": 0}

    def test_non_transient_transport_error_is_not_retried(self):
        arm, clock, warnings = client([TransportError("TLS verification failed", transient=False, code="CertificateVerifyFailed")])
        with pytest.raises(ArmError) as info:
            arm.request("automation", "GET", "/x", "read", "x")
        assert info.value.code == "CertificateVerifyFailed"

    def test_missing_ok_and_api_version(self):
        arm, clock, warnings = client([resp(404, {"error": {"code": "NotFound"}})])
        assert arm.get("automation", "/x", "read", "x") is None
        assert arm.transport.calls[0][2] == {"api-version": "2024-10-23"}

    def test_list_follows_next_link(self):
        arm, clock, warnings = client([resp(200, {"value": [1, 2], "nextLink": "https://arm/x?page=2"}), resp(200, {"value": [3]})])
        assert arm.list("automation", "/x", "list", "x") == [1, 2, 3]
        assert arm.transport.calls[1][1] == "https://arm/x?page=2" and arm.transport.calls[1][2] == {}

    @pytest.mark.parametrize("body,expected", [
        ({"error": {"code": "A", "message": "m"}}, ("A", "m")),
        ({"code": "B", "message": "n"}, ("B", "n")),
        (None, (None, None)),
    ])
    def test_error_details(self, body, expected):
        assert error_details(body) == expected


class TestLro:
    def test_async_operation_polled_until_succeeded(self):
        arm, clock, warnings = client([
            resp(201, {"id": "/ext", "properties": {"provisioningState": "Creating"}},
                 {"Azure-AsyncOperation": "https://arm/op/1", "Location": "https://arm/loc/1", "Retry-After": "3"}),
            resp(200, {"status": "InProgress"}, {"Retry-After": "4"}),
            resp(200, {"status": "Succeeded"}),
            resp(200, {"id": "/ext", "properties": {"provisioningState": "Succeeded"}}),
        ])
        final = arm.lro("compute", "PUT", "/ext", "install", "ext", body={}, timeout=60)
        assert final["properties"]["provisioningState"] == "Succeeded"
        assert clock.sleeps == [3.0, 4.0]
        assert [c[1] for c in arm.transport.calls] == ["/ext", "https://arm/op/1", "https://arm/op/1", "/ext"]

    def test_put_with_empty_202_reads_the_resource_back(self):
        arm, clock, warnings = client([
            resp(202, None, {"Azure-AsyncOperation": "https://arm/op/9"}),
            resp(200, {"status": "Succeeded"}),
            resp(200, {"id": "/m/ext", "properties": {"provisioningState": "Succeeded"}}),
        ])
        final = arm.lro("hybridcompute", "PUT", "/m/ext", "install", "ext", body={}, timeout=60)
        assert final["properties"]["provisioningState"] == "Succeeded"
        assert arm.transport.calls[-1][:2] == ("GET", "/m/ext")

    def test_async_operation_failure_names_the_code(self):
        arm, clock, warnings = client([
            resp(202, None, {"Azure-AsyncOperation": "https://arm/op/2"}),
            resp(200, {"status": "Failed", "error": {"code": "VMExtensionProvisioningError", "message": "bad"}}),
        ])
        with pytest.raises(OperationFailed) as info:
            arm.lro("compute", "DELETE", "/ext", "remove", "extension 'e'", timeout=60)
        assert "VMExtensionProvisioningError" in info.value.msg and "remove extension 'e'" in info.value.msg

    def test_location_fallback(self):
        arm, clock, warnings = client([
            resp(202, None, {"Location": "https://arm/loc/3"}),
            resp(202, None, {"Retry-After": "1"}),
            resp(204, None),
        ])
        arm.lro("compute", "DELETE", "/ext", "remove", "ext", timeout=60)
        assert len(arm.transport.calls) == 3 and clock.sleeps == [2.0, 1.0]

    def test_deadline_is_enforced(self):
        arm, clock, warnings = client([resp(202, None, {"Azure-AsyncOperation": "https://arm/op/4", "Retry-After": "10"})]
                                      + [resp(200, {"status": "InProgress"}, {"Retry-After": "10"})] * 10)
        with pytest.raises(OperationTimeout) as info:
            arm.lro("compute", "PUT", "/ext", "install", "extension 'e'", body={}, timeout=25)
        assert "Timed out waiting to install extension 'e'" in info.value.msg
        assert sum(clock.sleeps) == pytest.approx(25)

    def test_synchronous_answer_needs_no_poll(self):
        arm, clock, warnings = client([resp(200, {"properties": {"provisioningState": "Succeeded"}})])
        assert arm.lro("hybridcompute", "PATCH", "/m", "enable", "m", body={}, timeout=5)["properties"]

    def test_poll_is_retried_when_throttled(self):
        arm, clock, warnings = client([
            resp(202, None, {"Azure-AsyncOperation": "https://arm/op/5", "Retry-After": "1"}),
            resp(429, {}, {"Retry-After": "2"}),
            resp(200, {"status": "Succeeded"}),
        ])
        arm.lro("compute", "DELETE", "/ext", "remove", "ext", timeout=60)
        assert arm.stats["throttled"] == 1 and len(warnings) == 1


def test_429_on_write_holds_other_writers_for_retry_after_only():
    arm, clock, warnings = client([resp(429, {}, {"Retry-After": "1"}), resp(200, {}), resp(200, {})], rand=lambda a, b: 3.0)
    arm.request("automation", "PUT", "/a", "create", "a")
    assert clock.sleeps == [3.0]
    assert arm._resume_writes_at == pytest.approx(1001.0)
    clock.now = 1000.5
    arm.request("automation", "PUT", "/b", "create", "b")
    assert clock.sleeps == [3.0, 0.5]


def test_missing_sdk_package_is_named_exactly(monkeypatch):
    import sys
    from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._arm import SdkTransport
    from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._errors import MissingLibraryError
    monkeypatch.setitem(sys.modules, "azure.mgmt.hybridcompute", None)
    transport = SdkTransport(config=None, credential=None)
    with pytest.raises(MissingLibraryError) as info:
        transport._client("hybridcompute")
    assert info.value.package == "azure-mgmt-hybridcompute"
    assert "azure-mgmt-hybridcompute" in info.value.msg and "azure-mgmt-compute " not in info.value.msg


def test_sdk_clients_run_without_their_own_retries():
    pytest.importorskip("azure.mgmt.automation")
    from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._arm import SdkTransport
    from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._azure_auth import CloudEndpoints

    class Config(object):
        subscription_id = "00000000-0000-0000-0000-000000000001"
        verify = True
        cloud = CloudEndpoints("emu", "https://127.0.0.1:1", "https://127.0.0.1:1", "https://127.0.0.1:1/")

    client = SdkTransport(Config(), credential=object())._client("automation")
    assert client._config.retry_policy.total_retries == 0
