import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _start(env_changes, code=""):
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "ALLOWED_HOSTS"}}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", **env_changes})
    return subprocess.run(  # noqa: S603  (our own interpreter and code)
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS"])
def test_production_settings_refuse_to_start_without(missing):
    present = {"SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "bank.example"}
    present.pop(missing)
    result = _start({"DEBUG": "false", **present})
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1  # one clear line, no traceback
    assert f"{missing} is not set" in lines[0]


def test_debug_starts_on_embedded_defaults():
    assert _start({"DEBUG": "true"}).returncode == 0


@pytest.mark.parametrize("value", ["soon", "-1", "61"])
def test_an_unusable_audit_seal_delay_refuses_to_start(value):
    result = _start({"DEBUG": "true", "AUDIT_SEAL_DELAY": value})
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "Ledgerline cannot start: AUDIT_SEAL_DELAY must be seconds from 0 to 60, e.g. 0.2."
    ]
