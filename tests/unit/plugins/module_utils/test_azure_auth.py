# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Option resolution: options, both env conventions, credentials file, cloud names and metadata URLs."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import sys

import pytest

from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils import _azure_auth
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._azure_auth import (
    AZURE_AUTH_ARGSPEC, resolve_auth, resolve_cloud)
from ansible_collections.azure_automation.hybrid_worker.plugins.module_utils._errors import (
    AuthError, MissingLibraryError, OptionError)

SUB = "11111111-2222-3333-4444-555555555555"
CLIENT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
TENANT = "99999999-8888-7777-6666-555555555555"


def params(**kwargs):
    base = dict((k, None) for k in AZURE_AUTH_ARGSPEC)
    base.update(resource_group="rg", automation_account="hrw-aa")
    base.update(kwargs)
    return base


def test_service_principal_from_options():
    config = resolve_auth(params(subscription_id=SUB.upper(), client_id=CLIENT, secret="s3cr3t", tenant=TENANT),
                          env={}, credentials_path="/nonexistent")
    assert config.source == "env" and config.subscription_id == SUB
    assert config.cloud.resource_manager == "https://management.azure.com" and config.verify is True
    assert "s3cr3t" not in repr(config)


def test_both_env_conventions_are_declared():
    assert AZURE_AUTH_ARGSPEC["secret"]["fallback"][1] == ["AZURE_SECRET", "AZURE_CLIENT_SECRET"]
    assert AZURE_AUTH_ARGSPEC["tenant"]["fallback"][1] == ["AZURE_TENANT", "AZURE_TENANT_ID"]
    assert AZURE_AUTH_ARGSPEC["secret"]["no_log"] is True
    assert "no_log" not in AZURE_AUTH_ARGSPEC["tenant"]


def test_env_fallbacks_reach_the_module(monkeypatch):
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "from-env")
    monkeypatch.setenv("AZURE_TENANT_ID", TENANT)
    monkeypatch.setenv("AZURE_CLOUD_ENVIRONMENT", "AzureUSGovernment")
    result = ArgumentSpecValidator(AZURE_AUTH_ARGSPEC).validate({"resource_group": "rg", "automation_account": "hrw-aa"})
    assert result.validated_parameters["secret"] == "from-env"
    assert result.validated_parameters["tenant"] == TENANT
    assert result.validated_parameters["cloud_environment"] == "AzureUSGovernment"


def test_credentials_file_profile(tmp_path):
    path = tmp_path / "credentials"
    path.write_text("[default]\nsubscription_id=%s\n[lab]\nsubscription_id=%s\nclient_id=%s\nsecret=filesecret\ntenant=%s\n"
                    % ("22222222-2222-2222-2222-222222222222", SUB, CLIENT, TENANT))
    config = resolve_auth(params(profile="lab"), env={}, credentials_path=str(path))
    assert (config.source, config.client_id, config.secret, config.subscription_id) == ("credential_file", CLIENT, "filesecret", SUB)
    with pytest.raises(OptionError, match="'profile'"):
        resolve_auth(params(profile="nope", auth_source="credential_file"), env={}, credentials_path=str(path))


def test_options_win_over_the_file(tmp_path):
    path = tmp_path / "credentials"
    path.write_text("[default]\nsubscription_id=%s\nclient_id=%s\nsecret=filesecret\ntenant=%s\n" % (SUB, CLIENT, TENANT))
    config = resolve_auth(params(auth_source="credential_file", secret="optsecret"), env={}, credentials_path=str(path))
    assert config.secret == "optsecret"


@pytest.mark.parametrize("missing", ["client_id", "secret", "tenant"])
def test_env_source_needs_the_service_principal(missing):
    values = dict(subscription_id=SUB, client_id=CLIENT, secret="x", tenant=TENANT, auth_source="env")
    values[missing] = None
    with pytest.raises(OptionError) as info:
        resolve_auth(params(**values), env={}, credentials_path="/nonexistent")
    assert info.value.option == missing


def test_missing_subscription_names_the_option():
    with pytest.raises(OptionError, match="'subscription_id'"):
        resolve_auth(params(client_id=CLIENT, secret="x", tenant=TENANT), env={}, credentials_path="/nonexistent")


