"""The public names of cdpclient.kube exist and are the documented ones."""

from __future__ import annotations

import cdpclient.kube as kube


def test_exports_complete():
    assert set(kube.__all__) == {"attach_pod", "resolve_pods", "for_each_pod", "PodResult", "PodInfo", "Kubectl",
                                "pull_files", "PullResult", "PulledFile"}
    for name in kube.__all__:
        assert getattr(kube, name) is not None
