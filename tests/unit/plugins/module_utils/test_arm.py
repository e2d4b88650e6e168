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


# -- lost answers, ARM outages and forgotten operations (issue 8, sections 3 and 6) -----------------------------------------
def lost(message="Connection broken: IncompleteRead(10 bytes read, 20 more expected)"):
    return TransportError("the answer was cut off or lost (IncompleteReadError: %s)" % message, code="ResponseLost", sent=True)


class TestLostAnswers:
    def test_cut_off_read_is_retried(self):
        arm, clock, warnings = client([lost(), resp(200, {"name": "g"})])
        assert arm.get("automation", "/g", "read", "group 'g'") == {"name": "g"}
        assert arm.stats["retries"] == 1 and "cut off or lost" in warnings[0]

    @pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
    def test_idempotent_write_is_sent_again_after_a_lost_answer(self, method):
        arm, clock, warnings = client([lost(), resp(200, {"id": "/w"})])
        assert arm.request("automation", method, "/w", "create", "worker 'w'", body={}).status == 200
        assert [c[0] for c in arm.transport.calls] == [method, method]

    def test_post_with_a_lost_answer_is_not_sent_again(self):
        arm, clock, warnings = client([lost(), resp(200, {})])
        with pytest.raises(ArmError) as info:
            arm.request("automation", "POST", "/w/move", "move", "worker 'w'", body={})
        assert len(arm.transport.calls) == 1
        assert info.value.code == "ResponseLost" and "may have been applied" in info.value.msg
        assert info.value.msg.startswith("Failed to move worker 'w': ResponseLost")


class TestOutage:
    def test_connection_refused_is_transient_until_arm_returns(self):
        # ARM answered, then 12 refusals (it restarts): more than max_retries (4), but back inside the outage budget.
        refused = [TransportError("Connection refused")] * 12
        arm, clock, warnings = client([resp(200, {})] + refused + [resp(200, {"ok": 1})], max_retries=4)
        arm.get("automation", "/account", "read", "account")
        assert arm.get("automation", "/x", "read", "x") == {"ok": 1}
        assert len(arm.transport.calls) == 14
        assert max(clock.sleeps) <= arm.outage_delay_cap
        assert "unreachable for" in warnings[-1] and "of at most 600s" in warnings[-1]

    def test_an_endpoint_that_never_answered_keeps_the_attempt_budget(self):
        arm, clock, warnings = client([TransportError("Connection refused")] * 10, max_retries=2)
        with pytest.raises(ArmError) as info:
            arm.get("automation", "/x", "read", "x")
        assert len(arm.transport.calls) == 3 and info.value.code == "ConnectionError"

    def test_outage_longer_than_the_budget_fails_naming_the_limit(self):
        arm, clock, warnings = client([resp(200, {})] + [TransportError("Connection refused")] * 100, max_retries=2)
        arm.get("automation", "/account", "read", "account")
        arm.outage_timeout = 30
        with pytest.raises(ArmError) as info:
            arm.request("automation", "PUT", "/x", "create", "group 'x'", body={})
        assert sum(clock.sleeps) == pytest.approx(30)
        assert "Failed to create group 'x': ConnectionError: Connection refused (unreachable for 30s" in info.value.msg
        assert "raise wait_timeout" in info.value.msg

    def test_status_errors_keep_their_attempt_budget(self):
        arm, clock, warnings = client([resp(503, {})] * 10, max_retries=2)
        with pytest.raises(ArmError):
            arm.request("automation", "GET", "/x", "read", "x")
        assert len(arm.transport.calls) == 3


