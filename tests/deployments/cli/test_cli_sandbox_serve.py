"""`skladbridge sandbox serve` without a system says what to give it, in one line."""

from __future__ import annotations

from typer.testing import CliRunner

from deployments.cli import app


def test_sandbox_serve_without_a_system_names_the_choices() -> None:
    result = CliRunner().invoke(app, ["sandbox", "serve"])
    assert result.exit_code == 1
    assert "None" not in result.output
    assert "sandbox serve moysklad" in result.output and "--world demo" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
