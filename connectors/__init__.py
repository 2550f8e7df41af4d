"""Built-in connectors, one package per vendor, each loaded as a plugin through entry points."""
