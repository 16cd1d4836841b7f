"""retailCRM (Simla.com) API v5 connector: client, conversion, ICML catalog feed and sandbox."""
