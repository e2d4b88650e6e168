# -*- coding: utf-8 -*-
# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to the azure_automation.hybrid_worker collection: not a public API, may change without notice.
"""Common connection options (kept in step with doc_fragments/_azure_auth.py) and credential resolution.

Resolution is split in two: ``resolve_auth()`` is pure (options, environment, credentials file -> AuthConfig) and
unit-tested; ``build_credential()`` imports azure-identity lazily and builds the credential object.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import configparser
import json
import os

from ansible.module_utils.basic import env_fallback, missing_required_lib

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._errors import (
    AuthError, HrwError, MissingLibraryError, OptionError)
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._ids import (
    is_guid, validate_account_name, validate_resource_group)

AUTH_SOURCES = ["auto", "env", "cli", "msi", "credential_file"]

AZURE_AUTH_ARGSPEC = dict(
    subscription_id=dict(type="str", fallback=(env_fallback, ["AZURE_SUBSCRIPTION_ID"])),
    client_id=dict(type="str", fallback=(env_fallback, ["AZURE_CLIENT_ID"])),
    secret=dict(type="str", no_log=True, fallback=(env_fallback, ["AZURE_SECRET", "AZURE_CLIENT_SECRET"])),
    tenant=dict(type="str", fallback=(env_fallback, ["AZURE_TENANT", "AZURE_TENANT_ID"])),
    auth_source=dict(type="str", choices=AUTH_SOURCES, fallback=(env_fallback, ["ANSIBLE_AZURE_AUTH_SOURCE"])),
    profile=dict(type="str", fallback=(env_fallback, ["AZURE_PROFILE"])),
    cloud_environment=dict(type="str", fallback=(env_fallback, ["AZURE_CLOUD_ENVIRONMENT"])),
    cert_validation_mode=dict(type="str", choices=["validate", "ignore"], fallback=(env_fallback, ["AZURE_CERT_VALIDATION_MODE"])),
    resource_group=dict(type="str", required=True),
    automation_account=dict(type="str", required=True),
)

# Public clouds by the names Azure CLI and azure.azcollection use.
KNOWN_CLOUDS = {
    "azurecloud": ("AzureCloud", "https://management.azure.com", "https://login.microsoftonline.com",
                   "https://management.core.windows.net/"),
    "azureusgovernment": ("AzureUSGovernment", "https://management.usgovcloudapi.net", "https://login.microsoftonline.us",
                          "https://management.core.usgovcloudapi.net/"),
    "azurechinacloud": ("AzureChinaCloud", "https://management.chinacloudapi.cn", "https://login.chinacloudapi.cn",
                        "https://management.core.chinacloudapi.cn/"),
}
KNOWN_CLOUDS["azure_public_cloud"] = KNOWN_CLOUDS["azurecloud"]
KNOWN_CLOUDS["azure_us_gov_cloud"] = KNOWN_CLOUDS["azureusgovernment"]
KNOWN_CLOUDS["azure_china_cloud"] = KNOWN_CLOUDS["azurechinacloud"]

CREDENTIALS_FILE = os.path.join("~", ".azure", "credentials")

# Environment variables of each connection option (as in AZURE_AUTH_ARGSPEC), named in messages.
OPTION_ENV = dict((name, spec["fallback"][1]) for name, spec in AZURE_AUTH_ARGSPEC.items() if "fallback" in spec)

# The options each auth_source reads. An empty string in one of them is refused: it would not mean "unset" (an option set
# to "" hides its environment variable) and the credential chain would silently fall back to another identity.
OPTIONS_USED_BY = {
    "auto": ("subscription_id", "client_id", "secret", "tenant", "profile", "cloud_environment"),
    "env": ("subscription_id", "client_id", "secret", "tenant", "cloud_environment"),
    "credential_file": ("subscription_id", "client_id", "secret", "tenant", "profile", "cloud_environment"),
    "cli": ("subscription_id", "cloud_environment"),
    "msi": ("subscription_id", "client_id", "cloud_environment"),
}

# The variables requests (under every Azure SDK client here) reads for the CA bundle, first set one wins.
# SSL_CERT_FILE is not among them: requests passes its own bundle to OpenSSL, so that variable is never used.
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


class CloudEndpoints(object):
    def __init__(self, name, resource_manager, login, audience, from_metadata=False):
        self.name = name
        self.resource_manager = resource_manager.rstrip("/")
        self.login = login.rstrip("/")
        self.audience = audience
        self.from_metadata = from_metadata

    @property
    def scope(self):
        return self.audience.rstrip("/") + "/.default"

    @property
    def login_host(self):
        return self.login.split("://", 1)[-1]


class AuthConfig(object):
    """What resolve_auth() decided. ``secret`` is never part of repr() or any result."""

    def __init__(self, source, subscription_id, client_id, secret, tenant, cloud, verify, resource_group, automation_account):
        self.source = source
        self.subscription_id = subscription_id
        self.client_id = client_id
        self.secret = secret
        self.tenant = tenant
        self.cloud = cloud
        self.verify = verify
        self.resource_group = resource_group
        self.automation_account = automation_account

    def __repr__(self):
        return "AuthConfig(source=%r, subscription_id=%r, client_id=%r, tenant=%r, cloud=%r)" % (
            self.source, self.subscription_id, self.client_id, self.tenant, self.cloud.name)


def read_credentials_file(profile, path=None):
    """The ``[profile]`` section of ~/.azure/credentials as a dict, or None when the file or section is missing."""
    path = os.path.expanduser(path or CREDENTIALS_FILE)
    if not os.path.isfile(path):
        return None
    parser = configparser.ConfigParser()
    try:
        parser.read(path)
    except configparser.Error as exc:
        raise AuthError("Failed to read credentials file %s: %s" % (path, exc))
    section = profile or "default"
    if not parser.has_section(section):
        return None
    return dict(parser.items(section))


def cli_subscription(runner=None):
    """Subscription id of the current ``az login`` context, or None.

    ``runner(argv)`` returns ``(rc, stdout, stderr)`` (the module's run_command).
    """
    if runner is None:
        return None
    try:
        rc, out, dummy = runner(["az", "account", "show", "--output", "json"])
    except OSError:
        return None
    if rc != 0:
        return None
    try:
        return json.loads(out).get("id")
    except ValueError:
        return None


def resolve_cloud(value, verify=True, fetch=None):
    """A known cloud name, or a metadata URL (Azure Stack / emulator) whose endpoints are read over verified TLS."""
    if not value:
        value = "AzureCloud"
    known = KNOWN_CLOUDS.get(value.lower())
    if known:
        return CloudEndpoints(*known)
    if not value.lower().startswith("https://"):
        raise OptionError("cloud_environment", "%r is neither a known cloud (%s) nor an https:// metadata URL"
                          % (value, ", ".join(sorted(v[0] for v in set(KNOWN_CLOUDS.values())))))
    document = (fetch or _fetch_metadata)(value, verify)
    return _cloud_from_metadata(value, document)


def _fetch_metadata(url, verify):
    try:
        import requests
    except ImportError:
        raise MissingLibraryError("requests", missing_required_lib("requests"))
    try:
        response = requests.get(url, timeout=30, verify=verify)
    except requests.exceptions.SSLError as exc:
        raise AuthError("Failed to read cloud metadata from %s (option cloud_environment): TLS verification failed; trust its CA "
                        "through REQUESTS_CA_BUNDLE: %s" % (url, exc))
    except requests.exceptions.RequestException as exc:
        raise AuthError("Failed to read cloud metadata from %s (option cloud_environment): %s" % (url, exc))
    if response.status_code != 200:
        raise AuthError("Failed to read cloud metadata from %s (option cloud_environment): HTTP %s" % (url, response.status_code))
    try:
        return response.json()
    except ValueError:
        raise AuthError("Failed to read cloud metadata from %s (option cloud_environment): the answer is not JSON" % url)


def _cloud_from_metadata(url, document):
    """Both shapes: Azure Stack's single object and the public list of clouds (the first entry is taken)."""
    entry = document[0] if isinstance(document, list) and document else document
    if not isinstance(entry, dict) or not isinstance(entry.get("authentication"), dict):
        raise AuthError("Failed to read cloud metadata from %s (option cloud_environment): no 'authentication' section" % url)
    auth = entry["authentication"]
    origin = url.split("/metadata/", 1)[0] if "/metadata/" in url else "/".join(url.split("/", 3)[:3])
    arm = entry.get("resourceManager") or entry.get("resourceManagerEndpoint") or origin
    audiences = auth.get("audiences") or [arm]
    login = auth.get("loginEndpoint")
    if not login:
        raise AuthError("Failed to read cloud metadata from %s (option cloud_environment): no loginEndpoint" % url)
    return CloudEndpoints(entry.get("name") or "custom", arm, login, audiences[0], from_metadata=True)


def refuse_empty_options(params, source, env):
    """OptionError for an option of ``source`` that is set to an empty (or blank) string, naming a variable that set it."""
    for option in OPTIONS_USED_BY.get(source, OPTIONS_USED_BY["auto"]):
        value = params.get(option)
        if value is None or str(value).strip():
            continue
        names = OPTION_ENV.get(option, [])
        empty_vars = [name for name in names if name in env and not str(env[name]).strip()]
        origin = (" (it comes from the environment variable %s, which is set but empty; unset it)" % empty_vars[0]
                  if empty_vars else "")
        unset = "leave it unset to use %s or " % " / ".join(names) if names else "leave it unset to use "
        raise OptionError(option, "is empty%s; an empty value does not mean unset here: give a value, or %sanother "
                                  "credential source (auth_source)" % (origin, unset))


def check_ca_bundle(env, verify=True):
    """The CA bundle requests will use from the environment, or None; HrwError naming the variable when it is unusable.

    Without this check requests fails at the first call with an OSError that names neither the variable nor the fix.
    """
    if not verify:
        return None  # cert_validation_mode ignore: requests does not read the variables
    for name in CA_BUNDLE_VARIABLES:
        path = env.get(name)
        if not path:
            continue
        if os.path.isdir(path):
            return path
        if not os.path.exists(path):
            problem = "which does not exist"
        elif not os.path.isfile(path):
            problem = "which is not a file or directory"
        elif not os.access(path, os.R_OK):
            problem = "which this user cannot read"
        else:
            return path
        raise HrwError("The environment variable %s names the CA bundle %s, %s; TLS connections to Azure cannot be verified. "
                       "Point %s to a PEM file (or directory) of trusted CA certificates, or unset it to use the default bundle"
                       % (name, path, problem, name), variable=name)
    return None


def resolve_auth(params, env=None, credentials_path=None, fetch=None, cli_runner=None):
    """Decide how to authenticate. Raises OptionError/AuthError naming the option at fault. No network except metadata."""
    env = os.environ if env is None else env
    validate_resource_group(params.get("resource_group"))
    validate_account_name(params.get("automation_account"))
    source = params.get("auth_source") or "auto"
    refuse_empty_options(params, source, env)
    verify_mode = params.get("cert_validation_mode") or "validate"
    verify = verify_mode != "ignore"
    check_ca_bundle(env, verify)
    values = dict((k, params.get(k)) for k in ("subscription_id", "client_id", "secret", "tenant", "cloud_environment"))

    profile_values = None
    if source == "credential_file" or (source == "auto" and not (values["client_id"] and values["secret"])):
        profile_values = read_credentials_file(params.get("profile"), credentials_path)
        if profile_values is None and source == "credential_file":
            raise OptionError("profile", "no profile %r in %s" % (params.get("profile") or "default", credentials_path or CREDENTIALS_FILE))
    if profile_values:
        for key in values:
            if not values[key] and profile_values.get(key):
                values[key] = profile_values[key]
        if source == "auto" and profile_values.get("client_id"):
            source = "credential_file"

    if source == "auto":
        if values["client_id"] and values["secret"]:
            source = "env"
        else:
            source = "cli_or_msi"
    if source in ("env", "credential_file"):
        for option in ("client_id", "secret", "tenant"):
            if not values[option]:
                env_name = {"client_id": "AZURE_CLIENT_ID", "secret": "AZURE_SECRET", "tenant": "AZURE_TENANT"}[option]
                raise OptionError(option, "required for auth_source %s (a service principal); set it or %s"
                                  % (params.get("auth_source") or "auto", env_name))
        if not is_guid(values["tenant"]) and "." not in values["tenant"]:
            raise OptionError("tenant", "%r is neither a tenant GUID nor a domain name" % (values["tenant"],))
        if not is_guid(values["client_id"]):
            raise OptionError("client_id", "%r is not a GUID" % (values["client_id"],))
    if not values["subscription_id"] and source in ("cli", "cli_or_msi"):
        values["subscription_id"] = cli_subscription(cli_runner)
    if not values["subscription_id"]:
        raise OptionError("subscription_id", "no subscription given (set subscription_id or AZURE_SUBSCRIPTION_ID)")
    if not is_guid(values["subscription_id"]):
        raise OptionError("subscription_id", "%r is not a GUID" % (values["subscription_id"],))
    cloud = resolve_cloud(values["cloud_environment"] or env.get("AZURE_CLOUD_ENVIRONMENT"), verify=verify, fetch=fetch)
    return AuthConfig(source, values["subscription_id"].lower(), values["client_id"], values["secret"], values["tenant"], cloud,
                      verify, params["resource_group"], params["automation_account"])


def _import_identity():
    try:
        from azure import identity
    except ImportError:
        import traceback
        raise MissingLibraryError("azure-identity", missing_required_lib("azure-identity"), exception=traceback.format_exc())
    return identity


def build_credential(config, transport=None):
    """The azure-identity credential for an AuthConfig (imported lazily)."""
    identity = _import_identity()
    kwargs = {}
    if not config.verify:
        kwargs["connection_verify"] = False
    if transport is not None:
        kwargs["transport"] = transport
    if config.source in ("env", "credential_file"):
        return identity.ClientSecretCredential(
            config.tenant, config.client_id, config.secret, authority=config.cloud.login_host,
            disable_instance_discovery=config.cloud.from_metadata, **kwargs)
    if config.source == "cli":
        return identity.AzureCliCredential()
    if config.source == "msi":
        if config.client_id:
            kwargs["client_id"] = config.client_id
        return identity.ManagedIdentityCredential(**kwargs)
    return identity.ChainedTokenCredential(identity.AzureCliCredential(), identity.ManagedIdentityCredential(**kwargs))


def describe_principal(config):
    if config.source in ("env", "credential_file"):
        return "client_id '%s' in tenant '%s' (options client_id, secret, tenant)" % (config.client_id, config.tenant)
    if config.source == "cli":
        return "the Azure CLI login (auth_source cli)"
    if config.source == "msi":
        return "the managed identity (auth_source msi)"
    return "the Azure CLI login or managed identity (auth_source auto found no service principal)"
