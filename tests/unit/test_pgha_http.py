"""Tests for module_utils/pgha_http.py (HTTP helper and polling loop)."""

from __future__ import annotations

import socket

import pytest
from ansible.module_utils import pgha_http

from ansible.module_utils.pgha_http import (
    HttpOptions,
    RequestError,
    first_answer,
    format_errors,
    http_argument_spec,
    join_url,
    poll_until,
    request,
    request_json,
)


def test_http_argument_spec_is_fresh_and_hides_password():
    a = http_argument_spec()
    b = http_argument_spec(request_timeout=3.0)
    a["validate_certs"]["default"] = False
    assert b["validate_certs"]["default"] is True
    assert b["request_timeout"]["default"] == 3.0
    assert b["url_password"]["no_log"] is True
    assert set(b) == set(pgha_http.HTTP_OPTION_NAMES)


def test_http_options_from_params_ignores_unset_values():
    opts = HttpOptions.from_params({"validate_certs": False, "ca_path": None, "url_username": "u",
                                    "url_password": "p", "request_timeout": 2.5, "other": 1})
    assert opts.validate_certs is False
    assert opts.ca_path is None
    assert (opts.url_username, opts.url_password, opts.request_timeout) == ("u", "p", 2.5)


def test_request_json_passes_tls_and_auth_options(fake_http):
    fake_http.add("POST", "https://h:2379/v3/x", {"ok": True})
    opts = HttpOptions(validate_certs=False, ca_path="/ca.pem", client_cert="/c.pem", client_key="/k.pem",
                       url_username="root", url_password="secret", request_timeout=1.5)
    assert request_json("POST", "https://h:2379/v3/x", opts, body={}) == {"ok": True}
    call = fake_http.calls[0]
    assert call["body"] == {}
    kw = call["kwargs"]
    assert kw["validate_certs"] is False and kw["ca_path"] == "/ca.pem"
    assert kw["client_cert"] == "/c.pem" and kw["client_key"] == "/k.pem"
    assert kw["url_username"] == "root" and kw["url_password"] == "secret" and kw["force_basic_auth"] is True
    assert kw["timeout"] == 1.5 and kw["use_proxy"] is False
    assert kw["headers"]["Content-Type"] == "application/json"


def test_request_without_auth_does_not_force_basic_auth(fake_http):
    fake_http.add("GET", "http://h/x", "plain text")
    status, text = request("GET", "http://h/x", HttpOptions())
    assert (status, text) == (200, "plain text")
    assert fake_http.calls[0]["kwargs"]["force_basic_auth"] is False


def test_connection_refused_names_url_and_cause(fake_http):
    with pytest.raises(RequestError) as exc:
        request_json("GET", "http://127.0.0.1:9/cluster", HttpOptions())
    assert exc.value.url == "http://127.0.0.1:9/cluster"
    assert "GET http://127.0.0.1:9/cluster failed" in str(exc.value)
    assert "Connection refused" in str(exc.value)
    assert exc.value.status is None


def test_timeout_is_readable(fake_http):
    fake_http.add("GET", "http://h/x", socket.timeout("timed out"))
    with pytest.raises(RequestError) as exc:
        request("GET", "http://h/x", HttpOptions())
    assert "timed out" in str(exc.value) and "http://h/x" in str(exc.value)


def test_http_error_status_and_body_in_message(fake_http):
    fake_http.add("GET", "http://h/config", (502, "no config"))
    with pytest.raises(RequestError) as exc:
        request_json("GET", "http://h/config", HttpOptions())
    assert exc.value.status == 502
    assert "HTTP 502" in str(exc.value) and "no config" in str(exc.value)


def test_http_401_hints_at_credentials(fake_http):
    fake_http.add("PATCH", "http://h/config", (401, "no auth header received"))
    with pytest.raises(RequestError) as exc:
        request_json("PATCH", "http://h/config", HttpOptions(), body={"a": 1})
    assert "url_username/url_password" in str(exc.value)


def test_accepted_error_status_returns_body(fake_http):
    fake_http.add("GET", "http://h/health", (503, {"health": "false"}))
    assert request_json("GET", "http://h/health", HttpOptions(), accept_status=(503,)) == {"health": "false"}


def test_invalid_json_says_what_came_back(fake_http):
    fake_http.add("GET", "http://h/cluster", "<html>login</html>")
    with pytest.raises(RequestError) as exc:
        request_json("GET", "http://h/cluster", HttpOptions())
    assert "did not return valid JSON" in str(exc.value) and "<html>login</html>" in str(exc.value)


def test_join_url():
    assert join_url("http://h:8008/", "/cluster") == "http://h:8008/cluster"
    assert join_url("http://h:8008", "cluster") == "http://h:8008/cluster"


def test_first_answer_collects_errors_until_success():
    def fetch(url):
        if url != "c":
            raise RequestError(url, "%s down" % url)
        return 42

    assert first_answer(["a", "b", "c", "d"], fetch) == (42, "c", [{"url": "a", "error": "a down"},
                                                                  {"url": "b", "error": "b down"}])
    result, url, errors = first_answer(["a", "b"], fetch)
    assert result is None and url is None and len(errors) == 2
    assert format_errors(errors) == "  - a down\n  - b down"  # the URL is already in the message
    assert format_errors([{"url": "http://h/x", "error": "boom"}]) == "  - http://h/x: boom"


def test_poll_until_success_after_retries(fake_clock):
    answers = iter([(1, False), (2, False), (3, True)])
    result, ok, attempts, elapsed = poll_until(lambda: next(answers), timeout=10, interval=2)
    assert (result, ok, attempts, elapsed) == (3, True, 3, 4.0)
    assert fake_clock.sleeps == [2, 2]


def test_poll_until_timeout_makes_a_last_attempt_at_the_deadline(fake_clock):
    calls = []

    def attempt():
        calls.append(fake_clock.now)
        return len(calls), False

    result, ok, attempts, elapsed = poll_until(attempt, timeout=5, interval=2)
    assert not ok
    assert attempts == 4 and result == 4  # at 0, 2, 4 and the deadline 5
    assert elapsed == 5.0
    assert fake_clock.sleeps == [2, 2, 1]


def test_poll_until_zero_timeout_runs_once(fake_clock):
    assert poll_until(lambda: ("x", False), timeout=0, interval=1) == ("x", False, 1, 0.0)