class TestForgottenOperation:
    CREATING = {"id": "/ext", "properties": {"provisioningState": "Creating"}}
    DONE = {"id": "/ext", "properties": {"provisioningState": "Succeeded"}}
    GONE = {"error": {"code": "ResourceNotFound", "message": "Operation 'x' was not found."}}

    def test_404_on_azure_asyncoperation_follows_the_resource(self):
        arm, clock, warnings = client([
            resp(201, self.CREATING, {"Azure-AsyncOperation": "https://arm/op/1", "Location": "https://arm/loc/1"}),
            resp(404, self.GONE),
            resp(200, self.CREATING),
            resp(200, self.DONE),
        ])
        final = arm.lro("compute", "PUT", "/ext", "install", "extension 'e'", body={}, timeout=60)
        assert final["properties"]["provisioningState"] == "Succeeded"
        assert [c[1] for c in arm.transport.calls] == ["/ext", "https://arm/op/1", "/ext", "/ext"]
        assert "no longer known" in warnings[0]

    def test_forgotten_operation_of_a_failed_resource_fails_with_its_state(self):
        arm, clock, warnings = client([
            resp(202, None, {"Azure-AsyncOperation": "https://arm/op/2"}),
            resp(404, self.GONE),
            resp(200, {"properties": {"provisioningState": "Failed"}}),
        ])
        with pytest.raises(OperationFailed) as info:
            arm.lro("hybridcompute", "PUT", "/m/ext", "install", "extension 'e'", body={}, timeout=60)
        assert info.value.msg == "Failed to install extension 'e': operation ended Failed"

    def test_forgotten_delete_is_done_when_the_resource_is_gone(self):
        arm, clock, warnings = client([
            resp(202, None, {"Azure-AsyncOperation": "https://arm/op/3"}),
            resp(404, self.GONE),
            resp(200, {"properties": {"provisioningState": "Deleting"}}),
            resp(404, {"error": {"code": "ResourceNotFound"}}),
        ])
        assert arm.lro("compute", "DELETE", "/ext", "remove", "extension 'e'", timeout=60) == {}

    def test_forgotten_put_whose_resource_does_not_exist_says_so(self):
        arm, clock, warnings = client([
            resp(202, None, {"Azure-AsyncOperation": "https://arm/op/4"}),
            resp(404, self.GONE),
            resp(404, {"error": {"code": "ResourceNotFound"}}),
        ])
        with pytest.raises(OperationFailed) as info:
            arm.lro("compute", "PUT", "/ext", "install", "extension 'e'", body={}, timeout=60)
        assert "no longer known to ARM and the resource does not exist" in info.value.msg

    def test_404_on_location_of_a_put_follows_the_resource(self):
        arm, clock, warnings = client([
            resp(202, None, {"Location": "https://arm/loc/5"}),
            resp(404, self.GONE),
            resp(200, self.DONE),
        ])
        assert arm.lro("compute", "PUT", "/ext", "install", "e", body={}, timeout=60) == self.DONE


class TestSdkTransportErrors:
    """What azure-core / requests raise for a cut-off or lost answer becomes a TransportError, never a raw exception."""

    def _transport(self, monkeypatch, exc, in_text=False):
        pytest.importorskip("azure.core")
        from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._arm import SdkTransport

        class Answer(object):
            status_code = 200
            headers = {}

            def text(self):
                raise exc

        class Client(object):
            def send_request(self, request):
                if in_text:
                    return Answer()
                raise exc

        transport = SdkTransport(config=None, credential=None)
        monkeypatch.setattr(transport, "_client", lambda provider: Client())
        return transport

    def _errors(self):
        import http.client
        from azure.core.exceptions import HttpResponseError, IncompleteReadError, ServiceResponseError
        import requests
        return [IncompleteReadError("Connection broken: IncompleteRead(5 bytes read, 9 more expected)"),
                ServiceResponseError("('Connection aborted.', RemoteDisconnected('Remote end closed connection'))"),
                HttpResponseError("Unable to stream download"),
                ConnectionResetError(104, "Connection reset by peer"),
                requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead"),
                http.client.IncompleteRead(b"12345", 9)]

    @pytest.mark.parametrize("index", range(6))
    @pytest.mark.parametrize("in_text", [False, True])
    def test_lost_answers_are_transport_errors(self, monkeypatch, index, in_text):
        pytest.importorskip("requests")
        exc = self._errors()[index]
        transport = self._transport(monkeypatch, exc, in_text)
        with pytest.raises(TransportError) as info:
            transport.send("automation", "GET", "/x")
        assert info.value.sent and info.value.transient and info.value.code == "ResponseLost"
        assert type(exc).__name__ in str(info.value)

    @pytest.mark.parametrize("text,transient", [
        ("HTTPSConnectionPool: Max retries exceeded (Caused by SSLError(SSLEOFError(8, '[SSL: UNEXPECTED_EOF_WHILE_READING] "
         "EOF occurred in violation of protocol')))", True),
        ("(Caused by SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
         "unable to get local issuer certificate')))", False),
        ("(Caused by SSLError(SSLCertVerificationError(\"hostname '127.0.0.2' doesn't match '127.0.0.1'\")))", False),
    ])
    def test_tls_cut_by_a_restart_is_transient_a_refused_certificate_is_not(self, monkeypatch, text, transient):
        from azure.core.exceptions import ServiceRequestError
        transport = self._transport(monkeypatch, ServiceRequestError(text))
        with pytest.raises(TransportError) as info:
            transport.send("automation", "GET", "/x")
        assert info.value.transient is transient
        assert (info.value.code == "CertificateVerifyFailed") is (not transient)

    def test_local_os_error_is_not_a_lost_answer(self, monkeypatch):
        transport = self._transport(monkeypatch, OSError("Could not find a suitable TLS CA certificate bundle, invalid path: /nope.pem"))
        with pytest.raises(TransportError) as info:
            transport.send("automation", "GET", "/x")
        assert not info.value.transient and not info.value.sent and info.value.code == "LocalError"
        assert "/nope.pem" in str(info.value)

    def test_refused_connection_was_not_sent(self, monkeypatch):
        from azure.core.exceptions import ServiceRequestError
        transport = self._transport(monkeypatch, ServiceRequestError("Failed to establish a new connection: Connection refused"))
        with pytest.raises(TransportError) as info:
            transport.send("automation", "PUT", "/x", body={})
        assert not info.value.sent and info.value.transient


