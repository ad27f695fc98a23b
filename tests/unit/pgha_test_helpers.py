"""Helpers for the unit tests: fixture files, a fake ``open_url``, a fake clock, module argument patching.

Imported by tests/unit/conftest.py (which turns them into pytest fixtures) and by the test modules
(``from pgha_test_helpers import load_json``). Named uniquely so it never clashes with another ``conftest``.
"""

from __future__ import annotations

import email.message
import importlib.util
import io
import json
import os
import sys
import types
import urllib.error
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

try:  # ansible-core >= 2.19
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # pragma: no cover - older ansible-core
    import contextlib
    from unittest import mock

    from ansible.module_utils import basic

    @contextlib.contextmanager
    def patch_module_args(args=None):
        payload = json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}).encode()
        with mock.patch.object(basic, "_ANSIBLE_ARGS", payload):
            yield


FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
TOOLS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "chaos", "tools")


def load_tool(name: str) -> types.ModuleType:
    """A script of chaos/tools/ (``pgha_loadprobe``, ``bench_failover``, ...) as a module, loaded once."""
    if name not in sys.modules:
        if TOOLS not in sys.path:
            sys.path.insert(0, TOOLS)  # the tools import each other (bench_common), as they do when run
        spec = importlib.util.spec_from_file_location(name, os.path.join(TOOLS, name + ".py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the class is built
        spec.loader.exec_module(module)
    return sys.modules[name]


def fixture_path(name: str) -> str:
    return os.path.join(FIXTURES, name)


def load_text(name: str) -> str:
    with open(fixture_path(name), encoding="utf-8") as fh:
        return fh.read()


def load_json(name: str) -> Any:
    return json.loads(load_text(name))


def set_member(data: Dict[str, Any], name: str, **fields: Any) -> Dict[str, Any]:
    """A Patroni /cluster answer ``data`` with ``fields`` set on member ``name`` (None removes the key)."""
    for m in data["members"]:
        if m["name"] == name:
            for key, value in fields.items():
                if value is None:
                    m.pop(key, None)
                else:
                    m[key] = value
    return data


class FakeResponse:
    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self._body = body

    def read(self) -> bytes:
        return self._body

    def getcode(self) -> int:
        return self.status


Answer = Union[Any, Tuple[int, Any], BaseException, Callable[..., Any]]


def refused(url: str = "") -> urllib.error.URLError:
    """What open_url raises when nothing listens on the port."""
    return urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))


def http_error(url: str, status: int, body: Any = "") -> urllib.error.HTTPError:
    text = body if isinstance(body, str) else json.dumps(body)
    return urllib.error.HTTPError(url, status, {503: "Service Unavailable", 401: "Unauthorized"}.get(status, "Error"),
                                  email.message.Message(), io.BytesIO(text.encode()))


class FakeHttp:
    """Route (METHOD, URL) to canned answers.

    An answer is: a JSON-able object (200), ``(status, body)`` (body str or JSON-able; status >= 400 raises
    HTTPError like open_url does), an exception instance to raise, a list of answers consumed one per call
    (the last one repeats), or a callable ``(method, url, body) -> answer``. Unrouted URLs raise
    "connection refused".
    """

    def __init__(self) -> None:
        self.routes: Dict[Tuple[str, str], Any] = {}
        self.calls: List[Dict[str, Any]] = []

    def add(self, method: str, url: str, answer: Answer) -> "FakeHttp":
        self.routes[(method.upper(), url)] = answer
        return self

    def count(self, method: str, url_part: str = "") -> int:
        return sum(1 for c in self.calls if c["method"] == method and url_part in c["url"])

    def __call__(self, url: str, data: Optional[bytes] = None, method: Optional[str] = None,
                 **kwargs: Any) -> FakeResponse:
        method = (method or ("POST" if data else "GET")).upper()
        body = json.loads(data.decode()) if data else None
        self.calls.append({"method": method, "url": url, "body": body, "kwargs": kwargs})
        answer = self.routes.get((method, url))
        if answer is None:
            raise refused(url)
        if isinstance(answer, list):
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        if callable(answer) and not isinstance(answer, BaseException):
            answer = answer(method, url, body)
        if isinstance(answer, BaseException):
            raise answer
        status, payload = answer if isinstance(answer, tuple) else (200, answer)
        text = payload if isinstance(payload, str) else json.dumps(payload)
        if status >= 400:
            raise http_error(url, status, text)
        return FakeResponse(status, text.encode())



class ModuleFailed(Exception):
    """What FakeModule.fail_json raises; ``result`` is what the module would have returned."""

    def __init__(self, result: Dict[str, Any]) -> None:
        super().__init__(result["msg"])
        self.result = result


class FakeModule:
    """The part of AnsibleModule the module_utils helpers use: ``params`` and ``fail_json``."""

    def __init__(self, **params: Any) -> None:
        self.params = params

    def fail_json(self, msg: str, **kwargs: Any) -> None:
        raise ModuleFailed(dict(kwargs, msg=msg, failed=True))


class FakeClock:
    """time.monotonic/time.sleep replacement: sleeping advances the clock instantly."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: List[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds




def warning_texts(result: Dict[str, Any]) -> List[str]:
    """Warning messages of a module result (ansible-core 2.19 returns structured warning objects)."""
    texts = []
    for w in result.get("warnings", []):
        if isinstance(w, dict):
            w = (w.get("event") or {}).get("msg") or w.get("msg") or json.dumps(w)
        texts.append(str(w))
    return texts


def undocumented_keys(module: Any, result: Dict[str, Any]) -> List[str]:
    """Keys of a module result that its RETURN block does not document (Ansible's own keys excluded)."""
    import yaml

    documented = set(yaml.safe_load(module.RETURN))
    ansible_keys = {"changed", "failed", "msg", "invocation", "warnings", "deprecations", "diff"}
    return sorted(set(result) - documented - ansible_keys)
