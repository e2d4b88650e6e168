# Stand-in for lab tests: shared HTTP and state helpers of the lab's stand-ins for Microsoft's agent
# software (azcmagent, extd, hwd). Not Microsoft code; Python standard library only.
"""JSON over HTTPS with the system trust store, optional explicit proxy, and small file helpers."""

import json
import os
import ssl
import tempfile
import urllib.error
import urllib.parse
import urllib.request

STANDIN_VERSION = "1.0.0-lab"
AGENT_CONFIG = "/var/opt/azcmagent/agentconfig.json"
LAB_ENDPOINTS = "/etc/hrw-lab/endpoints.json"


class HttpError(Exception):
    """A non-2xx answer, or no answer at all (status 0)."""

    def __init__(self, method, url, status, body):
        self.status = status
        self.body = body
        detail = body if isinstance(body, str) else json.dumps(body)
        super().__init__(f"{method} {redact_url(url)} failed: HTTP {status}: {detail[:500]}")


def redact_url(url):
    """Drop user:password from a URL (proxy URLs carry them)."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, "***@" + netloc, parts.path, parts.query, parts.fragment))


def request(method, url, body=None, form=None, token=None, proxy=None, timeout=30):
    """Send one request; return the parsed JSON body (or None). Raise HttpError on failure."""
    headers = {"Accept": "application/json", "User-Agent": f"hrw-lab-standin/{STANDIN_VERSION}"}
    data = None
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    handlers = [
        urllib.request.HTTPSHandler(context=ssl.create_default_context()),
        urllib.request.ProxyHandler({"http": proxy, "https": proxy} if proxy else {}),
    ]
    opener = urllib.request.build_opener(*handlers)
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with opener.open(req, timeout=timeout) as resp:
            raw = resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        raw = exc.read().decode("utf-8", "replace")
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = raw
        raise HttpError(method, url, exc.code, parsed) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise HttpError(method, url, 0, f"no answer: {reason}") from None
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def read_json(path, default=None):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return default


def write_json(path, data, mode=0o644):
    """Write JSON atomically with the given mode."""
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def lab_endpoints():
    """The emulator endpoints that lab.sh wrote into the host (no secrets in them)."""
    data = read_json(LAB_ENDPOINTS)
    if not data:
        raise RuntimeError(
            f"stand-in: {LAB_ENDPOINTS} is missing; run 'tests/lab/lab.sh up N --emulator-json FILE' on the lab host"
        )
    return data
