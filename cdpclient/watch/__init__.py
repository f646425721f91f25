"""``cdpclient watch``: sample a target over hours, fire captures when a condition holds, record it all.

    from cdpclient.watch import watch, parse_condition, parse_action

The parts: :mod:`.sample` (one cheap round trip per sample), :mod:`.conditions`
(``--when``), :mod:`.actions` (``--then``), :mod:`.loop` (the watch itself).
"""

from __future__ import annotations

from cdpclient.watch.sample import SAMPLE_KEYS, Sampler, sampling

__all__ = [
    # sampling
    "SAMPLE_KEYS",
    "Sampler",
    "sampling",
]
