# -*- coding: utf-8 -*-
# The connection options shared by the project's modules that speak HTTP (module_utils/pgha_http.py,
# http_argument_spec()). Modules use it with `extends_documentation_fragment: [pgha_http]`; ansible.cfg's
# doc_fragment_plugins points Ansible here. A module that documents an option of the same name (e.g. another
# request_timeout default) overrides the fragment's entry key by key (ansible.utils.plugin_docs.add_fragments).
"""Documentation fragment ``pgha_http``: TLS, basic authentication and request timeout options."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  request_timeout:
    description: Timeout in seconds of each HTTP request.
    type: float
    default: 5
  validate_certs:
    description: Verify the server's TLS certificate (https URLs).
    type: bool
    default: true
  ca_path:
    description: CA bundle (PEM) used to verify the server certificate.
    type: path
  client_cert:
    description: Client certificate (PEM) for mutual TLS.
    type: path
  client_key:
    description: Private key (PEM) of O(client_cert).
    type: path
  url_username:
    description:
      - User name for HTTP basic authentication, sent pre-emptively (without waiting for a 401).
      - Patroni needs it for the requests that change things (C(PATCH /config), C(POST /restart), C(POST /switchover))
        when its C(restapi.authentication) is set; HAProxy for a stats page with C(stats auth).
    type: str
  url_password:
    description: Password for HTTP basic authentication.
    type: str
notes:
  - HTTP goes through Ansible's own C(open_url); nothing needs to be installed on the node. Proxy environment
    variables are ignored.
"""
