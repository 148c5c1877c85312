"""systemd/: every unit passes ``systemd-analyze verify`` and the offline security review
at a low exposure, with the hardening the operations guide promises."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[1] / "systemd"
SERVICES = sorted(path.name for path in UNITS.glob("*.service"))
# systemd-analyze's exposure, x10 (its report shows 1.7 as "OK"; 2.0 is the limit here).
MOST_EXPOSURE = 20


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The units with /opt/sekisho/.venv pointing at this checkout's venv: verify checks
    that every ExecStart program exists."""
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing: scripts/install-debs.sh installs systemd")
    folder = tmp_path_factory.mktemp("units")
    venv_bin = str(Path(sys.executable).parent) + "/"
    for unit in UNITS.iterdir():
        (folder / unit.name).write_text(
            unit.read_text().replace("/opt/sekisho/.venv/bin/", venv_bin)
        )
    return folder


def test_the_units_are_the_five_services_and_the_timer() -> None:
    assert SERVICES == [
        "sekisho-milter.service",
        "sekisho-policy.service",
        "sekisho-purge.service",
        "sekisho-web.service",
        "sekisho-worker.service",
    ]
    assert (UNITS / "sekisho-purge.timer").exists()


def test_systemd_analyze_verify_passes(installed: Path) -> None:
    units = sorted(str(path) for path in installed.iterdir())
    result = subprocess.run(
        ["systemd-analyze", "verify", *units], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


@pytest.mark.parametrize("service", SERVICES)
def test_the_exposure_is_low(installed: Path, service: str) -> None:
    result = subprocess.run(
        [
            "systemd-analyze",
            "security",
            "--offline=true",
            f"--threshold={MOST_EXPOSURE}",
            str(installed / service),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-600:]


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_runs_as_the_mailbox_user_on_a_read_only_system(service: str) -> None:
    settings = dict(
        line.split("=", 1)
        for line in (UNITS / service).read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    assert settings["User"] == "vmail"
    assert settings["NoNewPrivileges"] == "yes"
    assert settings["ProtectSystem"] == "strict"
    assert settings["PrivateTmp"] == "yes"
    assert settings["CapabilityBoundingSet"] == ""
    # Dovecot's policy server only writes the store: no Maildirs for it.
    maildirs = service != "sekisho-policy.service"
    assert ("/var/mail/vhosts" in settings["ReadWritePaths"].split()) is maildirs
