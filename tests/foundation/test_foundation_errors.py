"""Errors carry declared fields; messages name caller parameters as placeholders the CLI renders as flags."""
from __future__ import annotations

import inspect

import pytest

import cdpclient.errors as errors
from cdpclient.errors import CDPClientError, KubeError, NoShellInContainer, UsageError
from cdpclient.store import Store
from cdpclient_cli.common import flag


def test_every_error_derives_from_the_root_and_declares_its_fields() -> None:
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, Exception)]
    assert all(issubclass(c, CDPClientError) for c in classes)
    for cls in classes:  # every keyword the constructor takes is a declared attribute
        params = [p for p in inspect.signature(cls.__init__).parameters.values() if p.kind is p.KEYWORD_ONLY]
        declared = {k for c in cls.__mro__ for k in getattr(c, "__annotations__", {})}
        assert {p.name for p in params} <= declared, cls


def test_placeholders_render_as_keywords_in_the_library_and_flags_in_the_cli() -> None:
    err = UsageError("prune needs {keep} N or {older_than} DURATION; {not_an_option} stays", options=("keep", "older_than"))
    assert str(err) == "prune needs keep N or older_than DURATION; {not_an_option} stays"
    assert err.render(flag) == "prune needs --keep N or --older-than DURATION; {not_an_option} stays"
    kube = NoShellInContainer("no shell", hint="pick one with {pid}", options=("pid",))
    assert isinstance(kube, KubeError) and kube.render(flag) == "no shell (pick one with --pid)"
    assert flag("fmt") == "--format" and flag("target_id") == "--target"


def test_a_library_usage_error_names_no_flag(tmp_path) -> None:
    with pytest.raises(UsageError) as info:
        Store(tmp_path / "store").prune_candidates()
    assert "--" not in str(info.value) and info.value.options == ("keep", "older_than")
