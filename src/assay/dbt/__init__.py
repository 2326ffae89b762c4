"""dbt as assay's metrics layer: the manifest reader, the semantic-model mapping, provenance and
``assay dbt generate`` (DESIGN 12: dbt is read through its artifacts, never its internals)."""
