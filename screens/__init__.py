"""Textual screens of the wizard, one per file, installed as ``harbor_wizard.screens``."""
