"""Check a Serve config completely before any process is started, and say in one line what is wrong.

Why: Serve validates a deployment's ``user_config`` only inside its replica, and retries a replica
that fails forever; a typo in a config would make ``make serve`` hang with a traceback in the log
every few seconds. Everything that can be checked without Ray is checked here: Serve's own schema,
our application ``args`` (``AppArgs``), each deployment's name and ``user_config`` against its typed
model, the policy files those name, and the secret sources (API keys, audit digest key, database and
Redis passwords, cache signing key) that must hold a value.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydantic
import yaml

from pipelines.core.paths import resolve_path

APP_IMPORT_PATH = "serve_app.app:build_app"
DEFAULT_HOST = "127.0.0.1"  # Serve's default http_options.host


class ConfigError(ValueError):
    """A config that cannot run; ``str()`` is one line naming the place, the key and the problem."""


def check_config(path: str | Path) -> dict[str, Any]:
    """The parsed config, or :class:`ConfigError` on the first problem found."""
    return check_config_data(read_config(path), str(path))


def read_config(path: str | Path) -> dict[str, Any]:
    """The YAML mapping in ``path``, unchecked; :class:`ConfigError` when it is not one."""
    try:
        config = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the config: {_first_line(exc)}") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: a Serve config must be a YAML mapping")
    return config


def check_config_data(config: dict[str, Any], where: str) -> dict[str, Any]:
    """``config`` itself (as read from ``where``, which names it in messages), once it passed every check."""
    from ray.serve.schema import ServeDeploySchema

    from serve_app.config import DEPLOYMENT_USER_CONFIGS, AppArgs

    _validated(ServeDeploySchema, config, f"{where}: Serve schema")
    for index, app in enumerate(config.get("applications") or []):
        label = f"{where}: applications[{index}] ({app.get('name', '?')})"
        if app.get("import_path") != APP_IMPORT_PATH:
            continue  # another application (e.g. the composition example): Serve's schema is all we know
        args = _validated(AppArgs, app.get("args") or {}, f"{label} args")
        _check_policy_file(args.policy.policy_file, f"{label} args.policy.policy_file")
        ingress = args.ingress
        for deployment in app.get("deployments") or []:
            name = deployment.get("name")
            if name not in DEPLOYMENT_USER_CONFIGS:
                known = ", ".join(DEPLOYMENT_USER_CONFIGS)
                raise ConfigError(f"{label}: unknown deployment {name!r} (this application has {known})")
            if deployment.get("user_config") is None:
                continue
            settings = _validated(
                DEPLOYMENT_USER_CONFIGS[name], deployment["user_config"], f"{label} deployment {name} user_config"
            )
            policy_file = getattr(settings, "policy_file", None)
            if policy_file:
                _check_policy_file(policy_file, f"{label} deployment {name} user_config.policy_file")
            if name == "Ingress":
                ingress = settings
        _check_access(ingress, (config.get("http_options") or {}).get("host", DEFAULT_HOST), f"{label} Ingress")
        _check_secrets(args, f"{label} args")
    return config


def _check_secrets(args: Any, label: str) -> None:
    """The audit log's and the cache's secret sources hold what they name (a replica would refuse to start)."""
    from pipelines.core.secrets import SecretSourceError

    try:
        if args.audit is not None:
            args.audit.digest_key()
            args.audit.connect_url()
        if args.cache.enabled and args.cache.backend == "redis":
            args.cache.signing_key()
            args.cache.redis_password()
    except SecretSourceError as exc:
        raise ConfigError(f"{label}: {exc}") from None


def _check_access(settings: Any, host: str, label: str) -> None:
    """Key sources that hold keys, and no keyless service on a non-loopback address unless chosen."""
    from serve_app.api.auth import KeySourceError, load_api_keys

    try:
        keys = load_api_keys(settings)
    except KeySourceError as exc:
        raise ConfigError(f"{label}: {exc}") from None
    if not keys.required and not _is_loopback(host) and not settings.allow_unauthenticated:
        raise ConfigError(
            f"{label}: http_options.host {host!r} is reachable from other machines and no API key is configured; "
            "set api_key_env / api_key_file (and admin_api_key_*), or allow_unauthenticated: true to serve openly"
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name that is not localhost: assume reachable


def _validated(model: type[pydantic.BaseModel], data: object, label: str) -> Any:
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ConfigError(f"{label}: {describe_validation_error(exc)}") from None


def describe_validation_error(exc: pydantic.ValidationError) -> str:
    """The first problem as ``key.path: message`` (and how many more there are)."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    key = ".".join(str(part) for part in first["loc"]) or "(top level)"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{key}: {first['msg']}{more}"


def _check_policy_file(policy_file: str, label: str) -> None:
    from pipelines.moderation.policy.config import load_policy

    path = resolve_path(policy_file)
    try:
        load_policy(path)
    except FileNotFoundError:
        raise ConfigError(f"{label}: no such file {path}") from None
    except pydantic.ValidationError as exc:
        raise ConfigError(f"{label} {path}: {describe_validation_error(exc)}") from None
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"{label} {path}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    return next(_lines(str(exc)), type(exc).__name__)


def _lines(text: str) -> Iterator[str]:
    return (line.strip() for line in text.splitlines() if line.strip())
