"""The model card (``README.md``) our trainers write next to their checkpoints.

TRL's own card links the base model as a Hugging Face hub id and writes ``[None]`` when the model was
loaded from a local directory, which is how every balancedbio model is loaded (packaged models are
converted into ``$BALANCEDBIO_HOME``). :class:`ModelCardMixin` replaces TRL's public
``create_model_card`` hook on a trainer with a card that names the base model as it was given (the
packaged name, local path or hub id), the trainer and the output directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def base_model_name(model: Any) -> str:
    """The base model a (PEFT-wrapped or plain) model was loaded from, as a path or hub id."""
    peft_config = getattr(model, "peft_config", None)
    if isinstance(peft_config, dict) and peft_config:
        first = next(iter(peft_config.values()))
        name = getattr(first, "base_model_name_or_path", None)
        if name:
            return str(name)
    config = getattr(model, "config", None)
    return str(getattr(config, "_name_or_path", "") or getattr(config, "name_or_path", "") or "unknown")


def model_card(*, base_model: str, trainer: str, model_name: str | None = None, tags: list[str] | None = None) -> str:
    """Markdown model card text (YAML front matter, then prose)."""
    local = os.path.isdir(base_model) or base_model.startswith(("/", ".", "~"))
    link = f"`{base_model}` (a local checkpoint)" if local else f"[{base_model}](https://huggingface.co/{base_model})"
    front = ["---", "library_name: transformers", f"tags: [{', '.join(['balancedbio', *(tags or [])])}]"]
    if not local:
        front.append(f"base_model: {base_model}")
    front.append("---")
    title = model_name or "balancedbio model"
    return "\n".join(front + ["", f"# {title}", "",
                              f"Fine-tuned from {link} with balancedbio's {trainer} (on TRL).", "",
                              "Settings: `*_config.json` in this directory; `final/balancedbio_*.json` and "
                              "`final/training_args.json` describe the saved model.", ""])


class ModelCardMixin:
    """Put before the TRL trainer class: ``class MyTrainer(ModelCardMixin, SFTTrainer)``."""

    def create_model_card(self, model_name: str | None = None, dataset_name: str | None = None,
                          tags: str | list[str] | None = None) -> None:
        if not self.is_world_process_zero():  # type: ignore[attr-defined]
            return
        tag_list = [tags] if isinstance(tags, str) else list(tags or [])
        text = model_card(base_model=base_model_name(self.model), trainer=type(self).__name__,  # type: ignore[attr-defined]
                          model_name=model_name, tags=tag_list)
        out = Path(self.args.output_dir)  # type: ignore[attr-defined]
        out.mkdir(parents=True, exist_ok=True)
        (out / "README.md").write_text(text, encoding="utf-8")
