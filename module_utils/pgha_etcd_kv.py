# -*- coding: utf-8 -*-
# Pure logic for etcd_key: the key range of a key or a prefix, the base64 the etcd v3 JSON gateway wants for keys,
# and the parsing of its /v3/kv/range and /v3/kv/deleterange answers. No HTTP here (that is pgha_etcd_api).
"""etcd v3 key-value helpers: key ranges (prefix -> range_end), base64 keys, range/deleterange answers, hints."""

from __future__ import annotations

import base64
import binascii
from typing import Any, Dict, List, Optional, Tuple

# What an etcd or TLS error met while reading or deleting keys means, and what to do (needle in lower case, "_" as
# " ": OpenSSL names its alerts SSLV3_ALERT_BAD_CERTIFICATE and the like).
KV_ERROR_HINTS: Tuple[Tuple[str, str], ...] = (
    ("authentication failed", "etcd refused these credentials: check url_username/url_password."),
    ("invalid user id or password", "etcd refused these credentials: check url_username/url_password."),
    ("authentication is not enabled", "etcd authentication is off on this member: leave url_username/url_password "
                                      "unset."),
    ("user name is empty", "etcd authentication is on: give url_username/url_password."),
    ("auth token", "etcd did not take the auth token: check url_username/url_password."),
    ("permission denied", "the etcd user may not read or delete these keys: check url_username/url_password (the "
                          "user needs a role with readwrite permission on the key range)."),
    ("certificate verify failed", "the server's certificate is not trusted: check ca_path (the CA that signed "
                                  "etcd's certificate)."),
    ("certificate required", "etcd wants a client certificate: check client_cert and client_key."),
    ("bad certificate", "etcd refused the client certificate: check client_cert and client_key."),
    ("unknown ca", "etcd does not trust the client certificate: check client_cert and client_key."),
    ("eof occurred in violation of protocol", "etcd closed the TLS connection; it may want a client certificate: "
                                              "check client_cert and client_key."),
    ("key values mismatch", "client_key is not the key of client_cert."),
)


def encode_key(key: bytes) -> str:
    """A key (or range end) as the gateway takes it: standard base64 of its bytes."""
    return base64.b64encode(key).decode("ascii")


def decode_key(value: Any) -> str:
    """A base64 key of a gateway answer as text (UTF-8; bytes that are not UTF-8 shown as ``\\xNN``)."""
    if not isinstance(value, str):
        return ""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return value  # not base64: shown as it came
    return raw.decode("utf-8", "backslashreplace")


def prefix_range_end(prefix: bytes) -> bytes:
    """The ``range_end`` that selects every key starting with ``prefix`` (etcd's ``GetPrefixRangeEnd``).

    The last byte below 0xff is incremented and what follows it dropped; a prefix of 0xff bytes only (or an empty
    one) gives ``b"\\x00"``, which etcd reads as "every key from ``key`` on".
    """
    end = bytearray(prefix)
    for i in range(len(end) - 1, -1, -1):
        if end[i] < 0xFF:
            end[i] += 1
            return bytes(end[: i + 1])
    return b"\x00"


def key_range(key: str, prefix: bool) -> Tuple[bytes, Optional[bytes]]:
    """The ``(key, range_end)`` bytes that select ``key`` alone, or with ``prefix`` every key starting with it."""
    raw = key.encode("utf-8")
    return raw, prefix_range_end(raw) if prefix else None


def key_problem(key: str, prefix: bool) -> Optional[str]:
    """Why ``key`` cannot be used (None when it can): it is empty, or with ``prefix`` it selects the whole keyspace."""
    if not key:
        return "key is empty: give the etcd key to delete, e.g. /service/demo/members/patroni4"
    if prefix and key == "/":
        return ("key is '/' with prefix=true: that would delete every key in etcd (all of Patroni's DCS data). Give "
                "a longer prefix, e.g. /service/demo/members/, or set prefix=false to delete one key.")
    return None


def range_body(key: bytes, range_end: Optional[bytes], keys_only: bool = False,
               count_only: bool = False) -> Dict[str, Any]:
    """The JSON body of ``POST /v3/kv/range``."""
    body: Dict[str, Any] = {"key": encode_key(key)}
    if range_end is not None:
        body["range_end"] = encode_key(range_end)
    if keys_only:
        body["keys_only"] = True
    if count_only:
        body["count_only"] = True
    return body


def delete_body(key: bytes, range_end: Optional[bytes], prev_kv: bool = False) -> Dict[str, Any]:
    """The JSON body of ``POST /v3/kv/deleterange``."""
    body: Dict[str, Any] = {"key": encode_key(key)}
    if range_end is not None:
        body["range_end"] = encode_key(range_end)
    if prev_kv:
        body["prev_kv"] = True
    return body


def validate_kv_answer(data: Any) -> Optional[str]:
    """None if ``data`` looks like a kv range or deleterange answer (a JSON object with a ``header``), else why not."""
    if not isinstance(data, dict):
        return "expected a JSON object with a 'header', got %s" % type(data).__name__
    if data.get("error") or data.get("message"):
        return "etcd answered with an error: %s" % (data.get("error") or data.get("message"))
    if not isinstance(data.get("header"), dict):
        return "expected a 'header' object in the JSON object, found keys: %s" % (sorted(data) or "none")
    kvs = data.get("kvs", data.get("prev_kvs"))
    if kvs is not None and not isinstance(kvs, list):
        return "'kvs' is %s, expected a list" % type(kvs).__name__
    return None


def _count(value: Any) -> int:
    """An int64 of a gateway answer (a decimal string; absent means 0, as the gateway leaves zero fields out)."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return 0


def _keys(kvs: Any) -> List[str]:
    return [decode_key(kv.get("key")) for kv in kvs or [] if isinstance(kv, dict)]


def parse_range(data: Any) -> Tuple[List[str], int]:
    """The key names (decoded) and the ``count`` of a ``/v3/kv/range`` answer (no ``kvs``: none)."""
    answer = data if isinstance(data, dict) else {}
    keys = _keys(answer.get("kvs"))
    return keys, max(_count(answer.get("count")), len(keys))


def parse_delete(data: Any) -> Tuple[int, List[str]]:
    """The number ``deleted`` of a ``/v3/kv/deleterange`` answer, and the keys of its ``prev_kvs`` (with prev_kv)."""
    answer = data if isinstance(data, dict) else {}
    return _count(answer.get("deleted")), _keys(answer.get("prev_kvs"))


def kv_error_hint(text: str) -> Optional[str]:
    """What an error of a kv request (or of getting its token) means and what to do; None when unknown."""
    lowered = text.lower().replace("_", " ")
    return next((hint for needle, hint in KV_ERROR_HINTS if needle in lowered), None)


def with_hint(message: str) -> str:
    """``message`` followed by its hint (see kv_error_hint()), if it has one."""
    hint = kv_error_hint(message)
    return "%s (%s)" % (message, hint) if hint else message
