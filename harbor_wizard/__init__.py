"""harbor-wizard: guided, validated, repeatable installs of Harbor in high availability."""

__version__ = "0.1.0"
