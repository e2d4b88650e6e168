"""Entra ID stand-in: OpenID discovery, instance discovery and client-credentials tokens (HMAC-signed JWTs)."""

import base64
import hashlib
import hmac
import json
import time
import uuid

TOKEN_LIFETIME = 3600
ARM_AUDIENCES = ("https://management.azure.com", "https://management.core.windows.net")


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(config, issuer, audience, lifetime=TOKEN_LIFETIME):
    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {"aud": audience, "iss": issuer, "iat": now, "nbf": now - 5, "exp": now + lifetime,
              "appid": config["client_id"], "azp": config["client_id"], "tid": config["tenant_id"],
              "oid": config["client_id"], "sub": config["client_id"], "idtyp": "app", "ver": "1.0",
              "uti": uuid.uuid4().hex}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(bytes.fromhex(config["signing_key"]), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}", claims


class TokenError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def verify(config, token, audiences):
    """Return the claims of a valid token, else raise TokenError with ARM's code."""
    try:
        head, body, sig = token.split(".")
        expected = hmac.new(bytes.fromhex(config["signing_key"]), f"{head}.{body}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(sig)):
            raise ValueError("signature")
        claims = json.loads(_unb64(body))
    except (ValueError, TypeError):
        raise TokenError("InvalidAuthenticationToken", "The access token is invalid.") from None
    now = time.time()
    if claims.get("exp", 0) < now:
        expiry = time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime(claims.get("exp", 0)))
        current = time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime(now))
        raise TokenError("ExpiredAuthenticationToken",
                         f"The access token expiry UTC time '{expiry}' is earlier than current UTC time '{current}'.")
    if claims.get("tid") != config["tenant_id"]:
        raise TokenError("InvalidAuthenticationTokenTenant",
                         f"The access token is from the wrong issuer '{claims.get('iss')}'. It must match the tenant "
                         f"'https://sts.windows.net/{config['tenant_id']}/' associated with this subscription.")
    if str(claims.get("aud", "")).rstrip("/").lower() not in {a.rstrip("/").lower() for a in audiences}:
        raise TokenError("InvalidAuthenticationTokenAudience",
                         f"The access token has been obtained for wrong audience or resource '{claims.get('aud')}'. It should "
                         f"exactly match with one of the allowed audiences {', '.join(repr(a) for a in audiences)}.")
    return claims


def openid_configuration(base, tenant):
    return {
        "token_endpoint": f"{base}/{tenant}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": f"{base}/{tenant}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{base}/{tenant}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"{base}/oidc/userinfo",
        "authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/{tenant}/oauth2/v2.0/logout",
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "tid"],
        "kerberos_endpoint": f"{base}/{tenant}/kerberos",
        "tenant_region_scope": "EU",
        "cloud_instance_name": "emu.azure-automation.net",
        "cloud_graph_host_name": "graph.emu.invalid",
        "msgraph_host": "graph.emu.invalid",
        "rbac_url": "https://pas.emu.invalid",
    }


def instance_discovery(base, host, tenant):
    return {"tenant_discovery_endpoint": f"{base}/{tenant}/v2.0/.well-known/openid-configuration", "api-version": "1.1",
            "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}]}


def aad_error(status, error, code, description):
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
    return status, {"error": error,
                    "error_description": f"AADSTS{code}: {description} Trace ID: {trace} Correlation ID: {correlation} "
                                         f"Timestamp: {stamp}",
                    "error_codes": [code], "timestamp": stamp, "trace_id": trace, "correlation_id": correlation,
                    "error_uri": "https://login.microsoftonline.com/error?code=" + str(code)}


def token_response(config, base, tenant, form, v1=False):
    """Handle POST /{tenant}/oauth2[/v2.0]/token. Returns (status, body)."""
    if tenant.lower() not in (config["tenant_id"].lower(), "organizations", "common"):
        return aad_error(400, "invalid_request", 90002, f"Tenant '{tenant}' not found. Check to make sure you have the "
                         "correct tenant ID and are signing into the correct cloud.")
    grant = form.get("grant_type", "")
    if grant != "client_credentials":
        return aad_error(400, "unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant}'.")
    client = form.get("client_id", "")
    if client != config["client_id"]:
        return aad_error(400, "unauthorized_client", 700016, f"Application with identifier '{client}' was not found in "
                         f"the directory '{config['tenant_id']}'.")
    secret = form.get("client_secret")
    if secret is None:
        return aad_error(401, "invalid_client", 7000216, "'client_assertion', 'client_secret' or 'request' is required "
                         "for the 'client_credentials' grant type.")
    if not hmac.compare_digest(secret.encode(), config["client_secret"].encode()):
        return aad_error(401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in "
                         "the request is the client secret value, not the client secret ID, for a secret added to app "
                         f"'{client}'.")
    if v1:
        audience = form.get("resource", "")
    else:
        scopes = form.get("scope", "").split()
        default = [s for s in scopes if s.endswith("/.default")]
        if not default:
            return aad_error(400, "invalid_scope", 1002012, f"The provided value for scope {' '.join(scopes)} is not "
                             "valid. Client credential flows must have a scope value with /.default suffixed to the resource "
                             "identifier (application ID URI).")
        audience = default[0][: -len(".default")]
    token, claims = issue(config, f"https://sts.windows.net/{config['tenant_id']}/", audience)
    body = {"token_type": "Bearer", "expires_in": TOKEN_LIFETIME, "ext_expires_in": TOKEN_LIFETIME, "access_token": token}
    if v1:
        body.update({"expires_on": str(claims["exp"]), "not_before": str(claims["nbf"]), "resource": audience})
    return 200, body
