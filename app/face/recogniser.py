"""The SFace recogniser as onnxruntime should load it: prepared once per pack directory, then opened from that file.

SFace (an MXNet export) lists every weight as a graph input too, so ORT must treat the weights as overridable and
skips constant folding and the conv/batch-norm fusions: ~37 ms per embedding here instead of ~27 ms. Rewriting the
graph in memory at every load held three copies of the 39 MB of weights at once (the parsed graph, its bytes, the
session): 330 MB at load for a worker that analyses in under 300. So the rewritten graph, with ORT's portable
(`extended`) optimizations applied, is written once beside the pack's files; each load opens that file (~230 MB).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import onnx
import onnxruntime as ort
from insightface.model_zoo.arcface_onnx import ArcFaceONNX

from app.logs import get_logger

log = get_logger(__name__)


def prepared_path(model_file: Path) -> Path:
    # The optimized graph may use ORT's own fused operators: one file per ORT version, never one another version made.
    return model_file.with_name(f"{model_file.stem}.ort{ort.__version__}.onnx")


def prepare(model_file: Path, options: ort.SessionOptions, providers: list[str]) -> Path:
    """The prepared graph's path, writing it when absent (atomically: concurrent loaders each write a whole file)."""
    target = prepared_path(model_file)
    if target.is_file():
        return target
    pruned = _pruned_bytes(model_file)
    # Layout transforms (the `all` level) depend on the CPU, so the file holds only `extended` ones; each load still
    # applies the rest for the machine it runs on.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    handle, partial = tempfile.mkstemp(prefix=target.name + ".", suffix=".part", dir=target.parent)
    os.close(handle)
    try:
        options.optimized_model_filepath = partial
        ort.InferenceSession(pruned, options, providers=providers)
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    log.info("face.recogniser.prepared", file=str(target))
    return target


class SessionArcFace(ArcFaceONNX):
    """ArcFaceONNX over a session already open. Its own constructor parses the whole model file again (39 MB more at
    load) only to guess the input normalisation, which callers set themselves."""

    def __init__(self, model_file: Path, session: ort.InferenceSession, input_mean: float, input_std: float) -> None:
        self.model_file = str(model_file)
        self.session = session
        self.taskname = "recognition"
        self.input_mean, self.input_std = input_mean, input_std
        first = session.get_inputs()[0]
        self.input_name = first.name
        self.input_shape = first.shape
        self.input_size = tuple(first.shape[2:4][::-1])
        outputs = session.get_outputs()
        self.output_names = [output.name for output in outputs]
        self.output_shape = outputs[0].shape


def open_recogniser(
    model_file: Path, options: ort.SessionOptions, prepare_options: ort.SessionOptions, providers: list[str]
) -> SessionArcFace:
    """SFace from its prepared file. A pack directory that cannot be written to (mounted read-only) falls back to
    preparing in memory, at the higher peak, rather than failing."""
    try:
        source: str | bytes = str(prepare(model_file, prepare_options, providers))
    except OSError as exc:
        log.warning("face.recogniser.unprepared", file=str(model_file), reason=str(exc))
        source = _pruned_bytes(model_file)
    session = ort.InferenceSession(source, options, providers=providers)
    # SFace takes raw 0..255 RGB. insightface guesses mean/std from the first graph nodes, and a wrong guess
    # (127.5/127.5) makes every pair score ~0.9: never leave it to the guess.
    return SessionArcFace(model_file, session, input_mean=0.0, input_std=1.0)


def _pruned_bytes(model_file: Path) -> bytes:
    """The graph without its weights listed as inputs."""
    model = onnx.load(str(model_file))
    weights = {initializer.name for initializer in model.graph.initializer}
    inputs = [value for value in model.graph.input if value.name not in weights]
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    serialized: bytes = model.SerializeToString()
    return serialized
