"""The application's own version, from the installed package metadata."""

from importlib.metadata import PackageNotFoundError, version

try:
    APP_VERSION = version("qwen-vl-serve")
except PackageNotFoundError:  # running from a source tree that was never installed
    APP_VERSION = "0+unknown"
