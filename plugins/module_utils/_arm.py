# -*- coding: utf-8 -*-
# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to the azure_automation.hybrid_worker collection: not a public API, may change without notice.
"""ARM client: one request path with visible, capped, jittered retries, LRO polling with a deadline, paging and counting.

The HTTP work is done by the resource provider's own SDK client (``send_request`` runs the SDK pipeline: bearer token,
TLS verification honouring REQUESTS_CA_BUNDLE) with the SDK's retry policy switched off (``retry_total=0``), so that every
retry is ours, counted and reported as a warning. Each SDK package is imported only when its provider is first used.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import email.utils
import json
import random
import threading
import time

try:
    import http.client as http_client
except ImportError:  # pragma: no cover
    import httplib as http_client

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._errors import (
    ArmError, AuthError, ConflictError, MissingLibraryError, NotFoundError, OperationFailed, OperationTimeout, exception_for_status)

API_VERSIONS = {
    "automation": "2024-10-23",
    "compute": "2024-07-01",
    "hybridcompute": "2024-07-10",
}

SDK_CLIENTS = {
    "automation": ("azure.mgmt.automation", "AutomationClient", "azure-mgmt-automation"),
    "compute": ("azure.mgmt.compute", "ComputeManagementClient", "azure-mgmt-compute"),
    "hybridcompute": ("azure.mgmt.hybridcompute", "HybridComputeManagementClient", "azure-mgmt-hybridcompute"),
}

LOCAL_ERRORS = (OSError, FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)  # exact types, not subclasses
TRANSIENT_CODES = ("RetryableErrorDueToAnotherOperation", "ServerBusy", "OperationPreempted")
TERMINAL_OK = ("succeeded",)
TERMINAL_BAD = ("failed", "canceled", "cancelled")


class Response(object):
    def __init__(self, status, headers=None, body=None, text=""):
        self.status = status
        self.headers = dict((k.lower(), v) for k, v in (headers or {}).items())
        self.body = body
        self.text = text

    def header(self, name):
        return self.headers.get(name.lower())


class TransportError(Exception):
    """The request did not get a (whole) HTTP answer. ``transient`` says if a retry may help.

    ``sent`` says the request may have reached ARM and been applied: the answer was cut off or lost (reset, IncompleteRead,
    timeout while reading). When it is False the connection was never made (refused, DNS), so nothing happened.
    """

    def __init__(self, message, transient=True, code="ConnectionError", sent=False):
        super(TransportError, self).__init__(message)
        self.transient = transient
        self.code = code
        self.sent = sent


class RetryPolicy(object):
    """Capped exponential backoff with full jitter; never less than Retry-After."""

    def __init__(self, max_retries=10, base=0.5, cap=20.0, rand=None):
        self.max_retries = max_retries
        self.base = base
        self.cap = cap
        self.rand = rand or random.uniform

    def delay(self, attempt, retry_after=None):
        backoff = self.rand(0, min(self.cap, self.base * (2 ** attempt)))
        if retry_after is not None:
            return max(float(retry_after), backoff)
        return backoff

    @staticmethod
    def retryable_status(status, code=None):
        return status == 429 or status >= 500 or (status == 409 and code in TRANSIENT_CODES)


def parse_retry_after(headers, now=None):
    """Seconds from Retry-After (seconds or HTTP date) or retry-after-ms / x-ms-retry-after-ms; None when absent."""
    get = headers.get
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        if get(name):
            try:
                return max(0.0, float(get(name)) / 1000.0)
            except ValueError:
                pass
    value = get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        stamp = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, stamp.timestamp() - (now if now is not None else time.time()))


def error_details(body, text=""):
    """(code, message) from ARM's nested ``{"error": {...}}`` or Automation's flat ``{"code", "message"}``."""
    if isinstance(body, dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body
        code = inner.get("code") or inner.get("Code")
        message = inner.get("message") or inner.get("Message")
        if code or message:
            return code, message
    return None, (text or "")[:300] or None


class SdkTransport(object):
    """Sends requests through the SDK client of each resource provider, built on first use."""

    def __init__(self, config, credential, pool_size=10):
        self.config = config
        self.credential = credential
        self.pool_size = pool_size
        self._clients = {}
        self._lock = threading.Lock()

    def _client(self, provider):
        with self._lock:
            if provider not in self._clients:
                self._clients[provider] = self._build(provider)
            return self._clients[provider]

    def _build(self, provider):
        module_name, class_name, package = SDK_CLIENTS[provider]
        try:
            module = __import__(module_name, fromlist=[class_name])
        except ImportError:
            import traceback
            raise MissingLibraryError(package, missing_required_lib(package), exception=traceback.format_exc())
        cls = getattr(module, class_name)
        kwargs = dict(base_url=self.config.cloud.resource_manager, credential_scopes=[self.config.cloud.scope],
                      retry_total=0, user_agent="azure_automation.hybrid_worker")
        kwargs["transport"] = self._requests_transport()
        return cls(self.credential, self.config.subscription_id, **kwargs)

    def _requests_transport(self):
        import requests
        from azure.core.pipeline.transport import RequestsTransport
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=max(10, self.pool_size))
        session.mount("https://", adapter)
        return RequestsTransport(session=session, session_owner=True, connection_verify=self.config.verify)

    def send(self, provider, method, url, params=None, body=None):
        from azure.core.exceptions import AzureError, ClientAuthenticationError, ServiceRequestError
        from azure.core.rest import HttpRequest
        client = self._client(provider)
        kwargs = {"params": params or {}}
        if body is not None:
            kwargs["json"] = body
        request = HttpRequest(method, url, **kwargs)
        try:
            response = client.send_request(request)
            text = response.text() if callable(getattr(response, "text", None)) else ""
        except ClientAuthenticationError as exc:
            raise AuthError("Failed to authenticate: %s" % _first_line(exc))
        except ServiceRequestError as exc:
            text = str(exc)
            if _tls_refused(text):
                raise TransportError("TLS verification failed (trust the endpoint's CA through REQUESTS_CA_BUNDLE): %s"
                                     % _first_line(exc), transient=False, code="CertificateVerifyFailed")
            raise TransportError(_first_line(exc))
        except (AzureError, OSError, http_client.HTTPException) as exc:
            if type(exc) in LOCAL_ERRORS:
                # Raised on this side before anything was sent (requests: a CA bundle path that does not exist).
                raise TransportError("Could not send the request: %s" % _first_line(exc), transient=False, code="LocalError")
            # ServiceResponseError, IncompleteReadError (a DecodeError), a reset or a cut-off body (requests'
            # ChunkedEncodingError is an OSError): the request was sent and its answer is lost.
            raise TransportError(_lost_message(exc), code="ResponseLost", sent=True)
        body = None
        if text:
            try:
                body = json.loads(text)
            except ValueError:
                body = None
        return Response(response.status_code, dict(response.headers), body, text)


def _first_line(exc):
    return (str(exc).strip().splitlines() or [exc.__class__.__name__])[0][:400]


def _tls_refused(text):
    """The endpoint's certificate was refused (a retry cannot help), as opposed to a TLS session cut by a restart."""
    lowered = text.lower()
    return any(marker in lowered for marker in ("certificate_verify_failed", "certificate verify failed",
                                                "sslcertverificationerror", "hostname mismatch", "doesn't match"))


