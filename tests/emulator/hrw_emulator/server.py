"""The HTTPS server: routing, ARM pipeline (auth, api-version, throttling, faults, validation), logging."""

import json
import random
import re
import socket
import ssl
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import admin, auth, automation, channels, compute, runbooks
from .context import Request
from .errors import ArmError
from .specs import SpecIndex
from .store import Store, utc_now
from .throttle import Throttle

HANDLER_MODULES = (automation, runbooks)  # importing them registers their operationId handlers
AUTOMATION_VERSIONS = ("2024-10-23", "2023-11-01")
HYBRIDCOMPUTE_VERSIONS = ("2026-09-01", "2026-07-15", "2025-01-13", "2024-07-10", "2024-07-31-preview", "2022-12-27",
                          "2022-11-10", "2022-03-10", "2021-05-20")
COMPUTE_VERSIONS = ("2026-04-01", "2025-04-01", "2024-11-01", "2024-07-01", "2024-03-01", "2023-09-01", "2023-07-01",
                    "2023-03-01", "2022-11-01", "2022-08-01", "2022-03-01", "2021-11-01", "2021-07-01", "2021-04-01",
                    "2021-03-01")
RESOURCES_VERSIONS = ("2024-11-01", "2024-03-01", "2022-12-01", "2022-09-01", "2021-04-01", "2021-01-01", "2020-01-01",
                      "2019-11-01", "2019-10-01", "2016-06-01")
VERSIONS = {"microsoft.automation": AUTOMATION_VERSIONS, "microsoft.hybridcompute": HYBRIDCOMPUTE_VERSIONS,
            "microsoft.compute": COMPUTE_VERSIONS}
DATE_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")
PROVIDER_PATH = re.compile(r"^/subscriptions/[^/]+/providers(/[^/]+(/(register|unregister))?)?$", re.IGNORECASE)
# Namespaces the emulator's provider list knows (those it serves, plus those a VM deployment commonly touches) and the
# resource types it serves in each; an unknown namespace is refused as ARM does.
PROVIDERS = {
    "Microsoft.Automation": {"automationAccounts": AUTOMATION_VERSIONS,
                             "automationAccounts/hybridRunbookWorkerGroups": AUTOMATION_VERSIONS,
                             "automationAccounts/hybridRunbookWorkerGroups/hybridRunbookWorkers": AUTOMATION_VERSIONS,
                             "automationAccounts/modules": AUTOMATION_VERSIONS, "automationAccounts/python3Packages":
                             AUTOMATION_VERSIONS, "automationAccounts/runbooks": AUTOMATION_VERSIONS,
                             "automationAccounts/jobs": AUTOMATION_VERSIONS},
    "Microsoft.Compute": {"virtualMachines": COMPUTE_VERSIONS, "virtualMachines/extensions": COMPUTE_VERSIONS,
                          "locations": COMPUTE_VERSIONS, "locations/operations": COMPUTE_VERSIONS,
                          "locations/publishers": COMPUTE_VERSIONS},
    "Microsoft.HybridCompute": {"machines": HYBRIDCOMPUTE_VERSIONS, "machines/extensions": HYBRIDCOMPUTE_VERSIONS,
                                "locations": HYBRIDCOMPUTE_VERSIONS, "locations/operationStatus": HYBRIDCOMPUTE_VERSIONS,
                                "locations/operationResults": HYBRIDCOMPUTE_VERSIONS},
    "Microsoft.Resources": {"subscriptions": RESOURCES_VERSIONS, "subscriptions/locations": RESOURCES_VERSIONS,
                            "subscriptions/resources": RESOURCES_VERSIONS, "subscriptions/providers": RESOURCES_VERSIONS,
                            "resourceGroups": RESOURCES_VERSIONS, "subscriptions/resourceGroups": RESOURCES_VERSIONS},
    "Microsoft.ManagedIdentity": {}, "Microsoft.Network": {}, "Microsoft.Storage": {}, "Microsoft.KeyVault": {},
    "Microsoft.Authorization": {}, "Microsoft.GuestConfiguration": {}, "Microsoft.OperationalInsights": {},
}
# Resource kinds of the store that ARM lists as generic resources (tracked resources and VM/Arc extensions).
GENERIC_KINDS = ("account", "vm", "machine", "vmExtension", "machineExtension")
LOCATION_NAMES = {"westeurope": "West Europe", "northeurope": "North Europe", "eastus": "East US", "eastus2": "East US 2",
                  "westus2": "West US 2", "uksouth": "UK South", "germanywestcentral": "Germany West Central",
                  "swedencentral": "Sweden Central", "francecentral": "France Central"}
