# -*- coding: utf-8 -*-
# Copyright (c) azure_automation.hybrid_worker contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to the azure_automation.hybrid_worker collection: not a public API, may change without notice.
# Kept in step with plugins/module_utils/_azure_auth.py (AZURE_AUTH_ARGSPEC).

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  subscription_id:
    description:
      - Azure subscription of the Automation account.
      - If not set, the environment variable E(AZURE_SUBSCRIPTION_ID), then the O(profile) in C(~/.azure/credentials),
        then (with O(auth_source=cli) or O(auth_source=auto) without a service principal) the current C(az login) context are used.
    type: str
  client_id:
    description:
      - Application (client) ID of the service principal, or of a user-assigned managed identity with O(auth_source=msi).
      - If not set, the environment variable E(AZURE_CLIENT_ID) is used.
    type: str
  secret:
    description:
      - Client secret of the service principal.
      - If not set, the environment variables E(AZURE_SECRET), then E(AZURE_CLIENT_SECRET) are used.
    type: str
  tenant:
    description:
      - Microsoft Entra tenant (directory) ID or domain of the service principal.
      - If not set, the environment variables E(AZURE_TENANT), then E(AZURE_TENANT_ID) are used.
    type: str
  auth_source:
    description:
      - How to authenticate. If not set, the environment variable E(ANSIBLE_AZURE_AUTH_SOURCE) is used, else V(auto).
      - V(auto) uses a service principal when O(client_id) and O(secret) are known (options or environment), else the
        O(profile) of C(~/.azure/credentials) when it has one, else the Azure CLI login and then a managed identity.
      - V(env) uses the service principal given by options or environment variables.
      - V(credential_file) reads O(profile) from C(~/.azure/credentials) (keys C(subscription_id), C(client_id), C(secret), C(tenant),
        C(cloud_environment)); options and environment variables take precedence over the file.
      - V(cli) uses the C(az login) context. V(msi) uses the managed identity of the controller.
    type: str
    choices: [auto, env, cli, msi, credential_file]
  profile:
    description:
      - Section of C(~/.azure/credentials) to read. If not set, the environment variable E(AZURE_PROFILE) is used, else C(default).
    type: str
  cloud_environment:
    description:
      - A cloud name (V(AzureCloud), V(AzureUSGovernment), V(AzureChinaCloud)) or the C(https://) metadata endpoint URL of a private
        cloud such as Azure Stack (C(.../metadata/endpoints?api-version=2019-05-01)). The metadata is read over verified TLS.
      - If not set, the environment variable E(AZURE_CLOUD_ENVIRONMENT) is used, else V(AzureCloud).
    type: str
  cert_validation_mode:
    description:
      - V(validate) verifies the TLS certificates of Azure (and of the metadata URL) against the CA bundle of the Python
        C(requests) library, or against E(REQUESTS_CA_BUNDLE) (else E(CURL_CA_BUNDLE)) when set. A variable that names a missing
        or unreadable file fails the task before any call, naming the variable and the file. E(SSL_CERT_FILE) is not used.
      - V(ignore) turns verification off; use it only for a test endpoint you control.
      - If not set, the environment variable E(AZURE_CERT_VALIDATION_MODE) is used, else V(validate).
    type: str
    choices: [validate, ignore]
  resource_group:
    description:
      - Resource group of the Automation account.
    type: str
    required: true
  automation_account:
    description:
      - Name of the Automation account.
    type: str
    required: true
requirements:
  - python >= 3.10
  - azure-identity >= 1.15.0
  - azure-core >= 1.30.0
  - azure-mgmt-automation >= 2.0.0
notes:
  - An option that the chosen O(auth_source) reads (O(subscription_id), O(client_id), O(secret), O(tenant), O(profile),
    O(cloud_environment)) and that is set to an empty string, directly or through its environment variable, fails the task
    naming the option. An empty value is not the same as an unset one, and authentication would otherwise fall back to
    another identity.
  - All options of this group can be set once for every module of the collection that talks to Azure with
    C(module_defaults) and the action group C(group/azure_automation.hybrid_worker.hrw).
  - Requests that Azure throttles (HTTP 429), server errors (5xx) and connection errors are retried with a capped, jittered
    exponential backoff that waits at least the C(Retry-After) Azure asks for. Each retry is reported as a warning, and the
    result key C(arm_requests) counts the reads, writes and retries of the run.
"""
