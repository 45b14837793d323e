"""The reader networks' files: trained weights stored as int8 rows, loaded with their sha256
checked, and exported to ONNX (float, or int8 for onnxruntime) once per weights file, cached."""
from __future__ import annotations

import warnings
from pathlib import Path

from rag.embedding.model import checked_sha256

# Stored weight matrices are int8 with one float scale per output row ("<name>.scale"): half the
# size of fp16 (the package ships two readers), and the product runs int8 weights anyway.
SCALE = ".scale"


def quantize(state: dict) -> dict:
    """Trained tensors as stored: 2-D weights as int8 per row plus their scales, the rest fp16."""
    import torch

    out = {}
    for name, t in state.items():
        t = t.detach().to("cpu").float()
        if t.dim() == 2:
            scale = (t.abs().amax(dim=1, keepdim=True) / 127).clamp(min=1e-12)
            out[name] = torch.round(t / scale).to(torch.int8).contiguous()
            out[name + SCALE] = scale.contiguous()
        else:
            out[name] = t.half().contiguous()
    return out


def dequantize(stored: dict) -> dict:
    """The float tensors of a stored weights file (int8 rows times their scales)."""
    return {name: t.float() * stored[name + SCALE] if name + SCALE in stored else t.float()
            for name, t in stored.items() if not name.endswith(SCALE)}


def stored_layers(stored: dict) -> int:
    """How many top transformer layers a stored weights dict holds."""
    return len({n.split(".")[3] for n in stored if n.startswith("bert.encoder.layer.")})


def base_of(data: bytes) -> str:
    """Which network (`rag.answer.reader_base`) a stored weights file's tensors were trained from:
    its "base" metadata, or the bundled MiniLM for files written before readers had a choice."""
    import json

    from rag.answer.reader_base import MINILM, check_base

    size = int.from_bytes(data[:8], "little")  # safetensors: an 8-byte header length, then the JSON header
    return check_base(json.loads(data[8 : 8 + size]).get("__metadata__", {}).get("base", MINILM))


def base_in(weights: Path) -> str:
    """Which network the reader weights file `weights` was trained from (`base_of`)."""
    from rag.models import read_model_bytes

    return base_of(read_model_bytes(weights))


def layers_in(weights: Path) -> int:
    """How many top transformer layers the weights file `weights` holds."""
    from safetensors.torch import load

    from rag.models import read_model_bytes

    return stored_layers(load(read_model_bytes(weights)))


def load_net(weights: Path, expected_sha256: str):
    """The reader network with the trained tensors of `weights` (sha256-checked), in eval mode."""
    from safetensors.torch import load

    from rag.models import read_model_bytes

    if not Path(weights).is_file():
        raise RuntimeError(f"reader weights missing: {weights} (rebuild them with `rag train`)")
    got = checked_sha256(weights)
    if got != expected_sha256:
        raise RuntimeError(f"reader weights {weights} fail their hash check (sha256 {got})")
    from rag.answer.reader import build_net, trained_names

    data = read_model_bytes(weights)
    net = build_net(base=base_of(data))
    state = dequantize(load(data))
    # The file holds whole top layers and the heads; how many layers it holds is read from it.
    known = {n for n, _ in net.named_parameters()}
    missing = set(trained_names(net, stored_layers(state))) - set(state)
    if missing or not set(state) <= known:
        raise RuntimeError(f"reader weights {weights} lack {len(missing)} tensors or hold unknown ones")
    net.load_state_dict(state, strict=False)
    return net.eval()


INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# In the exports' file names: which traced form of the network they hold (`rag.answer.reader.export_form`);
# exports of an earlier form are made again and pruned.
FORM = "m"


def onnx_file(weights: Path, expected_sha256: str, int8: bool = False) -> Path:
    """The reader exported to ONNX once per weights file (with `int8`, then quantised), cached
    under the cache folder with its sha256 beside it; a damaged copy is made again."""
    from rag.embedding.model import cache_dir, cached_file

    folder = cache_dir() / "reader"
    if int8:
        fp32 = onnx_file(weights, expected_sha256)
        return cached_file(folder / f"reader-{expected_sha256[:16]}-{FORM}-int8pc.onnx", lambda tmp: _quantize(fp32, tmp))
    return cached_file(folder / f"reader-{expected_sha256[:16]}-{FORM}.onnx",
                       lambda tmp: _export(load_net(weights, expected_sha256), tmp))


def _export(net, target: str) -> None:
    import torch

    from rag.answer.reader import export_form

    sample = tuple(torch.ones((2, 8), dtype=torch.long) for _ in INPUTS)
    axes = {k: {0: "rows", 1: "tokens"} for k in INPUTS}
    axes.update({"logit": {0: "rows"}, "start": {0: "rows", 1: "tokens"}, "end": {0: "rows", 1: "tokens"}})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes about shapes fixed at export; parity is tested
        torch.onnx.export(export_form(net), sample, target, input_names=list(INPUTS), output_names=["logit", "start", "end"],
                          dynamic_axes=axes, opset_version=17, dynamo=False)


def _quantize(fp32: Path, target: str) -> None:
    """Dynamic int8 quantisation of the weights (activations stay float): about 2x faster on a CPU.

    Per output channel and in 7 bits: on the seed sentences its relevance logits correlate with the
    float ones at 0.92-0.99 per question (0.78-0.96 with one scale per tensor)."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The quantiser logs advice through logging.warning(), which would also give the root logger a
    # handler for good; a silent handler and a raised level keep it from doing either.
    root, silent = logging.getLogger(), logging.NullHandler()
    level = root.level
    root.addHandler(silent)
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(str(fp32), target, weight_type=QuantType.QInt8, per_channel=True, reduce_range=True)
    finally:
        root.setLevel(level)
        root.removeHandler(silent)


def prune_exports(keep: set[str]) -> int:
    """Delete cached exports (float and int8) of reader weights other than `keep` (their sha256s),
    and those of an earlier traced form, so replaced models do not pile up (~110 MB each); returns
    how many files went. Exports being written are named `.make-*` and never match."""
    from rag.embedding.model import cache_dir

    prefixes = {k[:16] for k in keep}
    gone = 0
    for f in (cache_dir() / "reader").glob("reader-*"):
        parts = f.name.split(".")[0].split("-")  # reader-<sha16>-<form>[-int8pc].onnx|.sha256
        if parts[1] not in prefixes or len(parts) < 3 or parts[2] != FORM:
            f.unlink(missing_ok=True)
            gone += 1
    return gone
