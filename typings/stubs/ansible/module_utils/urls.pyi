# The part of ansible.module_utils.urls the project's module_utils use, typed (ansible-core ships no types).
from typing import Any, Mapping, Optional

def open_url(
    url: str,
    data: Optional[bytes] = ...,
    headers: Optional[Mapping[str, str]] = ...,
    method: Optional[str] = ...,
    use_proxy: bool = ...,
    force: bool = ...,
    last_mod_time: Any = ...,
    timeout: float = ...,
    validate_certs: bool = ...,
    url_username: Optional[str] = ...,
    url_password: Optional[str] = ...,
    http_agent: Optional[str] = ...,
    force_basic_auth: bool = ...,
    follow_redirects: str = ...,
    client_cert: Optional[str] = ...,
    client_key: Optional[str] = ...,
    cookies: Any = ...,
    use_gssapi: bool = ...,
    unix_socket: Optional[str] = ...,
    ca_path: Optional[str] = ...,
    unredirected_headers: Any = ...,
    decompress: bool = ...,
    ciphers: Any = ...,
    use_netrc: bool = ...,
) -> Any: ...