def test_cli_subscription_is_used_when_not_given():
    calls = []

    def runner(argv):
        calls.append(argv)
        return 0, json.dumps({"id": SUB}), ""

    config = resolve_auth(params(auth_source="cli"), env={}, credentials_path="/nonexistent", cli_runner=runner)
    assert calls == [["az", "account", "show", "--output", "json"]]
    assert config.source == "cli" and config.subscription_id == SUB


@pytest.mark.parametrize("field,value", [("subscription_id", "nope"), ("client_id", "nope"), ("tenant", "no tenant"),
                                         ("resource_group", "bad/rg"), ("automation_account", "x")])
def test_bad_values_name_the_option(field, value):
    values = dict(subscription_id=SUB, client_id=CLIENT, secret="x", tenant=TENANT)
    values[field] = value
    with pytest.raises(OptionError) as info:
        resolve_auth(params(**values), env={}, credentials_path="/nonexistent")
    assert info.value.option == field


def test_known_clouds_and_metadata():
    assert resolve_cloud("AzureUSGovernment").resource_manager == "https://management.usgovcloudapi.net"
    stack = {"galleryEndpoint": "", "authentication": {"loginEndpoint": "https://127.0.0.1:4443/", "audiences": ["https://emu/"]}}
    seen = []
    cloud = resolve_cloud("https://127.0.0.1:4443/metadata/endpoints?api-version=2019-05-01", verify=True,
                          fetch=lambda url, verify: seen.append(verify) or stack)
    assert cloud.resource_manager == "https://127.0.0.1:4443" and cloud.login_host == "127.0.0.1:4443"
    assert cloud.scope == "https://emu/.default" and cloud.from_metadata and seen == [True]
    listed = [{"name": "Custom", "resourceManager": "https://arm.example/",
               "authentication": {"loginEndpoint": "https://login.example", "audiences": ["https://arm.example"]}}]
    assert resolve_cloud("https://arm.example/metadata/endpoints", fetch=lambda u, v: listed).resource_manager == "https://arm.example"


def test_bad_cloud_values():
    with pytest.raises(OptionError, match="cloud_environment"):
        resolve_cloud("Mars")
    with pytest.raises(OptionError, match="cloud_environment"):
        resolve_cloud("http://127.0.0.1/metadata/endpoints")
    with pytest.raises(AuthError, match="cloud_environment"):
        resolve_cloud("https://x/metadata/endpoints", fetch=lambda u, v: {"nothing": 1})


def test_ignore_mode_turns_verification_off_only_when_asked():
    seen = []

    def fetch(url, verify):
        seen.append(verify)
        return {"authentication": {"loginEndpoint": "https://l", "audiences": ["https://a"]}}

    values = dict(subscription_id=SUB, client_id=CLIENT, secret="x", tenant=TENANT, cloud_environment="https://e/metadata/endpoints")
    assert resolve_auth(params(**values), env={}, credentials_path="/n", fetch=fetch).verify is True
    assert resolve_auth(params(cert_validation_mode="ignore", **values), env={}, credentials_path="/n", fetch=fetch).verify is False
    assert seen == [True, False]


def test_missing_identity_library_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "azure.identity", None)
    config = resolve_auth(params(subscription_id=SUB, client_id=CLIENT, secret="x", tenant=TENANT), env={}, credentials_path="/n")
    with pytest.raises(MissingLibraryError) as info:
        _azure_auth.build_credential(config)
    assert info.value.package == "azure-identity" and "azure-identity" in info.value.msg


def test_credential_points_at_the_cloud_login():
    pytest.importorskip("azure.identity")
    stack = {"authentication": {"loginEndpoint": "https://127.0.0.1:4443", "audiences": ["https://127.0.0.1:4443"]}}
    config = resolve_auth(params(subscription_id=SUB, client_id=CLIENT, secret="x", tenant=TENANT,
                                 cloud_environment="https://127.0.0.1:4443/metadata/endpoints"),
                          env={}, credentials_path="/n", fetch=lambda u, v: stack)
    credential = _azure_auth.build_credential(config)
    assert type(credential).__name__ == "ClientSecretCredential"
