# -*- coding: utf-8 -*-
# Reads of Patroni's REST API shared by the patroni_* modules: the first member that answers with a usable
# document wins (HTTP through pgha_http, parsing and checks in pgha_patroni).
"""GET /cluster and GET /config from the first Patroni REST API URL that answers."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple

from ansible.module_utils.pgha_http import HttpOptions, RequestError, first_answer, join_url, poll_until, request_json
from ansible.module_utils.pgha_patroni import validate_cluster_json

Errors = List[Dict[str, str]]


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
    last_good: Dict[str, Any] = {}

    def attempt() -> Tuple[Dict[str, Any], bool]:
        data, url, errors = read_cluster(api_urls, opts)
        if data is None:
            return {"ok": False, "errors": errors, "problem": "no Patroni REST API answered GET /cluster"}, False
        reading = dict(examine(data), ok=True, errors=errors, api_url=url)
        last_good.clear()
        last_good.update(reading)
        return reading, reading["problem"] is None

    reading, ok, attempts, elapsed = poll_until(attempt, timeout, interval)
    return {"reading": reading, "good": dict(last_good), "ok": ok, "attempts": attempts, "elapsed": elapsed}
