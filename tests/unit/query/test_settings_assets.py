"""``processor.include_assets`` goes through the filter model's asset parser when the settings load."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from stellar_arrow.config import load_settings
from stellar_arrow.errors import ConfigError
from stellar_arrow.pipeline.components import build_processor

ISSUER = "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN"
CONTRACT = "CAS3J7GYLGXMF6TDJBBYYSE3HQ6BBSMLNUQ34T6TZMYMW2EVH34XOWMA"
CLI = str(Path(sys.executable).parent / "stellar-arrow")


def test_assets_are_parsed_into_the_table_form() -> None:
    s = load_settings(processor={"include_assets": ["native", f"USDC:{ISSUER}", CONTRACT]})
    assert s.processor.include_assets == ("native", f"credit_alphanum4:USDC:{ISSUER}", CONTRACT)
    processor = build_processor(s, port=0)
    try:
        assert processor._base_filter.assets == (CONTRACT, f"credit_alphanum4:USDC:{ISSUER}", "native")
    finally:
        processor.stop()


@pytest.mark.parametrize("asset", ["USDC", "USDC:GNOTANISSUER", f"USDC:{ISSUER[:-1]}A", "²", "", ISSUER])
def test_bad_assets_are_a_config_error_naming_the_key(asset: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(processor={"include_assets": [asset]})
    assert info.value.key is not None and info.value.key.startswith("processor.include_assets")
    assert "processor.include_assets" in str(info.value)


@pytest.mark.integration
def test_run_refuses_a_bad_asset_at_once(tmp_path: Path) -> None:
    """Before, ``run`` started and its processor retried the bad filter for ever."""
    config = tmp_path / "pipeline.yaml"
    config.write_text("processor:\n  include_assets: [USDC]\n", encoding="utf-8")
    done = subprocess.run(
        [CLI, "run", "--config", str(config), "--out", str(tmp_path / "o"), "--exit-when-done"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "processor.include_assets" in done.stderr and "Traceback" not in done.stderr
