"""The bundled demo service: a small Node program that leaks like the incidents cdpclient was built for."""

from __future__ import annotations

from pathlib import Path

SERVICE_JS = Path(__file__).with_name("service.js")
