"""Train the digit classifier that Thaw's example model server serves.

A multinomial logistic regression on scikit-learn's bundled `load_digits` dataset (1797 8x8
grey images, pixel values 0..16, ink high). Two versions are trained so that a canary release
rolls out a genuinely different model: v1 is strongly regularised and a little worse; v2 uses
the C that scored best among 1e-4..1 on this split. The weights are plain JSON so the Swift
model server needs no ML runtime: it computes softmax(W.x + b) itself.

The outputs are committed; rerun only to change the models or the sample images:

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install scikit-learn
    /tmp/venv/bin/python examples/digits/train.py

Writes examples/digits/model/digits-v1.json, digits-v2.json and ten sample images from the test
split (one per digit) to examples/digits/images/digit-<label>-<index>.pgm, where <index> is the
image's index in load_digits. The images are binary PGM (P5), 32x32 (each pixel repeated 4x4),
dark ink on a light background, as a scanner or a drawing app would produce; the transformer
turns them back into the 8x8, ink-high vectors the model expects.
"""

import json
import pathlib

import numpy as np
import sklearn
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

HERE = pathlib.Path(__file__).resolve().parent
VERSIONS = {"v1": 0.0003, "v2": 0.01}  # version -> inverse regularisation strength C
SCALE = 4  # 8x8 -> 32x32


def sig(x):
    """Six significant digits: enough for the model's accuracy, and keeps the files small."""
    return float(f"{x:.6g}")


def main():
    digits = load_digits()
    indices = np.arange(len(digits.target))
    train_idx, test_idx = train_test_split(indices, test_size=0.25, random_state=0, stratify=digits.target)
    x_train, y_train = digits.data[train_idx], digits.target[train_idx]
    x_test, y_test = digits.data[test_idx], digits.target[test_idx]

    (HERE / "model").mkdir(exist_ok=True)
    for version, c in VERSIONS.items():
        model = LogisticRegression(C=c, max_iter=5000, random_state=0)
        model.fit(x_train, y_train)
        accuracy = sig(model.score(x_test, y_test))
        document = {
            "name": "digits",
            "version": version,
            "input": {"shape": [64], "scale": "0..16, 8x8 row-major, ink high"},
            "classes": [int(k) for k in model.classes_],
            "weights": [[sig(w) for w in row] for row in model.coef_],
            "bias": [sig(b) for b in model.intercept_],
            "test_accuracy": accuracy,
            "trained_with": f"scikit-learn {sklearn.__version__} LogisticRegression(C={c})",
        }
        path = HERE / "model" / f"digits-{version}.json"
        path.write_text(json.dumps(document, separators=(",", ":")) + "\n")
        print(f"{path.relative_to(HERE)}: test accuracy {accuracy}")

    images = HERE / "images"
    images.mkdir(exist_ok=True)
    for old in images.glob("digit-*.pgm"):
        old.unlink()
    for label in range(10):
        index = int(next(i for i in test_idx if digits.target[i] == label))
        ink = digits.images[index]  # 8x8, 0..16
        grey = np.rint(255 - ink * 255 / 16).astype(np.uint8)
        big = np.kron(grey, np.ones((SCALE, SCALE), dtype=np.uint8))
        path = images / f"digit-{label}-{index}.pgm"
        path.write_bytes(f"P5\n{big.shape[1]} {big.shape[0]}\n255\n".encode() + big.tobytes())
        print(f"{path.relative_to(HERE)}")


if __name__ == "__main__":
    main()
