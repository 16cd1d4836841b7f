"""The retailCRM emulator's parts, by concern; :mod:`connectors.retailcrm.sandbox` assembles them."""