REDACT = {"client_secret", "access_token", "refresh_token", "protectedsettings", "value", "primary", "secondary",
          "proxypassword", "password", "keys"}
LOG_LIMIT = 20000
BODY_LOG_LIMIT = 65536


def redact(node, parent_key=""):
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            lowered = key.lower()
            if lowered in REDACT and not (lowered == "value" and isinstance(value, list)):
                out[key] = "***" if value not in (None, "", {}, []) else value
            else:
                out[key] = redact(value, lowered)
        return out
    if isinstance(node, list):
        return [redact(item, parent_key) for item in node]
    return node


class Emulator:
    """Configuration and shared services of one running emulator."""

    def __init__(self, host="127.0.0.1", port=0, state_file=None, page_size=100, latency_ms=0, fault_rate=0.0,
                 fault_codes=(429, 500, 503), throttle_writes="1200:100", throttle_reads="12000:1000",
                 lro_seconds=2.0, simulate_vm_workers=True, validate_responses=False, fault_seed=None,
                 advertise_host=None, cut_off_rate=0.0, lose_answer_rate=0.0):
        self.host = host
        self.advertise_host = advertise_host or ("127.0.0.1" if host in ("0.0.0.0", "", "::") else host)
        self.store = Store(state_file)
        self.specs = SpecIndex()
        self.page_size = page_size
        self.latency_ms = latency_ms
        self.fault_rate = fault_rate
        self.fault_codes = tuple(fault_codes)
        self.random = random.Random(fault_seed)
        # Network faults after the handler ran (the change is made and persisted): cut the answer off half-way, or
        # drop the connection without an answer ("lost answer", writes only for the rate). drop_next holds one-shot
        # rules from POST /admin/drop-next.
        self.cut_off_rate = cut_off_rate
        self.lose_answer_rate = lose_answer_rate
        self.drop_next = []
        self.drop_lock = threading.Lock()
        self.throttle = Throttle(throttle_reads, throttle_writes)
        self.lro_seconds = lro_seconds
        self.simulate_vm_workers = simulate_vm_workers
        self.validate_responses = validate_responses
        self.response_errors = []  # (method, path, status, errors) found by validation
        self.stats = {"connections": 0, "requests": 0}
        self.port = port
        self.httpd = None
        self._stop = threading.Event()

    # ---- addresses --------------------------------------------------------------------------------------
    @property
    def arm_endpoint(self):
        host = f"[{self.advertise_host}]" if ":" in self.advertise_host else self.advertise_host
        return f"https://{host}:{self.port}"

    def hybrid_url(self, guid):
        return f"https://{guid}.jrds.emu.azure-automation.net:{self.port}/automationAccounts/{guid}"

    def account_for_url(self, url):
        match = re.search(r"/automationAccounts/([0-9a-fA-F-]{36})/?$", str(url))
        if not match:
            return None
        return next((a for a in self.store.of_kind("account") if a["extra"]["guid"].lower() == match[1].lower()), None)

    def audiences(self):
        return [*auth.ARM_AUDIENCES, self.arm_endpoint, f"https://localhost:{self.port}"]

    @staticmethod
    def now():
        return time.monotonic()

    def ready_info(self, ca_bundle):
        cfg = self.store.config
        account = self.store.get(self.store.account_id())
        return {
            "arm_endpoint": self.arm_endpoint,
            "metadata_url": f"{self.arm_endpoint}/metadata/endpoints?api-version=2019-05-01",
            "tenant_id": cfg["tenant_id"], "client_id": cfg["client_id"], "client_secret": cfg["client_secret"],
            "subscription_id": cfg["subscription_id"], "resource_group": cfg["resource_group"],
            "automation_account": cfg["automation_account"], "location": cfg["location"],
            "ca_bundle": str(ca_bundle), "admin_url": f"{self.arm_endpoint}/admin",
            "hybrid_service_url": self.hybrid_url(account["extra"]["guid"]) if account else None,
            "agent_url": f"{self.arm_endpoint}/agent",
            "login_endpoint": self.arm_endpoint, "arm_audience": f"{self.arm_endpoint}/",
        }

    # ---- simulated VM workers ---------------------------------------------------------------------------
    def _workers_by_vm(self):
        index = {}
        for record in self.store.of_kind("hrWorker"):
            vm = str(record["body"]["properties"].get("vmResourceId", "")).lower()
            if vm:
                index.setdefault(vm, []).append(record)
        return index

    def simulated_heartbeat(self, ext_record, max_age=0, index=None):
        """Heartbeat the worker record of a VM whose HybridWorker extension succeeded (no lab host runs it)."""
        props = ext_record["body"]["properties"]
        if str(props.get("publisher", "")).lower() != compute.HYBRID_WORKER_PUBLISHER:
            return
        if props.get("provisioningState") != "Succeeded":
            return
        vm_id = ext_record["body"]["id"].rsplit("/extensions/", 1)[0].lower()
        candidates = (index if index is not None else self._workers_by_vm()).get(vm_id, [])
        due = [w for w in candidates if not max_age or self.now() - w["extra"].get("sim_beat", -1e9) >= max_age]
        if not due:
            return
        account = self.account_for_url((props.get("settings") or {}).get("AutomationAccountURL"))
        if not account:
            return
        prefix = account["body"]["id"].lower() + "/"
        vm = self.store.get(vm_id)
        for worker in due:
            if not worker["body"]["id"].lower().startswith(prefix):
                continue
            worker["extra"]["sim_beat"] = self.now()
            octets = int(uuid.uuid5(uuid.NAMESPACE_URL, vm_id)) % 65000
            name = ((vm or {}).get("body", {}).get("properties", {}).get("osProfile", {}).get("computerName")
                    or vm_id.rsplit("/", 1)[-1])
            channels.heartbeat(self.store, worker, f"10.0.{octets // 254}.{octets % 254 + 1}", name)

    def tick(self):
        with self.store.lock:
            compute.advance(self.store, self)
            if self.simulate_vm_workers:
                exts = self.store.of_kind("vmExtension")
                if exts:
                    index = self._workers_by_vm()
                    for ext in exts:
                        self.simulated_heartbeat(ext, max_age=channels.POLL_SECONDS, index=index)

    def _ticker(self):
        while not self._stop.wait(0.5):
            try:
                self.tick()
                self.store.flush()
            except Exception:  # keep ticking; errors show up in requests
                pass

    # ---- lifecycle ----------------------------------------------------------------------------------------
    def start(self, cert, key):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert, key)
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET

        class Server(ThreadingHTTPServer):
            address_family = family
            daemon_threads = True
            request_queue_size = 128

            def handle_error(self, request, client_address):  # failed handshakes, dropped clients
                pass

        Server.emulator = self
        self.httpd = Server((self.host, self.port), Handler, bind_and_activate=False)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True, do_handshake_on_connect=False)
        self.httpd.server_bind()
        self.httpd.server_activate()
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
        threading.Thread(target=self._ticker, daemon=True).start()

    def stop(self):
        self._stop.set()
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
        self.store.dirty = True
        self.store.flush()

    # ---- request log ----------------------------------------------------------------------------------
    def log(self, entry):
        with self.store.lock:
            self.store.request_seq += 1
            entry["seq"] = self.store.request_seq
            self.store.requests.append(entry)
            if len(self.store.requests) > LOG_LIMIT:
                del self.store.requests[: len(self.store.requests) - LOG_LIMIT]


