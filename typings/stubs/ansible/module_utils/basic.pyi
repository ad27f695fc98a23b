# The part of ansible.module_utils.basic the project's modules use, typed (ansible-core ships no types).
from typing import Any, Dict, List, NoReturn, Optional, Sequence, Tuple, Union

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
    def get_bin_path(self, arg: str, required: bool = ..., opt_dirs: Optional[List[str]] = ...) -> Optional[str]: ...
    def run_command(
        self,
        args: Union[str, Sequence[str]],
        check_rc: bool = ...,
        close_fds: bool = ...,
        executable: Optional[str] = ...,
        data: Optional[str] = ...,
        binary_data: bool = ...,
        path_prefix: Optional[str] = ...,
        cwd: Optional[str] = ...,
        use_unsafe_shell: bool = ...,
        prompt_regex: Optional[str] = ...,
        environ_update: Optional[Dict[str, str]] = ...,
        umask: Optional[int] = ...,
        encoding: Optional[str] = ...,
        errors: str = ...,
        expand_user_and_vars: bool = ...,
        pass_fds: Optional[Sequence[int]] = ...,
        before_communicate_callback: Any = ...,
        ignore_invalid_cwd: bool = ...,
        handle_exceptions: bool = ...,
    ) -> Tuple[int, str, str]: ...
