# -*- coding: utf-8 -*-
# Shared HTTP and polling helpers for the pgha_* modules of this project.
#
# Modules import this as ``from ansible.module_utils.pgha_http import ...``; Ansible finds it through
# ``module_utils = ./module_utils`` in ansible.cfg and ships it to the node inside the module payload.
# Only the Python standard library and ``ansible.module_utils`` (urls, basic) are used, so nothing has to be
# installed on the managed nodes.
"""HTTP (JSON/text) requests through ``open_url`` with TLS/basic-auth options, and a polling loop.

The *_info modules read a service once, or with ``wait`` poll it until their conditions hold: poll_conditions()
does the polling, fail_unread(), timeout_message() and info_result() say what came of it.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, NoReturn, Optional, Tuple, TypedDict, TypeVar

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url

if TYPE_CHECKING:  # for mypy only: the managed nodes' Python may be 3.8, whose typing has no Unpack
    from typing import Unpack

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


class RequestOptions(TypedDict, total=False):
    """The keyword options of request(), which request_json() passes on."""

    body: Any
    accept_status: Tuple[int, ...]
    timeout: Optional[float]
    headers: Optional[Mapping[str, str]]


def request_json(method: str, url: str, opts: HttpOptions, **options: Unpack[RequestOptions]) -> Any:
    """Like request() (with the same keyword options) but decodes the answer as JSON."""
    _status, text = request(method, url, opts, **options)
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


# --------------------------------------------------------------------------------------------
# Reading a service once, or polling it until conditions hold (the *_info modules)
# --------------------------------------------------------------------------------------------
# A reading is a dict with ``ok`` (the service answered) and, when it did, ``problems`` (the unmet conditions).
# A poll is the dict that poll_readings() returns: ``reading`` (the last one), ``good`` (the last one with ``ok``,
# {} if none), ``ok`` (the conditions held), ``attempts`` and ``elapsed``.


def wait_argument_spec() -> Dict[str, Dict[str, Any]]:
    """Return a fresh dict with the wait, timeout and interval options of the modules that can poll."""
    return {
        "wait": {"type": "bool", "default": False},
        "timeout": {"type": "int", "default": 120},
        "interval": {"type": "float", "default": 1.0},
    }


def poll_readings(
    attempt: Callable[[], Tuple[Dict[str, Any], bool]], wait: bool, timeout: float, interval: float
) -> Dict[str, Any]:
    """Run ``attempt()`` once, or with ``wait`` poll it (see poll_until()) until it reports success.

    ``attempt`` returns ``(reading, ok)``. Returns the poll (see above); a single attempt takes 0.0 seconds.
    """
    good: Dict[str, Any] = {}

    def tracked() -> Tuple[Dict[str, Any], bool]:
        reading, ok = attempt()
        if reading["ok"]:
            good.clear()
            good.update(reading)
        return reading, ok

    if wait:
        reading, ok, attempts, elapsed = poll_until(tracked, timeout, interval)
    else:
        (reading, ok), attempts, elapsed = tracked(), 1, 0.0
    return {"reading": reading, "good": dict(good), "ok": ok, "attempts": attempts, "elapsed": elapsed}


def poll_conditions(
    read: Callable[[], Dict[str, Any]], check: Callable[[Dict[str, Any]], List[str]], params: Mapping[str, Any]
) -> Dict[str, Any]:
    """Read once, or with ``params["wait"]`` poll until ``check`` finds no problem (see poll_readings()).

    ``read()`` returns a reading; ``check(reading)`` runs on those with ``ok`` and its answer is stored as
    the reading's ``problems``. ``params`` holds the options of wait_argument_spec().
    """

    def attempt() -> Tuple[Dict[str, Any], bool]:
        reading = read()
        if not reading["ok"]:
            return reading, False
        reading["problems"] = check(reading)
        return reading, not reading["problems"]

    return poll_readings(attempt, params["wait"], params["timeout"], params["interval"])


def last_problems(poll: Mapping[str, Any], unanswered: str) -> List[str]:
    """The problems of the last good reading, and ``unanswered`` when the last reading got no answer."""
    problems = list(poll["good"]["problems"])
    if not poll["reading"]["ok"]:
        problems.append(unanswered)
    return problems


def fail_unread(module: AnsibleModule, poll: Mapping[str, Any], what: str, detail: str, **fields: Any) -> NoReturn:
    """Fail because no reading succeeded: ``what``, how long it waited (with wait=true), then ``detail``."""
    waited = (" during %ss of waiting (%d attempts)" % (poll["elapsed"], poll["attempts"])
              if module.params["wait"] else "")
    module.fail_json(msg=what + waited + detail, attempts=poll["attempts"], elapsed=poll["elapsed"], healthy=False,
                     **fields)


def timeout_message(poll: Mapping[str, Any], what: str, problems: List[str], state: List[str],
                    unmet: str = "condition(s)") -> str:
    """Why waiting for ``what`` failed: one line per unmet condition, then the ``state`` lines (e.g. a table)."""
    lines = ["Timed out after %ss (%d attempts) waiting for %s. Unmet %s:"
             % (poll["elapsed"], poll["attempts"], what, unmet)]
    lines.extend("  - %s" % problem for problem in problems)
    return "\n".join(lines + state)


def info_result(poll: Mapping[str, Any], table: str, problems: List[str], **fields: Any) -> Dict[str, Any]:
    """The result of an *_info module: never changed, the table, healthy and problems, attempts, elapsed, fields."""
    return dict(changed=False, table=table, healthy=not problems, problems=problems, attempts=poll["attempts"],
                elapsed=poll["elapsed"], **fields)