class TestExtensionBusy:
    """A PUT whose answer was lost, retried into 409 OperationNotAllowed: wait for the operation, compare, converge."""

    BUSY = {"error": {"code": "OperationNotAllowed", "message": "Operation 'PUT' is not allowed on extension "
                      "'HybridWorkerExtension' since another operation is in progress on it."}}

    def _service(self, responses):
        from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._hybrid_worker import MachineService
        from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._ids import parse_machine_id
        from hrw_fakes import vm_id
        arm, clock, warnings = client(responses)
        return MachineService(arm, timeout=120), parse_machine_id(vm_id("vm1")), arm, warnings

    def _desired(self):
        from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._extension import (
            ExtensionOptions, desired_extension)
        options = ExtensionOptions.from_params(dict(type_handler_version="1.1", auto_upgrade_minor_version=True,
                                                    enable_automatic_upgrade=True, proxy_server=None, proxy_username=None,
                                                    proxy_password=None))
        return desired_extension("linux", "https://acc/automationAccounts/acc", "westeurope", options, None)

    def _as_stored(self, desired, state):
        stored = {"name": "HybridWorkerExtension", "tags": desired.get("tags") or {}, "properties": dict(desired["properties"])}
        stored["properties"].pop("protectedSettings", None)
        stored["properties"]["provisioningState"] = state
        return stored

    def test_lost_put_then_409_waits_and_does_not_write_again(self):
        desired = self._desired()
        service, machine, arm, warnings = self._service([
            lost(), resp(409, self.BUSY),
            resp(200, self._as_stored(desired, "Creating")), resp(200, self._as_stored(desired, "Succeeded")),
        ])
        final = service.put_extension(machine, desired)
        assert final["properties"]["provisioningState"] == "Succeeded"
        assert [c[0] for c in arm.transport.calls] == ["PUT", "PUT", "GET", "GET"]
        assert any("another operation is in progress" in w for w in warnings)

    def test_409_then_settled_but_different_writes_again(self):
        desired = self._desired()
        other = self._as_stored(desired, "Succeeded")
        other["properties"]["settings"] = {"AutomationAccountURL": "https://other"}
        service, machine, arm, warnings = self._service([
            resp(409, self.BUSY), resp(200, other),
            resp(200, self._as_stored(desired, "Succeeded")),
        ])
        final = service.put_extension(machine, desired)
        assert final["properties"]["settings"] == desired["properties"]["settings"]
        assert [c[0] for c in arm.transport.calls] == ["PUT", "GET", "PUT"]

    def test_other_conflicts_still_fail(self):
        desired = self._desired()
        service, machine, arm, warnings = self._service([resp(409, {"error": {"code": "Conflict", "message": "no"}})])
        with pytest.raises(ConflictError):
            service.put_extension(machine, desired)

    def test_delete_into_409_waits_for_the_operation(self):
        service, machine, arm, warnings = self._service([
            resp(409, self.BUSY), resp(200, {"properties": {"provisioningState": "Deleting"}}),
            resp(404, {"error": {"code": "ResourceNotFound"}}),
        ])
        service.delete_extension(machine)
        assert [c[0] for c in arm.transport.calls] == ["DELETE", "GET", "GET"]


def test_fleet_keeps_every_machine_result_when_a_thread_meets_an_unexpected_error():
    from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._register import Registrar, specs_from_params
    from hrw_fakes import FakeAutomation, FakeMachines, vm_id

    class Exploding(FakeMachines):
        def get_extension(self, machine_id, name="HybridWorkerExtension"):
            if machine_id.id.endswith("vm2"):
                raise AttributeError("'NoneType' object has no attribute 'get'")
            return FakeMachines.get_extension(self, machine_id, name)

    automation, machines = FakeAutomation(), Exploding()
    automation.add_group("g1")
    for name in ("vm1", "vm2", "vm3"):
        machines.add(vm_id(name))
    params = dict(group="g1", vm_resource_id=None, worker_id=None, workers=[{"vm_resource_id": vm_id(n)} for n in ("vm1", "vm2", "vm3")],
                  state="present", move=False, install_extension=True, os_type=None, type_handler_version="1.1",
                  auto_upgrade_minor_version=True, enable_automatic_upgrade=True, proxy_server=None, proxy_username=None,
                  proxy_password=None, force=False, enable_system_identity=True, wait_for_heartbeat=False)
    results = Registrar(automation, machines, params).reconcile_all(specs_from_params(params), concurrency=3)
    assert [r["vm_resource_id"] for r in results] == [vm_id(n) for n in ("vm1", "vm2", "vm3")]
    assert [bool(r.get("failed")) for r in results] == [False, True, False]
    assert "unexpected AttributeError" in results[1]["msg"] and vm_id("vm2") in results[1]["msg"]
