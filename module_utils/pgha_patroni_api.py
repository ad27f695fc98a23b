# -*- coding: utf-8 -*-
# Reads of Patroni's REST API shared by the patroni_* modules: the first member that answers with a usable
# document wins (HTTP through pgha_http, parsing and checks in pgha_patroni). Also the options every patroni_*
# module starts with.
"""The patroni_* modules' shared options, and GET /cluster and GET /config from the first URL that answers."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ansible.module_utils.basic import AnsibleModule

from ansible.module_utils.pgha_http import (
    HttpOptions,
    RequestError,
    first_answer,
    format_errors,
    http_argument_spec,
    join_url,
    poll_readings,
    request_json,
)
from ansible.module_utils.pgha_patroni import render_table, validate_cluster_json

Errors = List[Dict[str, str]]


def patroni_argument_spec(**options: Dict[str, Any]) -> Dict[str, Any]:
    """The argument_spec of a patroni_* module: api_urls, the module's own ``options``, the HTTP options."""
    spec: Dict[str, Any] = dict(api_urls=dict(type="list", elements="str", required=True, aliases=["api_url"]))
    spec.update(options)
    spec.update(http_argument_spec(request_timeout=5.0))
    return spec


def patroni_api_urls(module: AnsibleModule) -> List[str]:
    """The module's non-empty api_urls; fails the module when none is left."""
    api_urls = [u for u in module.params["api_urls"] if u]
    if not api_urls:
        module.fail_json(msg="api_urls is empty: give at least one Patroni REST API URL, e.g. http://10.0.0.1:8008")
    return api_urls


def read_cluster(api_urls: List[str], opts: HttpOptions) -> Tuple[Optional[Dict[str, Any]], Optional[str], Errors]:
    """GET /cluster from the first URL that answers with a usable document: ``(data, url, errors)``."""

    def fetch(url: str) -> Dict[str, Any]:
        full = join_url(url, "/cluster")
        data = request_json("GET", full, opts)
        problem = validate_cluster_json(data)
        if problem or not isinstance(data, dict):  # validate_cluster_json() checks it is a dict; mypy sees it here
            raise RequestError(full, "%s: unexpected answer: %s" % (full, problem))
        return data

    return first_answer(api_urls, fetch)


def read_cluster_or_fail(module: AnsibleModule, api_urls: List[str], opts: HttpOptions,
                         **fields: Any) -> Tuple[Dict[str, Any], str, Errors]:
    """read_cluster(), failing the module (with ``fields`` in the result) when no URL answers."""
    data, url, errors = read_cluster(api_urls, opts)
    if data is None or url is None:  # both or neither
        module.fail_json(msg="No Patroni REST API answered GET /cluster. Tried:\n%s" % format_errors(errors),
                         errors=errors, **fields)
    return data, url, errors


def read_config(api_urls: List[str], opts: HttpOptions) -> Tuple[Optional[Dict[str, Any]], Optional[str], Errors]:
    """GET /config (the dynamic configuration) from the first URL that answers with a JSON object."""

    def fetch(url: str) -> Dict[str, Any]:
        full = join_url(url, "/config")
        data = request_json("GET", full, opts)
        if not isinstance(data, dict):
            raise RequestError(full, "%s: expected the dynamic configuration as a JSON object, got %s"
                               % (full, type(data).__name__))
        return data

    return first_answer(api_urls, fetch)


def poll_cluster(api_urls: List[str], opts: HttpOptions, examine: Callable[[Dict[str, Any]], Dict[str, Any]],
                 timeout: float, interval: float) -> Dict[str, Any]:
    """Poll GET /cluster (any of ``api_urls``) until ``examine(data)["problem"]`` is None.

    ``examine`` turns one /cluster answer into a reading (``problem`` plus what the caller wants to keep, e.g. the
    summary). Returns ``reading`` (the last one, with ``ok``, ``errors``, ``api_url``), ``good`` (the last one read
    from a member, {} if none), ``ok``, ``attempts`` and ``elapsed``.
    """

    def attempt() -> Tuple[Dict[str, Any], bool]:
        data, url, errors = read_cluster(api_urls, opts)
        if data is None:
            return {"ok": False, "errors": errors, "problem": "no Patroni REST API answered GET /cluster"}, False
        reading = dict(examine(data), ok=True, errors=errors, api_url=url)
        return reading, reading["problem"] is None

    return poll_readings(attempt, True, timeout, interval)


def poll_timeout_message(waited: Mapping[str, Any], elapsed: float, timeout: float, what: str, action: str,
                         before: Mapping[str, Any]) -> str:
    """Why poll_cluster() (``waited``) timed out waiting for ``what``: the last problem, then the table of the last
    /cluster read, or of ``before`` (its ``api_url`` and ``summary``: the read before ``action``) if none succeeded.
    """
    reading, good = waited["reading"], waited["good"]
    lines = ["Timed out after %ss (timeout %ss, %d polls) waiting for %s: %s."
             % (elapsed, timeout, waited["attempts"], what, reading["problem"])]
    if not reading["ok"]:
        lines.append(format_errors(reading["errors"]))
    if good:
        lines.append("Last state read (from %s):" % good["api_url"])
        lines.append(render_table(good["summary"]))
    else:
        lines.append("No /cluster read succeeded after %s; state before it (from %s):" % (action, before["api_url"]))
        lines.append(render_table(before["summary"]))
    return "\n".join(lines)
