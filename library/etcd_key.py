#!/usr/bin/python
# -*- coding: utf-8 -*-
# Delete one key, or every key under a prefix, from an etcd v3 cluster through its JSON gateway (e.g. the member key
# Patroni leaves behind on a node it no longer runs on).

from __future__ import annotations

DOCUMENTATION = r"""
---
module: etcd_key
short_description: Delete one etcd key, or every key under a prefix, through the etcd v3 JSON gateway
description:
  - Does what C(etcdctl del KEY) and C(etcdctl del --prefix KEY) do, through the etcd v3 JSON gateway (etcd 3.4+).
  - Reads first, with C(POST <endpoint>/v3/kv/range) (keys only, no values), trying O(endpoints) in order until one
    answers. When no key matches, nothing is sent and nothing changes.
  - Otherwise deletes them with C(POST /v3/kv/deleterange) on the endpoint that answered the read. A delete that
    gets no answer is not retried on another endpoint; run the module again, it reads first.
  - Its use in this project is the member key a Patroni node leaves in the DCS when Patroni stops on it for good
    (C(/service/demo/members/patroni4)); Patroni lets it expire with its TTL otherwise.
  - In check mode the read is done and RV(keys) and RV(deleted) say what would be deleted; nothing is deleted.
options:
  endpoints:
    description: etcd client URLs, e.g. V(https://172.28.10.11:2379), tried in order for the read.
    type: list
    elements: str
    required: true
    aliases: [endpoint]
  key:
    description:
      - The key to delete, e.g. V(/service/demo/members/patroni4), or with O(prefix=true) the prefix of the keys to
        delete, e.g. V(/service/demo/members/).
      - Must not be empty; with O(prefix=true) it must not be V(/) either (that would delete every key of etcd).
    type: str
    required: true
  prefix:
    description:
      - Delete every key that starts with O(key) (as C(etcdctl del --prefix)), not only O(key) itself.
      - A prefix is matched byte by byte, so V(/service/demo/members/patroni1) as a prefix also matches
        C(/service/demo/members/patroni10). End it with V(/) to match a directory-like level only.
    type: bool
    default: false
  state:
    description:
      - V(absent) deletes the key(s). It is the only state for now; the module does not write keys.
    type: str
    choices: [absent]
    default: absent
  request_timeout:
    description: Timeout in seconds of each HTTP request; keep it short, a member without quorum may hang.
    type: float
    default: 3
  url_username:
    description:
      - etcd user (etcd authentication enabled; it needs a role with readwrite permission on the keys). Not sent as
        HTTP basic auth, which the etcd gateway does not support; the module gets a token from
        C(POST /v3/auth/authenticate) on each endpoint it talks to.
    type: str
  url_password:
    description: Password of O(url_username).
    type: str
extends_documentation_fragment: [pgha_http]
notes:
  - The gateway takes and returns keys base64-encoded; the module encodes O(key) as UTF-8 and returns the key names
    decoded (bytes that are not UTF-8 shown as C(\xNN)).
  - Values are never read nor returned.
  - Run it once (C(run_once)), from a host that reaches the etcd client URLs.
author:
  - pgha project maintainers
"""

EXAMPLES = r"""
- name: Delete the member key Patroni left for patroni4 (nothing happens when it is gone already)
  etcd_key:
    endpoints: [https://172.28.10.11:2379, https://172.28.10.12:2379, https://172.28.10.13:2379]
    key: /service/demo/members/patroni4
    ca_path: /etc/pgha/tls/ca.crt
    client_cert: /etc/pgha/tls/node.crt
    client_key: /etc/pgha/tls/node.key
  run_once: true

- name: List the member keys of cluster demo (check mode deletes nothing)
  etcd_key:
    endpoints: [http://172.28.10.11:2379]
    key: /service/demo/members/
    prefix: true
  check_mode: true
  register: demo_members

- name: Delete every key of a cluster that is gone for good, with etcd authentication
  etcd_key:
    endpoints: [http://172.28.10.11:2379, http://172.28.10.12:2379]
    key: /service/olddemo/
    prefix: true
    state: absent
    url_username: root
    url_password: "{{ etcd_root_password }}"
  run_once: true
"""

RETURN = r"""
changed:
  description:
    - Keys were deleted (etcd reported at least one deleted), or would be, in check mode (at least one key exists).
  returned: always
  type: bool
keys:
  description:
    - The names of the keys that existed when read (those deleted, or that would be in check mode), sorted as etcd
      returns them (by bytes). Empty when none existed.
  returned: always
  type: list
  elements: str
  sample: [/service/demo/members/patroni4]
deleted:
  description:
    - Number of keys etcd reported deleted; in check mode the number that would be (the length of RV(keys)).
    - It differs from the length of RV(keys) only when keys appeared or vanished between the read and the delete.
  returned: always
  type: int
  sample: 1
endpoint:
  description: The endpoint that answered the read (and got the delete), null if none did.
  returned: always
  type: str
  sample: https://172.28.10.11:2379
msg:
  description: What was done or would be done (or why not), in a sentence or two.
  returned: always
  type: str
  sample: Deleted key /service/demo/members/patroni4 through https://172.28.10.11:2379.
"""

from typing import Any, Dict, List, Optional

from ansible.module_utils.basic import AnsibleModule

