"""The README's runbook runs as written, against the demo service that leaks the way real incidents did."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from cdpclient.demo import start_service

README = Path(__file__).resolve().parents[2] / "README.md"


def _runbook_source() -> str:
    text = README.read_text()
    block = re.search(r"<!-- runbook:[^>]*-->\n```python\n(.*?)```", text, re.S)
    assert block, "the README lost its runbook block"
    # Everything but the last line (which runs it against a fixed endpoint).
    source = block.group(1).rstrip().splitlines()
    assert source[-1].startswith("asyncio.run(runbook(")
    return "\n".join(source[:-1])


@pytest.mark.slow
async def test_the_readme_runbook_names_the_leaks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scope: dict[str, object] = {}
    exec(compile(_runbook_source(), "README.md", "exec"), scope)
    async with start_service() as service:
        await scope["runbook"](service.endpoint, str(tmp_path / "store"), 2.0)  # type: ignore[operator]
    out = capsys.readouterr().out
    # The demo's truth: ContextRegistry.contexts (a Map) and StreamClient.sentEvents (an Array) grow.
    assert "contexts" in out and "sentEvents" in out, out
