"""On the lab: after the first install, a new admin password is said to be ignored by
Harbor 1.4, in the plan and where each node's harbor.cfg is written; a run that changes
nothing says nothing of it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.install.conftest import install
from tests.lab import Lab
from tests.support.deployment import write_secrets

pytestmark = [pytest.mark.lab, pytest.mark.slow]

SAID = "harbor.admin_password changed: Harbor 1.4 reads it only on its first start; change it"


def test_a_new_admin_password_is_said_to_be_ignored_in_the_plan_and_the_run(
    fresh: Lab, deployment: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    answers, secrets = deployment
    assert install(answers, secrets) == 0
    assert SAID not in capsys.readouterr().out  # the first start reads it

    values = YAML(typ="safe").load(secrets.read_text())
    changed = write_secrets(
        secrets.with_name("changed.yaml"),
        {**values, "harbor.admin_password": "N3w-Admin-Passw0rd"},
    )
    assert install(answers, changed) == 0
    out = capsys.readouterr().out
    assert f"\nNote: {SAID}" in out  # the plan, printed first
    written = re.findall(
        r" (harbor0\d) file:/opt/harbor/harbor.cfg: changed - .*written .*; " + re.escape(SAID),
        out,
    )
    assert sorted(written) == ["harbor01", "harbor02", "harbor03"], out
    assert "N3w-Admin-Passw0rd" not in out

    assert install(answers, changed) == 0  # Harbor's files now hold it: nothing to say
    assert SAID not in capsys.readouterr().out