def _lost_message(exc):
    return "the answer was cut off or lost (%s: %s)" % (exc.__class__.__name__, _first_line(exc))


class ArmClient(object):
    """All ARM traffic of a module run. Thread-safe: the fleet form shares one instance between worker threads."""

    def __init__(self, transport, subscription_id, warn=None, retry=None, sleep=time.sleep, clock=time.monotonic,
                 poll_interval=2.0, outage_timeout=600.0, outage_delay_cap=5.0):
        self.transport = transport
        self.subscription_id = subscription_id
        self.retry = retry or RetryPolicy()
        # ARM unreachable (connection refused or reset, answer lost) is transient until this many seconds have passed
        # since the request first failed so: a run outlives an outage shorter than its wait_timeout.
        # Only once ARM has answered in this run: an endpoint that never answers (a wrong URL) fails after max_retries.
        self.outage_timeout = float(outage_timeout)
        self.outage_delay_cap = float(outage_delay_cap)
        self.reached = False
        self._warn = warn or (lambda message: None)
        self.sleep = sleep
        self.clock = clock
        self.poll_interval = poll_interval
        self.stats = {"reads": 0, "writes": 0, "retries": 0, "throttled": 0}
        self._lock = threading.Lock()
        self._resume_writes_at = 0.0

    # -- bookkeeping -------------------------------------------------------------------------------------------------
    def _count(self, key, amount=1):
        with self._lock:
            self.stats[key] += amount

    def warn(self, message):
        self._warn(message)

    def _wait_gate(self):
        """After a 429 on a write, all threads hold their writes until the Retry-After has passed."""
        while True:
            with self._lock:
                wait = self._resume_writes_at - self.clock()
            if wait <= 0:
                return
            self.sleep(wait)

    def _close_gate(self, delay):
        with self._lock:
            self._resume_writes_at = max(self._resume_writes_at, self.clock() + delay)

    # -- requests ----------------------------------------------------------------------------------------------------
    def request(self, provider, method, path, action, resource, body=None, params=None, api_version=None, ok=(200, 201, 202, 204),
                retry=True, missing_ok=False):
        """One ARM call with retries. Returns a Response; raises a typed ArmError (NotFoundError, ConflictError, ...).

        ``retry=False`` is for non-idempotent POSTs (move): the caller re-reads state before repeating.
        ``missing_ok=True`` returns None on 404 (reads) / treats 404 as done (deletes).

        A connection error or a lost answer is retried (reads; PUT, PATCH and DELETE are idempotent in ARM, so sending
        them again converges: a PUT whose first copy was applied answers 200, a DELETE 204) for as long as the outage
        lasts, up to ``outage_timeout``. A POST whose answer was lost is never re-sent here: the caller re-reads first.
        """
        query = dict(params or {})
        if "://" not in path:
            query.setdefault("api-version", api_version or API_VERSIONS[provider])
        is_write = method != "GET"
        attempt = 0
        outage_since = None
        while True:
            if is_write:
                self._wait_gate()
            self._count("writes" if is_write else "reads")
            status, code, message, retry_after, response = None, None, None, None, None
            try:
                response = self.transport.send(provider, method, path, params=query, body=body)
            except TransportError as exc:
                if not exc.transient:
                    raise ArmError(action, resource, code=exc.code, message=str(exc))
                code, message = exc.code, str(exc)
                if exc.sent and method == "POST":
                    raise ArmError(action, resource, code=code, message=message + "; it may have been applied")
            else:
                status = response.status
                self.reached = True
                if status in ok:
                    return response
                if status == 404 and missing_ok:
                    return None
                code, message = error_details(response.body, response.text)
                retry_after = parse_retry_after(response.headers)
                if status < 500 and status != 429 and not RetryPolicy.retryable_status(status, code):
                    raise exception_for_status(status)(action, resource, status, code, message,
                                                       response.header("x-ms-request-id"))
            # 429s are budgeted separately (and more generously): under sustained throttling every caller queues.
            limit = self.retry.max_retries * (3 if status == 429 else 1)
            delay = self.retry.delay(min(attempt, 30), retry_after)
            if status is None and self.reached:
                # ARM unreachable: a time budget instead of an attempt count, and short pauses so that the run resumes
                # soon after ARM does.
                now = self.clock()
                outage_since = now if outage_since is None else outage_since
                left = outage_since + self.outage_timeout - now
                if not retry or left <= 0:
                    raise ArmError(action, resource, code=code, message=message if not retry else
                                   "%s (unreachable for %.0fs, the limit; check the endpoint or raise wait_timeout)"
                                   % (message, now - outage_since))
                delay = min(delay, self.outage_delay_cap, left)
                budget = "unreachable for %.0fs of at most %.0fs" % (now - outage_since, self.outage_timeout)
            elif not retry or attempt >= limit:
                raise exception_for_status(status)(action, resource, status, code, message)
            else:
                budget = "of %d" % limit
            if status == 429:
                self._count("throttled")
                if is_write:
                    # Hold every writer only as long as ARM asked; this caller also backs off on its own.
                    self._close_gate(retry_after if retry_after is not None else delay)
            self._count("retries")
            attempt += 1
            self.warn("Retrying %s %s (attempt %d %s) in %.1fs after %s%s" % (
                action, resource, attempt, budget, delay,
                "HTTP %s %s" % (status, code or "") if status else "a connection error: %s" % message,
                " (Retry-After %ss)" % retry_after if retry_after is not None else ""))
            self.sleep(delay)

    def post_once(self, provider, path, action, resource, applied, what, body=None, ok=(200, 202, 204)):
        """A non-idempotent POST, sent once per attempt: after a transient failure (no answer, lost answer, 429, 5xx) it
        asks ``applied()`` (a re-read of the state the POST makes) and sends it again only when that says it did not
        happen. Returns True when this call's POST answered, False when ``applied()`` found it done. Other errors
        (ConflictError and every 4xx) are raised at once. ``what`` names the operation in the retry warning."""
        attempts = self.retry.max_retries
        for attempt in range(attempts + 1):
            try:
                self.request(provider, "POST", path, action, resource, body=body, ok=ok, retry=False)
                return True
            except ConflictError:
                raise
            except ArmError as exc:
                transient = exc.status is None or exc.status == 429 or exc.status >= 500
                if not transient or attempt >= attempts:
                    raise
                if applied():
                    return False
                self.warn("%s failed with %s and did not happen; trying again (attempt %d of %d)"
                          % (what, exc.code, attempt + 1, attempts))
                self.sleep(self.retry.delay(attempt))
        return True  # pragma: no cover - the loop returns or raises

    def get(self, provider, path, action, resource, missing_ok=True, params=None):
        response = self.request(provider, "GET", path, action, resource, params=params, missing_ok=missing_ok, ok=(200,))
        return None if response is None else (response.body or {})

    def list(self, provider, path, action, resource, params=None):
        """All items of a paged list (follows nextLink)."""
        items = []
        response = self.request(provider, "GET", path, action, resource, params=params, ok=(200,))
        while True:
            page = response.body or {}
            items.extend(page.get("value") or [])
            link = page.get("nextLink")
            if not link:
                return items
            response = self.request(provider, "GET", link, action, resource, ok=(200,))

    # -- long-running operations ---------------------------------------------------------------------------------------
    def lro(self, provider, method, path, action, resource, body=None, timeout=600.0, missing_ok=False):
        """Start a long-running operation and wait for it, at most ``timeout`` seconds in total. Returns the final body."""
        deadline = self.clock() + timeout
        response = self.request(provider, method, path, action, resource, body=body, missing_ok=missing_ok)
        if response is None:
            return None
        return self.wait(provider, response, path, action, resource, deadline, reread=method in ("PUT", "PATCH"))

    def wait(self, provider, response, path, action, resource, deadline, reread=False):
        """Poll Azure-AsyncOperation (else Location, else the resource's provisioningState) until terminal or deadline.

        ARM does not keep operation records for ever (nor across every failover): when the operation URL answers 404,
        the resource itself is polled instead and its provisioningState decides.
        """
        async_url = response.header("azure-asyncoperation")
        location = response.header("location")
        initial = response.body if isinstance(response.body, dict) else {}
        if not async_url and not location:
            state = str((initial.get("properties") or {}).get("provisioningState") or "Succeeded")
            if response.status == 204 or state.lower() in TERMINAL_OK:
                return initial
            if state.lower() in TERMINAL_BAD:
                raise OperationFailed("Failed to %s %s: operation ended %s" % (action, resource, state), status=state)
        delay = parse_retry_after(response.headers)
        last = "InProgress"
        while True:
            remaining = deadline - self.clock()
            if remaining <= 0:
                raise OperationTimeout("Timed out waiting to %s %s (last status %s); raise wait_timeout or check the resource"
                                       % (action, resource, last), status=last)
            self.sleep(min(remaining, delay if delay is not None else self.poll_interval))
            poll = None
            if async_url or location:
                url = async_url or location
                try:
                    poll = self.request(provider, "GET", url, action + " (polling)", resource,
                                        ok=(200, 201, 202) if async_url else (200, 201, 202, 204), missing_ok=bool(location and not async_url))
                except NotFoundError:
                    poll = None
                if poll is None and async_url:
                    self.warn("The operation to %s %s is no longer known to ARM (404 on Azure-AsyncOperation); "
                              "following the resource's provisioningState instead" % (action, resource))
                    async_url = location = None
                    delay = None
                    continue
            if async_url:
                body = poll.body if isinstance(poll.body, dict) else {}
                last = str(body.get("status") or "InProgress")
                if last.lower() in TERMINAL_OK:
                    if reread:
                        return self.get(provider, path, action, resource, missing_ok=True) or initial
                    return initial
                if last.lower() in TERMINAL_BAD:
                    code, message = error_details(body)
                    raise OperationFailed("Failed to %s %s: operation ended %s: %s%s" % (
                        action, resource, last, code or "", (" " + message) if message else ""), status=last, error_code=code)
            elif location:
                if poll is None and reread:
                    # A Location that is gone (404) tells nothing about a PUT: decide by the resource.
                    self.warn("The operation to %s %s is no longer known to ARM (404 on Location); following the "
                              "resource's provisioningState instead" % (action, resource))
                    location = None
                    delay = None
                    continue
                if poll is None or poll.status in (200, 201, 204):
                    if reread:
                        return self.get(provider, path, action, resource, missing_ok=True) or initial
                    return (poll.body if poll is not None and isinstance(poll.body, dict) else None) or initial
                last = "InProgress"
            else:
                current = self.get(provider, path, action + " (polling)", resource, missing_ok=True)
                if current is None:
                    if reread:
                        raise OperationFailed("Failed to %s %s: its operation is no longer known to ARM and the resource does "
                                              "not exist; run the task again" % (action, resource), status="NotFound")
                    return initial
                last = str((current.get("properties") or {}).get("provisioningState") or "Succeeded")
                if last.lower() in TERMINAL_OK:
                    return current
                if last.lower() in TERMINAL_BAD:
                    raise OperationFailed("Failed to %s %s: operation ended %s" % (action, resource, last), status=last)
            delay = parse_retry_after(poll.headers) if poll is not None else None
