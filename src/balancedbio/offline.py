"""Offline by default: importing :mod:`balancedbio` switches the Hugging Face libraries to offline mode;
``--allow-download`` calls :func:`enable_downloads` to lift it (a user's own ``HF_HUB_OFFLINE=1`` stays)."""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)

__all__ = ["downloads_enabled", "enable_downloads"]


def _truthy(value: str | None) -> bool:
    return (value or "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def enable_downloads() -> bool:
    """Let the Hugging Face libraries reach the hub (what ``--allow-download`` does).

    Importing :mod:`balancedbio` switches the offline variables on; this removes the ones the package set
    (a user's own ``HF_HUB_OFFLINE=1`` stays) and updates the offline flag of ``huggingface_hub`` (read by
    transformers) and ``datasets`` if they were imported already. Downloads then go through the normal
    Hugging Face cache. Returns whether the hub is reachable in principle (False if the user's
    environment still forces offline mode).
    """
    import sys

    import balancedbio

    for var in balancedbio.OFFLINE_SET_BY_PACKAGE:
        if os.environ.get(var) == "1":
            os.environ.pop(var)
    offline = _truthy(os.environ.get("HF_HUB_OFFLINE")) or _truthy(os.environ.get("TRANSFORMERS_OFFLINE"))
    hub = sys.modules.get("huggingface_hub.constants")
    if hub is not None:  # transformers' is_offline_mode() reads this flag at each call
        hub.HF_HUB_OFFLINE = offline
    dsets = sys.modules.get("datasets.config")
    if dsets is not None:  # datasets copies the flag at import
        dsets.HF_HUB_OFFLINE = dsets.HF_DATASETS_OFFLINE = offline or _truthy(os.environ.get("HF_DATASETS_OFFLINE"))
    if offline:
        log.warning("--allow-download: HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE is set in the environment; "
                    "the hub stays unreachable")
    return not offline


def downloads_enabled() -> bool:
    """Whether the Hugging Face libraries may contact the hub right now."""
    from huggingface_hub import constants

    return not constants.HF_HUB_OFFLINE
