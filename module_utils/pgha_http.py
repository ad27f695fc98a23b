# -*- coding: utf-8 -*-
# Shared HTTP and polling helpers for the pgha_* modules of this project.
#
# Modules import this as ``from ansible.module_utils.pgha_http import ...``; Ansible finds it through
# ``module_utils = ./module_utils`` in ansible.cfg and ships it to the node inside the module payload.
# Only the Python standard library and ``ansible.module_utils.urls`` are used, so nothing has to be
# installed on the managed nodes.
"""HTTP (JSON/text) requests through ``open_url`` with TLS/basic-auth options, and a polling loop."""

from __future__ import annotations

import json
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, TypeVar

from ansible.module_utils.urls import open_url

T = TypeVar("T")

HTTP_AGENT = "ansible-pgha"

# Names of the connection options every pgha module accepts (see http_argument_spec()).
HTTP_OPTION_NAMES = (
    "validate_certs",
    "ca_path",
    "client_cert",
    "client_key",
    "url_username",
    "url_password",
    "request_timeout",
)


def http_argument_spec(request_timeout: float = 5.0) -> Dict[str, Dict[str, Any]]:
    """Return a fresh dict with the argument_spec entries shared by every pgha module.

    A new dict is built on each call so a module can never modify another module's spec.
    """
    return {
        "validate_certs": {"type": "bool", "default": True},
        "ca_path": {"type": "path"},
        "client_cert": {"type": "path"},
        "client_key": {"type": "path"},
        "url_username": {"type": "str"},
        "url_password": {"type": "str", "no_log": True},
        "request_timeout": {"type": "float", "default": request_timeout},
    }


class HttpOptions:
    """Connection settings for one module run (TLS, basic auth, per-request timeout)."""

    def __init__(
        self,
        validate_certs: bool = True,
        ca_path: Optional[str] = None,
        client_cert: Optional[str] = None,
        client_key: Optional[str] = None,
        url_username: Optional[str] = None,
        url_password: Optional[str] = None,
        request_timeout: float = 5.0,
    ) -> None:
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self.client_cert = client_cert
        self.client_key = client_key
        self.url_username = url_username
        self.url_password = url_password
        self.request_timeout = request_timeout

    def without_basic_auth(self) -> "HttpOptions":
        """A copy that sends no basic auth (for services that take credentials another way, like etcd)."""
        return HttpOptions(self.validate_certs, self.ca_path, self.client_cert, self.client_key,
                           None, None, self.request_timeout)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "HttpOptions":
        """Build the options from an AnsibleModule ``params`` dict (missing keys get defaults)."""
        kwargs = {name: params[name] for name in HTTP_OPTION_NAMES if params.get(name) is not None}
        return cls(**kwargs)


class RequestError(Exception):
    """A request did not produce a usable answer (network error, HTTP error status, bad JSON)."""

    def __init__(self, url: str, message: str, status: Optional[int] = None, body: str = "") -> None:
        super().__init__(message)
        self.url = url
        self.message = message
        self.status = status
        self.body = body

    def __str__(self) -> str:
        return self.message


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def _describe_exception(exc: BaseException) -> str:
    """Turn urllib/socket/ssl exceptions into one readable line."""
    reason = getattr(exc, "reason", None)
    if reason is not None and not isinstance(exc, RequestError):
        # urllib.error.URLError wraps the real cause (ConnectionRefusedError, socket.timeout, ...)
        inner = reason if isinstance(reason, BaseException) else None
        text = str(reason)
        if inner is not None:
            text = "%s: %s" % (type(inner).__name__, inner)
        return text
    text = str(exc) or type(exc).__name__
    if type(exc).__name__ not in text:
        text = "%s: %s" % (type(exc).__name__, text)
    return text


