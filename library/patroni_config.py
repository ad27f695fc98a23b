#!/usr/bin/python
# -*- coding: utf-8 -*-
# Keep Patroni's dynamic configuration (stored in the DCS) in line with the inventory.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: patroni_config
short_description: Keep Patroni's dynamic (DCS) configuration in line with a desired subset
description:
  - Reads the dynamic configuration with C(GET <api_url>/config), compares it with O(config) and, if anything
    differs, sends only the differing keys with C(PATCH <api_url>/config) (JSON merge-patch; Patroni then
    stores it in the DCS and every member applies it).
  - Only keys present in O(config) are compared, recursively. Values are compared the way PostgreSQL reads them,
    so V(on)/V(true)/C(true) are equal and V("100")/C(100) are equal.
  - Keys listed in O(absent) (or set to C(null) in O(config)) are removed when present.
  - O(api_urls) are tried in turn; the PATCH goes to the member that answered (or the next one that answers).
  - In check mode nothing is sent; the module reports what would change.
  - After the change it reports which members need a PostgreSQL restart (RV(pending_restart_members)).
options:
  api_urls:
    description: Patroni REST API base URLs, e.g. V(http://172.28.10.11:8008), tried in order. Any member works.
    type: list
    elements: str
    required: true
    aliases: [api_url]
  config:
    description:
      - The desired subset of the dynamic configuration, for example
        C(ttl), C(loop_wait), C(retry_timeout), C(maximum_lag_on_failover), C(synchronous_mode), C(failsafe_mode),
        C(postgresql.use_pg_rewind), C(postgresql.parameters.max_connections); see EXAMPLES.
      - A key set to C(null) is removed if present.
    type: dict
    default: {}
  absent:
    description:
      - Dotted keys to remove when present, e.g. V(postgresql.parameters.work_mem).
      - Key names that contain dots themselves (V(postgresql.parameters.auto_explain.log_min_duration)) are found
        by longest match. A key that O(config) also sets is an error.
    type: list
    elements: str
    default: []
  report_pending_restart:
    description:
      - Report the members whose PostgreSQL needs a restart to apply the configuration.
      - With O(member_api_urls) each member's C(GET /patroni) is asked; otherwise C(GET /cluster) of the answering
        member (the flags in the DCS) is used.
    type: bool
    default: true
  member_api_urls:
    description: REST API base URLs of every member, for RV(pending_restart_members).
    type: list
    elements: str
    default: []
  pending_restart_delay:
    description:
      - Seconds to wait after a PATCH that touched C(postgresql) before asking for the pending restart flags,
        so the members have applied the new configuration (Patroni applies it in its next cycle).
    type: float
    default: 3
extends_documentation_fragment: [pgha_http]
notes:
  - Supports C(--diff) (the whole dynamic configuration before and after).
author:
  - pgha project maintainers
"""

EXAMPLES = r"""
- name: Apply the dynamic configuration from the inventory
  patroni_config:
    api_urls: [http://172.28.10.11:8008, http://172.28.10.12:8008, http://172.28.10.13:8008]
    config:
      ttl: 30
      loop_wait: 10
      retry_timeout: 10
      maximum_lag_on_failover: 1048576
      synchronous_mode: false
      failsafe_mode: false
      postgresql:
        use_pg_rewind: true
        parameters:
          max_connections: 100
          shared_buffers: 128MB
    absent:
      - postgresql.parameters.work_mem
    member_api_urls: [http://172.28.10.11:8008, http://172.28.10.12:8008, http://172.28.10.13:8008]
    url_username: patroni
    url_password: "{{ patroni_restapi_password }}"
  register: dcs_config
  run_once: true

- name: Tell which members need a restart
  ansible.builtin.debug:
    msg: "Restart needed on {{ dcs_config.pending_restart_members | join(', ') }}"
  when: dcs_config.pending_restart_members | length > 0
  run_once: true
"""

RETURN = r"""
changed:
  description: A PATCH was sent (or would be in check mode).
  returned: always
  type: bool
patch:
  description: The merge-patch that was (or would be) sent; C(null) values remove keys. Empty when nothing differs.
  returned: always
  type: dict
  sample: {"loop_wait": 10, "postgresql": {"parameters": {"max_connections": 200, "work_mem": null}}}
removed:
  description: Dotted keys removed because of O(absent) or C(null) in O(config).
  returned: always
  type: list
  elements: str
  sample: [postgresql.parameters.work_mem]
config:
  description: The resulting dynamic configuration (Patroni's answer to the PATCH; predicted in check mode).
  returned: always
  type: dict
before:
  description: The dynamic configuration read before any change.
  returned: always
  type: dict
diff:
  description: C(before)/C(after) dynamic configuration for C(--diff).
  returned: always
  type: dict
api_url:
  description: The REST API URL that answered (and received the PATCH).
  returned: always
  type: str
  sample: http://172.28.10.11:8008
pending_restart_members:
  description: Names of the members whose PostgreSQL waits for a restart (empty if not checked).
  returned: always
  type: list
  elements: str
  sample: [patroni1, patroni2, patroni3]
pending_restart_checked:
  description: Whether the pending restart flags were read successfully from at least one member.
  returned: always
  type: bool
errors:
  description: URLs that failed (reading the config, the PATCH or the pending restart flags), with their error.
  returned: always
  type: list
  elements: dict
"""

import json
import time
from typing import Any, Dict, List, Tuple

from ansible.module_utils.basic import AnsibleModule

from ansible.module_utils.pgha_http import (
    HttpOptions,
    RequestError,
    first_answer,
    format_errors,
    join_url,
    request,
    request_json,
)
from ansible.module_utils.pgha_patroni import (
    add_removals,
    apply_merge_patch,
    compute_patch,
    find_conflicts,
    status_name,
    summarize_cluster,
    validate_cluster_json,
)
from ansible.module_utils.pgha_patroni_api import patroni_api_urls, patroni_argument_spec, read_config


def _removed_keys(patch: Dict[str, Any], prefix: str = "") -> List[str]:
    out: List[str] = []
    for key, value in patch.items():
        dotted = prefix + key
        if value is None:
            out.append(dotted)
        elif isinstance(value, dict):
            out.extend(_removed_keys(value, dotted + "."))
    return out


def send_patch(urls: List[str], patch: Dict[str, Any], opts: HttpOptions) -> Tuple[Any, Any, List[Dict[str, str]]]:
    def fetch(url: str) -> Any:
        # A 2xx answer means Patroni stored the change; a non-JSON body only costs us the new config.
        _status, text = request("PATCH", join_url(url, "/config"), opts, body=patch)
        try:
            return json.loads(text)
        except ValueError:
            return text

    return first_answer(urls, fetch)


def pending_restart(api_url: str, member_api_urls: List[str],
                    opts: HttpOptions) -> Tuple[List[str], bool, List[Dict[str, str]]]:
    """Names of members with pending_restart, whether anything answered, and the errors."""
    errors: List[Dict[str, str]] = []
    names: List[str] = []
    if member_api_urls:
        answered = False
        for url in member_api_urls:
            full = join_url(url, "/patroni")
            try:
                status = request_json("GET", full, opts, accept_status=(503,))
            except RequestError as exc:
                errors.append({"url": exc.url or full, "error": exc.message})
                continue
            if not isinstance(status, dict):
                errors.append({"url": full, "error": "expected a JSON object, got %s" % type(status).__name__})
                continue
            answered = True
            if status.get("pending_restart"):
                names.append(status_name(status, url))
        return sorted(names), answered, errors
    full = join_url(api_url, "/cluster")
    try:
        data = request_json("GET", full, opts)
    except RequestError as exc:
        return [], False, [{"url": exc.url or full, "error": exc.message}]
    problem = validate_cluster_json(data)
    if problem:
        return [], False, [{"url": full, "error": problem}]
    members = summarize_cluster(data)["members"]
    return sorted(m["name"] for m in members if m["pending_restart"]), True, []


def build_argument_spec() -> Dict[str, Any]:
    """The module's argument_spec (a function so tests can compare it with DOCUMENTATION)."""
    return patroni_argument_spec(
        config=dict(type="dict", default={}),
        absent=dict(type="list", elements="str", default=[]),
        report_pending_restart=dict(type="bool", default=True),
        member_api_urls=dict(type="list", elements="str", default=[]),
        pending_restart_delay=dict(type="float", default=3.0),
    )


def main() -> None:
    module = AnsibleModule(argument_spec=build_argument_spec(), supports_check_mode=True)
    p = module.params
    opts = HttpOptions.from_params(p)
    api_urls = patroni_api_urls(module)
    desired: Dict[str, Any] = p["config"] or {}
    absent: List[str] = [a for a in p["absent"] if a]

    conflicts = find_conflicts(desired, absent)
    if conflicts:
        module.fail_json(msg="These keys are both set in 'config' and listed in 'absent'; remove one: %s"
                             % ", ".join(conflicts))

    current, api_url, errors = read_config(api_urls, opts)
    if current is None or api_url is None:  # both or neither
        module.fail_json(
            msg="Could not read Patroni's dynamic configuration: no REST API answered GET /config "
                "(HTTP 502 there means Patroni cannot read the DCS). Tried:\n%s" % format_errors(errors),
            errors=errors,
        )

    patch = compute_patch(desired, current)
    add_removals(patch, current, absent)
    removed = _removed_keys(patch)
    predicted = apply_merge_patch(current, patch)
    changed = bool(patch)
    result_config = predicted

    if changed and not module.check_mode:
        others = [u for u in api_urls if u != api_url]
        answer, patched_url, patch_errors = send_patch([api_url] + others, patch, opts)
        errors.extend(patch_errors)
        if patched_url is None:
            module.fail_json(
                msg="Could not change Patroni's dynamic configuration: every PATCH /config failed "
                    "(HTTP 401 means url_username/url_password are needed or wrong; 409 a concurrent change, "
                    "retry; 503 the DCS holds no config). Wanted to send %s. Errors:\n%s"
                    % (json.dumps(patch), format_errors(patch_errors)),
                patch=patch, errors=errors, before=current,
            )
        api_url = patched_url
        if isinstance(answer, dict):
            result_config = answer
            residual = compute_patch(desired, answer)
            add_removals(residual, answer, absent)
            if residual:
                module.warn("Patroni accepted the PATCH at %s but its answer still differs from 'config' in: %s"
                            % (patched_url, json.dumps(residual)))
        else:
            module.warn("PATCH %s/config answered %r instead of the new configuration; "
                        "returning the predicted configuration" % (patched_url, answer))

    pending: List[str] = []
    checked = False
    if p["report_pending_restart"]:
        if changed and not module.check_mode and "postgresql" in patch and p["pending_restart_delay"] > 0:
            time.sleep(p["pending_restart_delay"])
        pending, checked, pr_errors = pending_restart(api_url, [u for u in p["member_api_urls"] if u], opts)
        if pr_errors:
            errors.extend(pr_errors)
            module.warn("Could not read the pending restart flag from: %s"
                        % "; ".join("%s (%s)" % (e["url"], e["error"]) for e in pr_errors))

    module.exit_json(
        changed=changed,
        patch=patch,
        removed=removed,
        config=result_config,
        before=current,
        diff=dict(before=current, after=result_config),
        api_url=api_url,
        pending_restart_members=pending,
        pending_restart_checked=checked,
        errors=errors,
    )


if __name__ == "__main__":
    main()
