"""The public names are all exported and all exist."""

from __future__ import annotations

import cdpclient
import cdpclient.errors


def test_all_exports_exist() -> None:
    for name in cdpclient.__all__:
        assert hasattr(cdpclient, name), name


def test_every_error_is_exported_and_rooted() -> None:
    errors = {name for name, value in vars(cdpclient.errors).items()
              if isinstance(value, type) and issubclass(value, Exception) and value.__module__ == "cdpclient.errors"}
    assert errors <= set(cdpclient.__all__), errors - set(cdpclient.__all__)
    for name in errors:
        assert issubclass(getattr(cdpclient, name), cdpclient.CDPClientError)


def test_capture_into_the_store_is_exported() -> None:
    for name in ("capture_to_store", "capture_to_file", "heap_snapshot_series_to_store", "CaptureResult",
                 "CaptureTarget", "StoreTarget", "CaptureState", "MemoryReading"):
        assert name in cdpclient.__all__, name
