"""Packaged Terraform provider schema tables (JSON data, see NOTICE.md)."""
