"""A small reward model for the tests: the embedded SmolLM2 with a score head whose preference is known.

There is no small reward model to install, so the tests make one. The base
weights are the embedded model's (its converted Hugging Face folder); the
architecture becomes ``LlamaForSequenceClassification`` with one label, and the
head ``score.weight`` is the unit vector from the last-token hidden state of a
bad reply to that of a good one. The score is the hidden state's projection on
that direction, so the good reply scores above the bad one by the distance
between their hidden states: a known sign and a known gap, for any served copy.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

Message = dict[str, str]


def chat_ids(tokenizer: Any, messages: list[Message]) -> Any:
    """Token ids of *messages* as vLLM's pooling chat route renders them (the template, no generation prompt, no extras)."""
    return tokenizer.apply_chat_template(messages, add_generation_prompt=False, return_tensors="pt", return_dict=True)["input_ids"]


def build_reward_model(base_dir: Path, target: Path, good: list[Message], bad: list[Message]) -> Path:
    """Write into *target* a one-label sequence classifier on *base_dir*'s weights that prefers *good* to *bad*."""
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    config = AutoConfig.from_pretrained(base_dir)
    config.architectures = ["LlamaForSequenceClassification"]
    config.num_labels = 1
    config.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    model: Any = AutoModelForSequenceClassification.from_pretrained(base_dir, config=config, dtype=torch.float32)
    model.eval()
    with torch.no_grad():
        # The last token is the template's newline, never the pad token: HF and vLLM pool the same position.
        good_h, bad_h = (model.model(chat_ids(tokenizer, m)).last_hidden_state[0, -1] for m in (good, bad))
        direction = good_h - bad_h
        model.score.weight.copy_((direction / direction.norm()).unsqueeze(0))
    if target.exists():
        shutil.rmtree(target)
    model.to(torch.bfloat16).save_pretrained(target)  # bf16 as the embedded checkpoint: half the bytes to write
    tokenizer.save_pretrained(target)
    return target


def reference_scores(model_dir: Path, conversations: list[list[Message]]) -> list[float]:
    """Each conversation's score from transformers' own forward pass over the saved folder: a computation vLLM has no part in."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model: Any = AutoModelForSequenceClassification.from_pretrained(model_dir, dtype=torch.float32)
    model.eval()
    with torch.no_grad():
        return [float(model(chat_ids(tokenizer, messages)).logits[0, 0]) for messages in conversations]