def request(
    method: str,
    url: str,
    opts: HttpOptions,
    body: Any = None,
    accept_status: Tuple[int, ...] = (),
    timeout: Optional[float] = None,
    headers: Optional[Mapping[str, str]] = None,
) -> Tuple[int, str]:
    """Send one HTTP request and return ``(status, text)``.

    ``body`` (if not None) is sent as JSON. HTTP error statuses raise RequestError unless listed in
    ``accept_status`` (e.g. etcd answers ``/health`` with 503 and a JSON body when unhealthy).
    ``headers`` are added to the request (e.g. an etcd auth token).
    """
    data = None
    all_headers = {"Accept": "application/json, text/plain, */*"}
    all_headers.update(headers or {})
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        all_headers["Content-Type"] = "application/json"
    try:
        resp = open_url(
            url,
            data=data,
            headers=all_headers,
            method=method,
            use_proxy=False,
            timeout=timeout if timeout is not None else opts.request_timeout,
            validate_certs=opts.validate_certs,
            url_username=opts.url_username,
            url_password=opts.url_password,
            force_basic_auth=bool(opts.url_username),
            http_agent=HTTP_AGENT,
            client_cert=opts.client_cert,
            client_key=opts.client_key,
            ca_path=opts.ca_path,
            use_netrc=False,
        )
        status = int(getattr(resp, "status", None) or resp.getcode() or 200)
        raw = resp.read()
    except Exception as exc:  # noqa: BLE001 - every failure becomes one readable message
        status_code = getattr(exc, "code", None)
        if isinstance(status_code, int):
            text = ""
            try:
                read = getattr(exc, "read", None)  # an HTTPError carries the body
                text = read().decode("utf-8", "replace") if read else ""
            except Exception:  # noqa: BLE001 - a body that cannot be read stays empty
                pass
            if status_code in accept_status:
                return status_code, text
            hint = ""
            if status_code == 401:
                hint = " (authentication required: check url_username/url_password)"
            elif status_code == 403:
                hint = " (forbidden: check credentials, client certificate or allow lists)"
            msg = "%s %s answered HTTP %d %s%s" % (method, url, status_code, getattr(exc, "msg", "") or "", hint)
            if text.strip():
                msg += "; body: %s" % _short(text)
            raise RequestError(url, msg, status=status_code, body=text) from None
        raise RequestError(url, "%s %s failed: %s" % (method, url, _describe_exception(exc))) from None
    return status, raw.decode("utf-8", "replace")


def parse_json(url: str, text: str) -> Any:
    """Decode ``text`` as JSON or raise RequestError saying what came back instead."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise RequestError(
            url, "%s did not return valid JSON (%s); got: %r" % (url, exc, _short(text, 200))
        ) from None


def request_json(
    method: str,
    url: str,
    opts: HttpOptions,
    body: Any = None,
    accept_status: Tuple[int, ...] = (),
    timeout: Optional[float] = None,
    headers: Optional[Mapping[str, str]] = None,
) -> Any:
    """Like request() but decodes the answer as JSON."""
    _status, text = request(method, url, opts, body=body, accept_status=accept_status, timeout=timeout,
                            headers=headers)
    return parse_json(url, text)


def join_url(base: str, path: str) -> str:
    """Join a base URL and an absolute path without doubling or dropping the slash."""
    return base.rstrip("/") + "/" + path.lstrip("/")


def first_answer(
    urls: List[str], fetch: Callable[[str], T]
) -> Tuple[Optional[T], Optional[str], List[Dict[str, str]]]:
    """Call ``fetch(url)`` for each URL in turn until one succeeds.

    Returns ``(result, url_that_answered, errors)``; ``errors`` lists ``{"url", "error"}`` for every
    URL that failed before (or instead of) the one that answered. ``result`` is None if none answered.
    """
    errors: List[Dict[str, str]] = []
    for url in urls:
        try:
            return fetch(url), url, errors
        except RequestError as exc:
            errors.append({"url": exc.url or url, "error": exc.message})
    return None, None, errors


def format_errors(errors: List[Dict[str, str]]) -> str:
    """Render ``[{"url", "error"}]`` as indented lines (the URL is not repeated if the error names it)."""
    lines = []
    for e in errors:
        url, error = e.get("url", "?"), e.get("error", "?")
        lines.append("  - %s" % error if url in error else "  - %s: %s" % (url, error))
    return "\n".join(lines)


def poll_until(
    attempt: Callable[[], Tuple[T, bool]],
    timeout: float,
    interval: float,
    clock: Optional[Callable[[], float]] = None,
    sleep: Optional[Callable[[float], None]] = None,
) -> Tuple[T, bool, int, float]:
    """Run ``attempt()`` until it reports success or ``timeout`` seconds have passed.

    ``attempt`` returns ``(result, ok)``. It always runs at least once, and once more at the deadline.
    Returns ``(last_result, ok, attempts, elapsed_seconds)``. ``clock``/``sleep`` default to
    time.monotonic/time.sleep looked up at call time, so tests can monkeypatch them.
    """
    clock = clock or time.monotonic
    sleep = sleep or time.sleep
    start = clock()
    deadline = start + max(0.0, float(timeout))
    attempts = 0
    while True:
        result, ok = attempt()
        attempts += 1
        now = clock()
        if ok or now >= deadline:
            return result, ok, attempts, round(now - start, 3)
        sleep(max(0.0, min(float(interval), deadline - now)))
