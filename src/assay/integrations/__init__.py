"""Integrations with orchestrators and other tools; each imports its tool only when used."""
