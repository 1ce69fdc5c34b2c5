"""balancedbio: post-training for biomedical language models.

Balanced Fine-Tuning (BFT), knowledge-grounded synthetic data (MKGSG), capability-aware GRPO,
a four-capability evaluation suite and text embeddings for downstream biology.

Importing the package switches the Hugging Face libraries to offline mode unless the user has set
``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE`` themselves: nothing is downloaded unless asked for.
``--allow-download`` (or ``balancedbio.offline.enable_downloads()``) lifts the offline mode the package set.
"""

import os as _os

# the offline variables this import set (a user's own settings are left alone and never undone)
OFFLINE_SET_BY_PACKAGE = tuple(v for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")
                               if v not in _os.environ)
for _var in OFFLINE_SET_BY_PACKAGE:
    _os.environ[_var] = "1"
_os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

__version__ = "0.1.0"
