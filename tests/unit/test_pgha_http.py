"""Tests for module_utils/pgha_http.py (HTTP helper and polling loop)."""

from __future__ import annotations

import socket

import pytest
from ansible.module_utils import pgha_http

from ansible.module_utils.pgha_http import (
    HttpOptions,
    RequestError,
    fail_unread,
    first_answer,
    format_errors,
    http_argument_spec,
    info_result,
    join_url,
    last_problems,
    poll_conditions,
    poll_readings,
    poll_until,
    request,
    request_json,
    timeout_message,
    wait_argument_spec,
)
from pgha_test_helpers import FakeModule, ModuleFailed


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


def test_request_json_passes_its_keyword_options_on(fake_http):
    fake_http.add("POST", "http://h/health", (503, {"health": "false"}))
    answer = request_json("POST", "http://h/health", HttpOptions(), body={"a": 1}, accept_status=(503,),
                          timeout=1.5, headers={"Authorization": "token"})
    assert answer == {"health": "false"}
    call = fake_http.calls[0]
    assert call["body"] == {"a": 1} and call["kwargs"]["timeout"] == 1.5
    assert call["kwargs"]["headers"]["Authorization"] == "token"


def test_wait_argument_spec_is_fresh():
    a = wait_argument_spec()
    a["timeout"]["default"] = 5
    assert wait_argument_spec() == {"wait": {"type": "bool", "default": False},
                                    "timeout": {"type": "int", "default": 120},
                                    "interval": {"type": "float", "default": 1.0}}


def test_poll_readings_without_wait_attempts_once(fake_clock):
    poll = poll_readings(lambda: ({"ok": True, "n": 1}, False), False, 30, 1)
    assert poll == {"reading": {"ok": True, "n": 1}, "good": {"ok": True, "n": 1}, "ok": False, "attempts": 1,
                    "elapsed": 0.0}
    assert fake_clock.sleeps == []


def test_poll_readings_keeps_the_last_reading_that_answered(fake_clock):
    answers = iter([({"ok": True, "n": 1}, False), ({"ok": True, "n": 2}, False), ({"ok": False, "n": 3}, False)])
    poll = poll_readings(lambda: next(answers), True, 4, 2)
    assert poll["reading"] == {"ok": False, "n": 3} and poll["good"] == {"ok": True, "n": 2}
    assert (poll["ok"], poll["attempts"], poll["elapsed"]) == (False, 3, 4.0)
    never = poll_readings(lambda: ({"ok": False}, False), True, 0, 1)
    assert never["good"] == {} and never["attempts"] == 1


def test_poll_conditions_checks_only_readings_that_answered(fake_clock):
    readings = iter([{"ok": False}, {"ok": True, "value": 1}, {"ok": True, "value": 2}])
    checked = []

    def check(reading):
        checked.append(reading["value"])
        return [] if reading["value"] == 2 else ["value is %d" % reading["value"]]

    poll = poll_conditions(lambda: next(readings), check, {"wait": True, "timeout": 10, "interval": 1})
    assert poll["ok"] and poll["attempts"] == 3 and checked == [1, 2]
    assert poll["reading"] == poll["good"] == {"ok": True, "value": 2, "problems": []}
    once = poll_conditions(lambda: {"ok": True, "value": 1}, check, {"wait": False, "timeout": 10, "interval": 1})
    assert not once["ok"] and once["good"]["problems"] == ["value is 1"]


def test_last_problems_adds_the_unanswered_last_poll():
    good = {"ok": True, "problems": ["p1"]}
    assert last_problems({"reading": good, "good": good}, "gone") == ["p1"]
    problems = last_problems({"reading": {"ok": False}, "good": good}, "gone")
    assert problems == ["p1", "gone"] and good["problems"] == ["p1"]


def test_fail_unread_says_how_long_it_waited():
    poll = {"reading": {"ok": False}, "good": {}, "ok": False, "attempts": 3, "elapsed": 2.0}
    with pytest.raises(ModuleFailed) as waited:
        fail_unread(FakeModule(wait=True), poll, "No API answered", ": refused", url="u")
    assert waited.value.result == {"msg": "No API answered during 2.0s of waiting (3 attempts): refused",
                                   "attempts": 3, "elapsed": 2.0, "healthy": False, "url": "u", "failed": True}
    with pytest.raises(ModuleFailed) as once:
        fail_unread(FakeModule(wait=False), dict(poll, attempts=1, elapsed=0.0), "No API answered", ".")
    assert once.value.result["msg"] == "No API answered."


def test_timeout_message_lists_unmet_conditions_then_the_state():
    poll = {"attempts": 4, "elapsed": 3.0}
    assert timeout_message(poll, "etcd", ["a", "b"], ["State:", "table"]) == (
        "Timed out after 3.0s (4 attempts) waiting for etcd. Unmet condition(s):\n  - a\n  - b\nState:\ntable")
    assert timeout_message(poll, "HAProxy", ["a"], [], unmet="expectation(s)").endswith(
        "waiting for HAProxy. Unmet expectation(s):\n  - a")


def test_info_result_is_never_changed_and_healthy_without_problems():
    poll = {"attempts": 2, "elapsed": 1.0}
    assert info_result(poll, "t", [], leader="x") == {"changed": False, "table": "t", "healthy": True,
                                                      "problems": [], "attempts": 2, "elapsed": 1.0, "leader": "x"}
    assert info_result(poll, "t", ["p"])["healthy"] is False
