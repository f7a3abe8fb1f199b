"""Jinja2 templates of every file the wizard writes to a host.

Installed as ``harbor_wizard.templates`` and loaded through the package, never by path.
"""
