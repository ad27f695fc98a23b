# The part of ansible.module_utils.basic the project's modules use, typed (ansible-core ships no types).
from typing import Any, Dict, NoReturn, Optional, Sequence

class AnsibleModule:
    params: Dict[str, Any]
    check_mode: bool
    def __init__(
        self,
        argument_spec: Dict[str, Any],
        bypass_checks: bool = ...,
        no_log: bool = ...,
        mutually_exclusive: Optional[Sequence[Any]] = ...,
        required_together: Optional[Sequence[Any]] = ...,
        required_one_of: Optional[Sequence[Any]] = ...,
        add_file_common_args: bool = ...,
        supports_check_mode: bool = ...,
        required_if: Optional[Sequence[Any]] = ...,
        required_by: Optional[Dict[str, Any]] = ...,
    ) -> None: ...
    def fail_json(self, msg: str, **kwargs: Any) -> NoReturn: ...
    def exit_json(self, **kwargs: Any) -> NoReturn: ...
    def warn(self, warning: str) -> None: ...
