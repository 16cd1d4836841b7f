"""The YML channel's sandbox: a portal that fetches the feed and checks it strictly (:mod:`.portal`)."""

from connectors.yml.sandbox.portal import YmlCatalog, YmlError, YmlPortal, check_yml

__all__ = ["YmlCatalog", "YmlError", "YmlPortal", "check_yml"]