from ansible.module_utils.pgha_etcd_api import EtcdAuth, kv_delete, kv_range
from ansible.module_utils.pgha_etcd_kv import (
    key_problem,
    key_range,
    kv_error_hint,
    parse_delete,
    parse_range,
    with_hint,
)
from ansible.module_utils.pgha_http import HttpOptions, RequestError, first_answer, format_errors, http_argument_spec


def build_argument_spec() -> Dict[str, Any]:
    """The module's argument_spec (a function so tests can compare it with DOCUMENTATION)."""
    return dict(
        endpoints=dict(type="list", elements="str", required=True, aliases=["endpoint"]),
        key=dict(type="str", required=True, no_log=False),
        prefix=dict(type="bool", default=False),
        state=dict(type="str", choices=["absent"], default="absent"),
        **http_argument_spec(request_timeout=3.0),
    )


def outcome(changed: bool, keys: List[str], deleted: int, endpoint: Optional[str]) -> Dict[str, Any]:
    """The module's result fields (without msg)."""
    return dict(changed=changed, keys=keys, deleted=deleted, endpoint=endpoint)


def what_text(key: str, prefix: bool, count: int = 1) -> str:
    """``key /a/b`` or ``2 keys under prefix /a/``: what is (or would be) deleted, for the messages."""
    if not prefix:
        return "key %s" % key
    return "%d key%s under prefix %s" % (count, "" if count == 1 else "s", key)


def listed(keys: List[str], prefix: bool, limit: int = 20) -> str:
    """``: k1, k2`` for a prefix (the first ``limit`` keys), "" for a single key (its name is in the message)."""
    if not prefix:
        return ""
    shown = ", ".join(keys[:limit])
    return ": " + shown + (" and %d more" % (len(keys) - limit) if len(keys) > limit else "")


def skipped(errors: List[Dict[str, str]]) -> str:
    """A sentence on the endpoints tried before the one that answered ("" when it was the first)."""
    if not errors:
        return ""
    return "\nEndpoints tried before it, which did not answer:\n%s" % format_errors(errors)


def delete_failure(exc: RequestError, what: str, url: str) -> str:
    """The message for a delete that etcd refused or did not answer."""
    hint = kv_error_hint(exc.body or exc.message)
    if exc.status is None:
        return ("No usable answer from %s when deleting %s: %s. They may have been deleted or not: run the module "
                "again (it reads first; deleting is idempotent)." % (url, what, exc.message))
    return "etcd refused to delete %s, nothing was deleted: %s%s" % (what, exc.message, " (%s)" % hint if hint else "")


def main() -> None:
    module = AnsibleModule(argument_spec=build_argument_spec(), supports_check_mode=True)
    p = module.params
    # etcd takes credentials as a token, never as HTTP basic auth (see EtcdAuth)
    opts = HttpOptions.from_params(p).without_basic_auth()
    endpoints = [e for e in p["endpoints"] if e]
    key, prefix = p["key"] or "", p["prefix"]
    if not endpoints:
        module.fail_json(msg="endpoints is empty: give at least one etcd client URL, e.g. http://10.0.0.1:2379",
                         **outcome(False, [], 0, None))
    problem = key_problem(key, prefix)
    if problem:
        module.fail_json(msg=problem, **outcome(False, [], 0, None))
    auth = EtcdAuth(p["url_username"], p["url_password"], opts)
    start, end = key_range(key, prefix)
    what = "key %s" % key if not prefix else "the keys under prefix %s" % key

    def read(url: str) -> Any:
        try:
            return kv_range(url, start, end, opts, auth, keys_only=True)
        except RequestError as exc:  # every endpoint's error says what to check
            raise RequestError(exc.url, with_hint(exc.message), exc.status, exc.body) from None

    answer, url, errors = first_answer(endpoints, read)
    if url is None:
        module.fail_json(msg="Could not read %s from etcd, so nothing was deleted. Every endpoint was tried, in order "
                             "(POST /v3/kv/range):\n%s" % (what, format_errors(errors)),
                         **outcome(False, [], 0, None))
    keys, _count = parse_range(answer)
    if not keys:
        module.exit_json(msg="Nothing to do: etcd has no key %s%s (read through %s).%s"
                             % ("under prefix " if prefix else "", key, url, skipped(errors)),
                         **outcome(False, [], 0, url))
    if module.check_mode:
        module.exit_json(msg="Would delete %s through %s%s.%s"
                             % (what_text(key, prefix, len(keys)), url, listed(keys, prefix), skipped(errors)),
                         **outcome(True, keys, len(keys), url))

    try:
        deleted, _previous = parse_delete(kv_delete(url, start, end, opts, auth))
    except RequestError as exc:
        module.fail_json(msg=delete_failure(exc, what, url), **outcome(exc.status is None, keys, 0, url))
    result = outcome(deleted > 0, keys, deleted, url)
    if deleted == 0:
        module.exit_json(msg="Nothing deleted: %s, read through %s, %s gone when the delete came (expired or deleted "
                             "meanwhile)%s.%s" % (what_text(key, prefix, len(keys)), url,
                                                  "was" if len(keys) == 1 else "were", listed(keys, prefix),
                                                  skipped(errors)), **result)
    drift = "" if deleted == len(keys) else (" etcd reported %d deleted where %d were read: keys appeared or vanished "
                                             "in between." % (deleted, len(keys)))
    module.exit_json(msg="Deleted %s through %s%s.%s%s"
                         % (what_text(key, prefix, deleted), url, listed(keys, prefix), drift, skipped(errors)),
                     **result)


if __name__ == "__main__":
    main()