def _json_or_text(raw, content_type):
    if not raw:
        return None
    content_type = (content_type or "").lower()
    if "json" in content_type or (not content_type.startswith("text/") and raw.lstrip()[:1] in (b"{", b"[")):
        return json.loads(raw)
    return raw.decode("utf-8", "replace")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hrw-emulator"
    sys_version = ""
    timeout = 120

    def setup(self):
        try:
            self.request.do_handshake()
        except (ssl.SSLError, OSError):
            self.request.close()
            raise
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.emulator.stats["connections"] += 1
        super().setup()

    def log_message(self, *args):  # quiet; the request log is the record
        pass

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (ssl.SSLError, ConnectionError, TimeoutError):
            self.close_connection = True

    def do_GET(self):
        self._serve("GET")

    def do_PUT(self):
        self._serve("PUT")

    def do_POST(self):
        self._serve("POST")

    def do_PATCH(self):
        self._serve("PATCH")

    def do_DELETE(self):
        self._serve("DELETE")

    def do_HEAD(self):
        self._serve("HEAD")

    # ---- plumbing -----------------------------------------------------------------------------------
    def _serve(self, method):
        emu = self.server.emulator
        emu.stats["requests"] += 1
        started = time.perf_counter()
        split = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(split.path)
        if len(path) > 1:
            path = path.rstrip("/")
        query = {k: v[0] for k, v in urllib.parse.parse_qs(split.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        request_id = str(uuid.uuid4())
        correlation = self.headers.get("x-ms-correlation-request-id") or self.headers.get("x-ms-client-request-id") or request_id
        headers = {"x-ms-request-id": request_id, "x-ms-correlation-request-id": correlation}
        area = self._area(path)
        body_in = None
        try:
            try:
                body_in = _json_or_text(raw, self.headers.get("Content-Type"))
            except (ValueError, UnicodeDecodeError) as exc:
                if area == "arm":
                    raise ArmError(400, "InvalidRequestContent",
                                   f"The request content was invalid and could not be deserialized: '{exc}'.") from None
                raise ArmError(400, "BadRequest", f"Invalid JSON: {exc}") from None
            if area == "arm":
                status, body, extra = self._arm(emu, method, path, query, body_in, raw, headers)
            elif area == "admin":
                status, body, extra = self._plain(admin.call(emu, method, path[len("/admin"):].strip("/"), query, body_in))
            elif area == "worker":
                _, _, guid, rest = path.split("/", 3) if path.count("/") >= 3 else (None, None, "", "")
                with emu.store.lock:
                    status, body, extra = self._plain(channels.worker_call(emu, method, guid, rest, body_in))
            elif area == "agent":
                with emu.store.lock:
                    status, body, extra = self._plain(channels.agent_call(emu, method, path[len("/agent"):].strip("/"),
                                                                          query, body_in))
            elif area == "metadata":
                status, body, extra = 200, self._metadata(emu, query.get("api-version")), {}
            elif area == "login":
                status, body, extra = self._login(emu, method, path, query, raw)
            else:
                raise ArmError(404, "NotFound", f"No route for {method} {path}")
        except ArmError as err:
            status, body, extra = err.status, err.body(), err.headers
        except Exception as exc:  # a bug: answer like ARM, keep serving
            status, body, extra = 500, {"error": {"code": "InternalServerError",
                                                  "message": f"hrw-emulator internal error: {type(exc).__name__}: {exc}"}}, {}
        headers.update(extra or {})
        try:
            emu.store.flush()  # an answer, above all a 2xx to a write, is sent only once its change is on disk
        except OSError as exc:
            status, body = 500, {"error": {"code": "InternalServerError",
                                           "message": f"hrw-emulator could not persist its state: {exc}"}}
        drop = self._network_fault(emu, area, method, path, status)
        if status == 401 and area == "arm":
            tenant = emu.store.config["tenant_id"]
            headers.setdefault("WWW-Authenticate",
                               f'Bearer authorization_uri="{emu.arm_endpoint}/{tenant}", error="invalid_token", '
                               f'error_description="{str((body or {}).get("error", {}).get("message", "")).replace(chr(34), chr(39))}"')
        payload, content_type = self._encode(body)
        if drop == "cut" and not payload:
            drop = "lose"  # nothing to cut in half: drop the answer
        if drop == "lose":
            self.close_connection = True  # no answer at all: the client sees the connection closed
        elif drop == "cut":
            self._send(method, status, headers, payload[: len(payload) // 2], content_type, length=len(payload))
            self.close_connection = True
        else:
            self._send(method, status, headers, payload, content_type)
        if area != "admin":
            api_version = query.get("api-version")
            shown_in = redact(body_in) if isinstance(body_in, (dict, list)) else (body_in if area != "login" else "***")
            shown_out = redact(body) if isinstance(body, (dict, list)) else (body[1] if isinstance(body, tuple) else body)
            emu.log({"time": utc_now(), "area": area, "method": method, "path": path,
                     "query": {k: v for k, v in query.items() if k != "api-version"}, "api-version": api_version,
                     "status": status, "milliseconds": round((time.perf_counter() - started) * 1000, 3),
                     "request_id": request_id, "request_body": _cap(shown_in), "response_body": _cap(shown_out),
                     **({"network_fault": drop} if drop else {})})

    @staticmethod
    def _network_fault(emu, area, method, path, status):
        """'cut', 'lose' or None for this answer (ARM only, answers below 400: the request was handled)."""
        if area != "arm" or status >= 400:
            return None
        with emu.drop_lock:
            for rule in emu.drop_next:
                if rule["method"] in (None, method) and rule["path"] in path.lower():
                    rule["count"] -= 1
                    if rule["count"] <= 0:
                        emu.drop_next.remove(rule)
                    return rule["mode"]
        if method not in ("GET", "HEAD") and emu.lose_answer_rate and emu.random.random() < emu.lose_answer_rate:
            return "lose"
        if emu.cut_off_rate and method != "HEAD" and emu.random.random() < emu.cut_off_rate:
            return "cut"
        return None

    @staticmethod
    def _area(path):
        low = path.lower()
        if low.startswith("/subscriptions") or low.startswith("/providers/"):
            return "arm"
        if low == "/admin" or low.startswith("/admin/"):
            return "admin"
        if low.startswith("/automationaccounts/"):
            return "worker"
        if low == "/agent" or low.startswith("/agent/"):
            return "agent"
        if low == "/metadata/endpoints":
            return "metadata"
        if re.match(r"^/[^/]+/(oauth2/(v2\.0/)?token|v2\.0/\.well-known/openid-configuration|"
                    r"\.well-known/openid-configuration|discovery/instance|discovery/v2\.0/keys)$", low) or \
                low == "/common/discovery/instance":
            return "login"
        return "other"

    @staticmethod
    def _plain(result):
        status, body = result[0], result[1]
        return status, body, (result[2] if len(result) > 2 else {})

    def _encode(self, body):
        if body is None:
            return b"", None
        if isinstance(body, tuple) and body[0] == "text":
            return body[1].encode(), "text/plain; charset=utf-8"
        return json.dumps(body).encode(), "application/json; charset=utf-8"

    def _send(self, method, status, headers, payload, content_type, length=None):
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, str(value))
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload) if length is None else length))
        self.end_headers()
        if method != "HEAD" and payload:
            self.wfile.write(payload)

    # ---- metadata and login ----------------------------------------------------------------------------
    def _metadata(self, emu, api_version=None):
        """ARM's cloud metadata. 2022-09-01 (what `az cloud register --endpoint-resource-manager` reads, azure-cli
        cloud.py `_populate_from_metadata_endpoint` / `_arm_to_cli_mapper`) answers the single cloud object; older
        api-versions answer the Azure Stack document with the list of clouds beside it, as before."""
        base = emu.arm_endpoint
        if api_version and api_version >= "2022-09-01":
            return self._cloud(base)
        single = {"galleryEndpoint": f"{base}/", "graphEndpoint": f"{base}/graph/", "portalEndpoint": f"{base}/portal/",
                  "authentication": {"loginEndpoint": f"{base}/", "audiences": [f"{base}/", "https://management.azure.com/"]}}
        # The list of clouds (the public ARM answer of 2019-05-01) as an extra key of the same document.
        single["clouds"] = [self._cloud(base)]
        return single

    @staticmethod
    def _cloud(base):
        """One cloud as ARM describes it (the keys `_arm_to_cli_mapper` reads; suffixes without the leading dot)."""
        return {
            "portal": f"{base}/portal", "authentication": {"loginEndpoint": f"{base}/",
                                                           "audiences": [f"{base}/", "https://management.azure.com/"],
                                                           "tenant": "common", "identityProvider": "AAD"},
            "media": f"{base}/media", "graphAudience": f"{base}/graph/", "graph": f"{base}/graph/", "name": "AzureEmulator",
            "suffixes": {"acrLoginServer": "azurecr.emu.invalid", "keyVaultDns": "vault.emu.invalid",
                         "storage": "core.emu.invalid", "azureDataLakeStoreFileSystem": "adls.emu.invalid",
                         "azureDataLakeAnalyticsCatalogAndJob": "adla.emu.invalid", "sqlServerHostname": "database.emu.invalid",
                         "mhsmDns": "managedhsm.emu.invalid"},
            "batch": f"{base}/batch/", "resourceManager": f"{base}/", "vmImageAliasDoc": "", "activeDirectoryDataLake": "",
            "sqlManagement": f"{base}/sql/", "gallery": f"{base}/", "microsoftGraphResourceId": f"{base}/graph/",
            "appInsightsResourceId": "", "appInsightsTelemetryChannelResourceId": "", "attestationResourceId": "",
            "synapseAnalyticsResourceId": "", "logAnalyticsResourceId": "", "ossrDbmsResourceId": ""}

    def _login(self, emu, method, path, query, raw):
        base = emu.arm_endpoint
        host = urllib.parse.urlsplit(base).netloc
        parts = path.strip("/").split("/")
        tenant = parts[0]
        cfg = emu.store.config
        known = tenant.lower() in (cfg["tenant_id"].lower(), "common", "organizations")
        if path.lower().endswith("/discovery/instance"):
            return 200, auth.instance_discovery(base, host, tenant if tenant != "common" else cfg["tenant_id"]), {}
        if path.lower().endswith("openid-configuration"):
            if not known:
                return (*auth.aad_error(400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found."), {})
            return 200, auth.openid_configuration(base, tenant), {}
        if path.lower().endswith("/keys"):
            return 200, {"keys": []}, {}
        if method != "POST":
            raise ArmError(405, "MethodNotAllowed", "Use POST for the token endpoint.")
        form = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode("utf-8", "replace")).items()}
        status, body = auth.token_response(cfg, base, tenant, form, v1="/v2.0/" not in path.lower())
        return status, body, {"Cache-Control": "no-store"}

    # ---- ARM ------------------------------------------------------------------------------------------
    def _arm(self, emu, method, path, query, body, raw, headers):
        store = emu.store
        if emu.latency_ms:
            time.sleep(emu.latency_ms / 1000.0)
        claims = self._authenticate(emu)
        api_version = query.get("api-version")
        match = re.match(r"^/subscriptions/([^/]+)", path, re.IGNORECASE)
        subscription = match[1] if match else store.sub
        namespace = self._namespace(path)
        kind = "reads" if method in ("GET", "HEAD") else "writes"
        bucket = emu.throttle.bucket(subscription, kind)
        allowed, remaining, retry_after = bucket.take()
        other = "writes" if kind == "reads" else "reads"
        headers[f"x-ms-ratelimit-remaining-subscription-{kind}"] = str(remaining)
        headers[f"x-ms-ratelimit-remaining-subscription-{other}"] = str(emu.throttle.bucket(subscription, other).remaining())
        if not allowed:
            raise ArmError(429, "SubscriptionRequestsThrottled",
                           f"Number of '{kind[:-1]}' requests for subscription '{subscription}' actor '{claims.get('appid')}' "
                           f"exceeded. Please try again after '{retry_after}' seconds after the additional tokens are "
                           "available. Refer to https://aka.ms/arm-throttling for additional information.",
                           {"Retry-After": str(retry_after)})
        if not api_version:
            raise ArmError(400, "MissingApiVersionParameter",
                           "The api-version query parameter (?api-version=) is required for all requests.")
        supported = VERSIONS.get(namespace)
        if supported is not None and api_version not in supported:
            raise ArmError(400, "InvalidApiVersionParameter",
                           f"The api-version '{api_version}' is invalid. The supported versions are '{','.join(supported)}'.")
        if supported is None and not DATE_VERSION.match(api_version):
            raise ArmError(400, "InvalidApiVersionParameter", f"The api-version '{api_version}' is invalid.")
        if emu.fault_rate and emu.random.random() < emu.fault_rate:
            code = emu.random.choice(emu.fault_codes)
            names = {429: "TooManyRequests", 500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable",
                     504: "GatewayTimeout", 408: "RequestTimeout"}
            raise ArmError(code, names.get(code, "InjectedFault"),
                           f"Injected fault ({code}) by hrw-emulator --fault-rate; no state was changed.",
                           {"Retry-After": "1"} if code in (429, 503) else {})
        if subscription.lower() != store.sub.lower():
            raise ArmError(404, "SubscriptionNotFound", f"The subscription '{subscription}' could not be found.")
        operation, handler, params = self._route(emu, namespace, api_version, method, path)
        if handler is None:
            raise ArmError(404, "NotFound" if namespace else "InvalidResourceType",
                           f"No HTTP resource was found that matches the request URI '{emu.arm_endpoint}{path}'.")
        if operation is not None and operation.body_schema is not None and isinstance(body, (dict, list)):
            problems = emu.specs.errors(operation.body_schema, body)
            if problems:
                raise ArmError(400, "InvalidRequestContent",
                               "The request content was invalid and could not be deserialized: " + "; ".join(problems[:5]))
            body = emu.specs.strip_read_only(operation.body_schema, body)  # ARM ignores read-only properties
        req = Request(emu, method, path, query, body, raw, api_version, params, self.headers)
        with store.lock:
            result = handler(req)
        status, out = result[0], result[1]
        extra = result[2] if len(result) > 2 else {}
        if emu.validate_responses and operation is not None:
            self._validate_response(emu, operation, method, path, status, out)
        return status, out, extra

    @staticmethod
    def _validate_response(emu, operation, method, path, status, out):
        schema, documented = emu.specs.response_schema(operation, status)
        problems = [] if documented else [f"status {status} is not documented for {operation.operation_id}"]
        if isinstance(out, (dict, list)):
            problems += emu.specs.errors(schema, out)
        if problems:
            emu.response_errors.append({"method": method, "path": path, "status": status,
                                        "operationId": operation.operation_id, "errors": problems})
            raise ArmError(500, "ResponseValidationFailed",
                           f"hrw-emulator response for {operation.operation_id} ({status}) breaks the swagger: "
                           + "; ".join(problems[:5]))

    @staticmethod
    def _namespace(path):
        if PROVIDER_PATH.match(path):  # /subscriptions/{id}/providers[/{namespace}[/register]]: Microsoft.Resources
            return None
        match = re.search(r"/providers/([^/]+)", path, re.IGNORECASE)
        return match[1].lower() if match else None

    def _route(self, emu, namespace, api_version, method, path):
        if namespace == "microsoft.automation":
            if re.search(r"/providers/Microsoft\.Automation/locations/[^/]+/operation", path, re.IGNORECASE):
                return self._manual(method, path)
            for group in ([api_version, "2024-10-23"] if api_version != "2024-10-23" else [api_version]):
                operation, params = emu.specs.find(namespace, group, method, path)
                if operation is not None:
                    return operation, automation.HANDLERS.get(operation.operation_id), params
            match = re.match(r"^/subscriptions/[^/]+/resourceGroups/(?P<resourceGroupName>[^/]+)/providers/"
                             r"Microsoft\.Automation/automationAccounts/(?P<automationAccountName>[^/]+)/"
                             r"agentRegistrationInformation(?P<regen>/regenerateKey)?$", path, re.IGNORECASE)
            if match and ((method == "GET" and not match["regen"]) or (method == "POST" and match["regen"])):
                return None, lambda req: automation.agent_registration(req, match["regen"]), match.groupdict()
            return None, None, None
        if namespace in ("microsoft.compute", "microsoft.hybridcompute"):
            version = emu.specs.schema_version(namespace, api_version)  # that api-version's schema, else the newest
            operation, _ = emu.specs.find(namespace, version, method, path) if version else (None, None)
            _, handler, params = self._manual(method, path)
            return operation, handler, params
        return self._resources(method, path)

    @staticmethod
    def _manual(method, path):
        for verb, regex, handler in compute.ROUTES:
            if verb == method:
                match = regex.match(path)
                if match:
                    return None, handler, match.groupdict()
        return None, None, None

    def _resources(self, method, path):
        """Subscriptions, resource groups and provider registrations (Microsoft.Resources, lenient)."""
        sub_match = re.match(r"^/subscriptions/(?P<sub>[^/]+)$", path, re.IGNORECASE)
        rg_match = re.match(r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)$", path, re.IGNORECASE)
        rgs_match = re.match(r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups$", path, re.IGNORECASE)
        prov_match = re.match(r"^/subscriptions/(?P<sub>[^/]+)/providers/(?P<ns>[^/]+)(?P<register>/(un)?register)?$",
                              path, re.IGNORECASE)
        provs_match = re.match(r"^/subscriptions/(?P<sub>[^/]+)/providers$", path, re.IGNORECASE)
        subs_match = re.match(r"^/subscriptions$", path, re.IGNORECASE)
        locations_match = re.match(r"^/subscriptions/(?P<sub>[^/]+)/locations$", path, re.IGNORECASE)
        resources_match = re.match(r"^/subscriptions/(?P<sub>[^/]+)(/resourcegroups/(?P<rg>[^/]+))?/resources$", path,
                                   re.IGNORECASE)

        def subscription_body(req):
            return {"id": f"/subscriptions/{req.store.sub}", "authorizationSource": "RoleBased", "managedByTenants": [],
                    "subscriptionId": req.store.sub, "tenantId": req.store.config["tenant_id"], "displayName": "hrw-emulator",
                    "state": "Enabled", "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01",
                                                                 "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off"}}

        def subscription(req):
            return 200, subscription_body(req)

        def subscriptions(req):
            return 200, {"value": [subscription_body(req)], "count": {"type": "Total", "value": 1}}

        def locations(req):
            names = [req.store.config["location"]] + [n for n in LOCATION_NAMES if n != req.store.config["location"]]
            return 200, {"value": [{"id": f"/subscriptions/{req.store.sub}/locations/{n}", "name": n, "type": "Region",
                                    "displayName": LOCATION_NAMES.get(n, n), "regionalDisplayName": LOCATION_NAMES.get(n, n),
                                    "metadata": {"regionType": "Physical", "regionCategory": "Recommended"}}
                                   for n in names]}

        def resources(req):
            """The emulator's resources in ARM's generic shape; $filter on resourceType, name, location, resourceGroup."""
            rg = resources_match["rg"]
            if rg and not req.store.get(req.store.rg_id(rg)):
                raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")
            prefix = (req.store.rg_id(rg) if rg else f"/subscriptions/{req.store.sub}").lower() + "/"
            items = []
            for kind in GENERIC_KINDS:
                for record in req.store.of_kind(kind):
                    body = record["body"]
                    if not body["id"].lower().startswith(prefix):
                        continue
                    item = {"id": body["id"], "name": body["name"], "type": body["type"], "location": body.get("location")}
                    for key in ("tags", "identity", "kind"):
                        if body.get(key) is not None:
                            item[key] = body[key]
                    # Keys $filter may name that the generic shape does not carry (removed again below).
                    item["resourceType"], item["resourceGroup"] = body["type"], body["id"].split("/")[4]
                    items.append(item)
            page = req.page(sorted(items, key=lambda b: b["id"].lower()))
            for item in page["value"]:
                item.pop("resourceType", None)
                item.pop("resourceGroup", None)
            return 200, page

        def provider_body(req, namespace):
            types = PROVIDERS[namespace]
            locations_ = [LOCATION_NAMES.get(req.store.config["location"], req.store.config["location"])]
            return {"id": f"/subscriptions/{req.store.sub}/providers/{namespace}", "namespace": namespace,
                    "registrationState": "Registered", "registrationPolicy": "RegistrationRequired",
                    "resourceTypes": [{"resourceType": name, "locations": locations_, "apiVersions": list(versions)}
                                      for name, versions in types.items()]}

        def providers(req):
            return 200, req.page([provider_body(req, ns) for ns in sorted(PROVIDERS, key=str.lower)])

        def resource_group(req):
            rg = rg_match["rg"]
            rid = req.store.rg_id(rg)
            record = req.store.get(rid)
            if req.method in ("GET", "HEAD"):
                if not record:
                    raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")
                return (204 if req.method == "HEAD" else 200), (None if req.method == "HEAD" else req.store.body(record))
            if req.method == "PUT":
                body = {"id": rid, "name": record["body"]["name"] if record else rg, "type": "Microsoft.Resources/resourceGroups",
                        "location": (req.body or {}).get("location") or req.store.config["location"],
                        "tags": (req.body or {}).get("tags") or {}, "properties": {"provisioningState": "Succeeded"}}
                req.store.put(rid, "resourceGroup", body)
                return (200 if record else 201), body
            if req.method == "DELETE":
                if not record:
                    raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")
                req.store.delete(rid)
                return 200, None
            raise ArmError(405, "MethodNotAllowed", f"{req.method} is not supported on resource groups.")

        def resource_groups(req):
            items = [req.store.body(r) for r in req.store.of_kind("resourceGroup")]
            return 200, req.page(sorted(items, key=lambda b: b["name"].lower()))

        def provider(req):
            ns = next((n for n in PROVIDERS if n.lower() == prov_match["ns"].lower()), None)
            if ns is None:  # ARM: 404 InvalidResourceNamespace "The resource namespace '…' is invalid."
                raise ArmError(404, "InvalidResourceNamespace", f"The resource namespace '{prov_match['ns']}' is invalid.")
            return 200, provider_body(req, ns)

        if subs_match and method == "GET":
            return None, subscriptions, {}
        if locations_match and method == "GET":
            return None, locations, {}
        if resources_match and method == "GET":
            return None, resources, {}
        if provs_match and method == "GET":
            return None, providers, {}
        if sub_match and method == "GET":
            return None, subscription, {}
        if rg_match:
            return None, resource_group, {}
        if rgs_match and method == "GET":
            return None, resource_groups, {}
        if prov_match and ((method == "GET" and not prov_match["register"]) or (method == "POST" and prov_match["register"])):
            return None, provider, {}
        return None, None, None

    def _authenticate(self, emu):
        header = self.headers.get("Authorization")
        if not header:
            raise ArmError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise ArmError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is provided "
                           "in an invalid format.")
        try:
            return auth.verify(emu.store.config, token.strip(), emu.audiences())
        except auth.TokenError as err:
            raise ArmError(401, err.code, err.message) from None


def _cap(value):
    if value is None:
        return None
    text = value if isinstance(value, str) else None
    if text is not None:
        return text if len(text) <= BODY_LOG_LIMIT else text[:BODY_LOG_LIMIT] + "…"
    if len(json.dumps(value)) > BODY_LOG_LIMIT:
        return {"truncated": True}
    return value
