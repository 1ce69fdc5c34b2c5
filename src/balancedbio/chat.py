"""A small chat session over any causal LM: prompts built by :mod:`balancedbio.prompts` (chat template when
the tokenizer has one, the base-model format training uses otherwise), token streaming to a text stream."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TextIO

from balancedbio.prompts import build_prompt_ids


@dataclass
class ChatSession:
    model: Any
    tokenizer: Any
    name: str
    system: str | None = None
    max_new_tokens: int = 256
    temperature: float = 0.0
    seed: int = 0
    history: list[dict[str, str]] = field(default_factory=list)

    @classmethod
    def load(cls, spec: str | None, *, allow_download: bool = False, **kwargs: Any) -> ChatSession:
        from balancedbio.models import DEFAULT_MODEL, load_model

        model, tokenizer = load_model(spec, allow_download=allow_download)
        model.eval()
        return cls(model=model, tokenizer=tokenizer, name=str(spec or DEFAULT_MODEL), **kwargs)

    def reset(self) -> None:
        self.history.clear()

    def reply(self, text: str, *, stream: TextIO | None = None) -> str:
        import torch
        from transformers import TextStreamer

        from balancedbio.seed import seed_everything

        seed_everything(self.seed)
        self.history.append({"role": "user", "content": text})
        messages = ([{"role": "system", "content": self.system}] if self.system else []) + self.history
        input_ids = build_prompt_ids(self.tokenizer, messages).to(self.model.device)

        class _Streamer(TextStreamer):
            def on_finalized_text(self, chunk: str, stream_end: bool = False) -> None:
                if stream is not None:
                    stream.write(chunk + ("\n" if stream_end else ""))
                    stream.flush()

        gen_kwargs: dict[str, Any] = {"max_new_tokens": self.max_new_tokens,
                                      "pad_token_id": self.tokenizer.pad_token_id}
        if self.temperature > 0:
            gen_kwargs.update(do_sample=True, temperature=self.temperature)
        else:
            gen_kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        with torch.inference_mode():
            out = self.model.generate(input_ids, attention_mask=torch.ones_like(input_ids),
                                      streamer=_Streamer(self.tokenizer, skip_prompt=True,
                                                         skip_special_tokens=True), **gen_kwargs)
        answer = self.tokenizer.decode(out[0, input_ids.shape[1]:], skip_special_tokens=True).strip()
        self.history.append({"role": "assistant", "content": answer})
        return answer
