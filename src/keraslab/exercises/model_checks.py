"""*Build it* checks: a Keras model checked for what the exercise asked (input, output, its layers exactly: kinds,
units, activations, order; compile settings), then a fresh copy of it trained briefly on seeded data to a stated score.

The copy has the learner's architecture and compile settings and fresh weights drawn from a seed the check sets, so
that a verdict never depends on earlier `fit` calls, on running the cell again, or on what a model class of one's own
does in `predict`: only `keras.Sequential` and functional `keras.Model`s made of Keras's own layers are taken.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from keraslab.exercises.checking import FAILED, LEARNER_ERRORS, NOT_ATTEMPTED, PASSED, Verdict, unavailable
from keraslab.exercises.differences import describe

_LETTERS = {"Dense": "D", "Conv2D": "C", "MaxPooling2D": "P", "Flatten": "F", "Dropout": "O"}
_ACTIVATION_LAYERS = {"Activation", "ReLU", "Softmax"}
_PREPROCESSING = {"Rescaling", "Normalization"}


@dataclass(frozen=True)
class Layer:
    """One layer of the learner's model as the check reads it: a following `Activation` layer counts as its
    activation; the input layer and preprocessing layers (Rescaling) are not counted."""

    kind: str  # the Keras class's name; "<name> (a class of your own)" for any other
    layer: object
    position: int  # its place among the model's layers, from 1 (the input layer not counted)
    activation: str | None = None

    @property
    def letter(self) -> str:
        return _LETTERS.get(self.kind, "X")

    def says(self) -> str:
        layer, act = self.layer, self.activation
        if self.kind == "Dense":
            return f"Dense({layer.units}, {act})"
        if self.kind == "Conv2D":
            return f"Conv2D({layer.filters}, {tuple(layer.kernel_size)}, {act})"
        if self.kind == "MaxPooling2D":
            return f"MaxPooling2D({tuple(layer.pool_size)})"
        if self.kind == "Dropout":
            return f"Dropout({layer.rate:g})"
        if self.kind == "Flatten":
            return "Flatten()"
        return self.kind + (f"({act})" if act else "")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def loss_name(loss) -> str:
    """'sparse_categorical_crossentropy' for the string, the Keras class or the Keras function."""
    if isinstance(loss, str):
        return loss.lower()
    if isinstance(loss, dict | list | tuple):
        return "several losses"
    named = getattr(loss, "fn", None) or loss  # a Keras LossFunctionWrapper keeps the function
    name = getattr(named, "__name__", None) or type(named).__name__
    return _snake(name) if name[:1].isupper() else name


def _activation(layer) -> str | None:
    kind = type(layer).__name__
    if kind == "ReLU":
        return "relu"
    if kind == "Softmax":
        return "softmax"
    activation = getattr(layer, "activation", None)
    if activation is None:
        return None
    return getattr(activation, "__name__", str(activation))


def layers_of(model) -> list[Layer]:
    """The model's layers as an exercise states them (see Layer)."""
    found: list[Layer] = []
    for position, layer in enumerate((x for x in model.layers if type(x).__name__ != "InputLayer"), 1):
        kind = type(layer).__name__
        keras_own = type(layer).__module__.split(".")[0] == "keras"
        if keras_own and kind in _PREPROCESSING:
            continue
        if (
            keras_own
            and kind in _ACTIVATION_LAYERS
            and found
            and found[-1].kind in ("Dense", "Conv2D")
            and found[-1].activation in (None, "linear")
        ):
            found[-1] = replace(found[-1], activation=_activation(layer))
            continue
        name = kind if keras_own else f"{kind} (a class of your own)"
        found.append(Layer(name, layer, position, _activation(layer) if keras_own else None))
    return found


def rescales(model) -> bool:
    """Whether the model scales its own inputs (a Rescaling or Normalization layer): it is then given raw pixels."""
    return any(type(x).__name__ in _PREPROCESSING and type(x).__module__.split(".")[0] == "keras" for x in model.layers)


@dataclass(frozen=True)
class Architecture:
    """The layers an exercise asks for: `says` as the learner reads it, `pattern` a regular expression over the
    layers' letters (D Dense, C Conv2D, P MaxPooling2D, F Flatten, O Dropout, X any other), `demand(layer, i,
    layers)` what is wrong with the i-th layer where it stands (None: nothing)."""

    says: str
    pattern: str
    demand: Callable[[Layer, int, list], str | None]


def dense(layer: Layer, units: int | None, activation: str) -> str | None:
    """What differs between a Dense layer and Dense(units, activation) (units None: any number)."""
    if units is not None and layer.layer.units != units:
        return f"it has {layer.layer.units} units; the exercise asks for {units}"
    if layer.activation != activation:
        given = "no activation (linear)" if layer.activation in (None, "linear") else f"activation {layer.activation}"
        return f"it has {given}; the exercise asks for {activation} (activation={activation!r})"
    return None


def _model_kind(model) -> str | None:
    """Why the model's class is not one the check takes (None when it is)."""
    import keras

    if type(model) is keras.Sequential or type(model).__module__ == "keras.src.models.functional":
        return None
    return (
        f"the model is a {type(model).__name__}, a model class of your own: the exercise asks for a keras.Sequential "
        "(or a functional keras.Model), whose training and predictions are Keras's"
    )


def _not_a_model(exercise: str, model) -> Verdict:
    if isinstance(model, type):
        message = f"received the class {model.__name__} itself, not a model: call it, {model.__name__}([...layers])"
    elif type(model).__module__.split(".")[0] == "keras":
        message = (
            f"received a Keras {type(model).__name__} layer, not a model: put the layers in keras.Sequential([...])"
        )
    elif callable(model) and not hasattr(model, "layers"):
        message = f"expected a Keras model, received the function {getattr(model, '__name__', '?')}: build the model"
    else:
        message = f"expected a Keras model, received {describe(model, 60)}"
    return Verdict(exercise, FAILED, message)


def _shapes(model, input_shape: tuple, outputs: int) -> tuple[str, str, str] | None:
    """(what is wrong, expected, received) about the model's input and output shapes, or None."""
    try:
        given_input = tuple(model.input_shape[1:])
        given_output = tuple(model.output_shape[1:])
    except (AttributeError, ValueError, TypeError):
        return "the model has no input shape yet", f"keras.Input(shape={input_shape}) first", "a model not built"
    if given_input != tuple(input_shape):
        return (
            "the input has the wrong shape",
            f"(batch, {', '.join(map(str, input_shape))})",
            f"(batch, {', '.join(map(str, given_input))})",
        )
    if given_output != (outputs,):
        return "the output has the wrong shape", f"(batch, {outputs})", f"(batch, {', '.join(map(str, given_output))})"
    return None


def _architecture(architecture: Architecture, layers: list[Layer]) -> tuple[str, str, str] | None:
    received = ", ".join(layer.says() for layer in layers) or "no layers"
    if not re.fullmatch(architecture.pattern, "".join(layer.letter for layer in layers)):
        return "the layers are not the ones the exercise asks for", architecture.says, received
    for i, layer in enumerate(layers):
        why = architecture.demand(layer, i, layers)
        if why:
            return f"layer {layer.position}, {layer.says()}: {why}", architecture.says, received
    return None


def _loss(model, name: str) -> tuple[str, str, str] | None:
    """(what is wrong, expected, received) about the model's loss against Keras's `name` loss, or None: a string
    Keras reads as that loss ("binary_crossentropy", "bce", "BinaryCrossentropy"), Keras's function or its class,
    from_logits=False (the last layer gives probabilities)."""
    import keras

    want = getattr(keras.losses, name)
    given = model.loss
    try:
        loss = keras.losses.get(given) if isinstance(given, str) else given
    except (ValueError, TypeError):
        return "Keras knows no loss of that name", f"loss={name!r}", repr(given)
    fn = getattr(loss, "fn", loss)
    if fn is not want:
        if callable(fn) and getattr(fn, "__module__", "").split(".")[0] != "keras":
            return (
                f"the loss is a function of your own ({getattr(fn, '__name__', '?')}): the check takes Keras's",
                f"loss={name!r}",
                getattr(fn, "__name__", type(fn).__name__),
            )
        return "the loss is not the one this task needs", name, loss_name(given)
    if getattr(loss, "from_logits", False):
        return (
            (
                "from_logits=True reads the last layer's outputs as scores, but its activation already makes them "
                "probabilities"
            ),
            "from_logits=False (the default)",
            "from_logits=True",
        )
    return None


def _rescaling(model) -> tuple[str, str, str] | None:
    for layer in model.layers:
        if type(layer).__name__ == "Rescaling" and abs(float(np.max(np.abs(layer.scale)))) * 255 > 10:
            return (
                (
                    f"Rescaling({float(np.max(layer.scale)):g}) multiplies the pixels by that: 0-255 then spans far "
                    "more than [0, 1]"
                ),
                "Rescaling(1 / 255)",
                f"Rescaling({float(np.max(layer.scale)):g})",
            )
    return None


def inspect(
    exercise: str,
    model,
    *,
    input_shape: tuple,
    outputs: int,
    architecture: Architecture,
    loss: str,
    hint: str,
    optimizer: str | None = None,
) -> Verdict | None:
    """The first way `model` differs from what was asked (a Verdict), or None when it is as asked."""
    import keras

    if model is None or model is Ellipsis:
        return Verdict(exercise, NOT_ATTEMPTED, "not attempted yet: build and compile the model, then run the cell")
    if not isinstance(model, keras.Model):
        return _not_a_model(exercise, model)

    def wrong(message: str, expected: str, received: str) -> Verdict:
        return Verdict(exercise, FAILED, message, (("expected", expected), ("received", received), ("hint", hint)))

    kind = _model_kind(model)
    if kind:
        return wrong(kind, "keras.Sequential([...]) or keras.Model(inputs, outputs)", type(model).__name__)
    shapes = _shapes(model, input_shape, outputs)
    if shapes:
        return wrong(*shapes)
    layers = _architecture(architecture, layers_of(model)) or _rescaling(model)
    if layers:
        return wrong(*layers)
    if not getattr(model, "compiled", False) or model.optimizer is None:
        return wrong("the model is not compiled", "model.compile(optimizer=..., loss=...)", "no compile")
    if optimizer and type(model.optimizer).__name__ != optimizer:
        return wrong(
            "the optimizer is not the one the exercise asks for",
            f"optimizer={optimizer.lower()!r}",
            type(model.optimizer).__name__,
        )
    wrong_loss = _loss(model, loss)
    if wrong_loss:
        return wrong(*wrong_loss)
    return None


def fresh_copy(model, seed: int):
    """The learner's architecture and compile settings with fresh weights drawn after set_seed(seed): what the
    check trains, so that the learner's own model is left as it was."""
    import keras

    from keraslab.seeding import set_seed

    set_seed(seed)
    copy = keras.models.clone_model(model)
    optimizer = type(model.optimizer).from_config(model.optimizer.get_config())
    copy.compile(optimizer=optimizer, loss=model.loss)
    return copy


def train_and_score(
    exercise: str,
    model,
    data: tuple,
    *,
    epochs: int,
    target: float,
    seed: int,
    batch_size: int = 32,
    score: str = "accuracy",
    what: str,
    hint: str,
) -> Verdict:
    """Train a fresh copy of `model` (fresh_copy) on data = (x_train, y_train, x_test, y_test) for `epochs`
    (seeded) and compare its test score with `target`."""
    from keraslab.seeding import set_seed

    x_train, y_train, x_test, y_test = data
    try:
        copy = fresh_copy(model, seed)
        set_seed(seed)
        copy.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=0, shuffle=True)
        proba = np.asarray(copy.predict(x_test, batch_size=1024, verbose=0))
    except LEARNER_ERRORS as exc:  # the learner's model: its error is the verdict
        return Verdict(
            exercise,
            FAILED,
            f"training raised {type(exc).__name__}",
            (("error", str(exc).splitlines()[0] if str(exc) else ""), ("hint", hint)),
        )
    if not np.all(np.isfinite(proba)):
        return Verdict(
            exercise,
            FAILED,
            f"as asked, but after {epochs} epoch(s) its predictions are not finite (nan or inf): the training diverged",
            (("hint", hint),),
        )
    y_pred = proba.argmax(axis=1) if proba.shape[-1] > 1 else (proba.ravel() >= 0.5).astype(int)
    if score == "accuracy":
        value = float(np.mean(y_pred == y_test))
    else:  # F1 of class 1
        from sklearn.metrics import f1_score

        value = float(f1_score(y_test, y_pred, zero_division=0))
    message = (
        f"a fresh copy (seed {seed}) reached test {score} {value:.3f} after {epochs} epoch(s) on {what} (the target: "
        f"{target:.2f} or more)"
    )
    if value >= target:
        return Verdict(exercise, PASSED, f"passed: as asked, and {message}")
    return Verdict(exercise, FAILED, f"as asked, but {message}", (("hint", hint),))


def epochs_for(epochs: int, planned: int, given: int) -> int:
    """The epochs that see about as many images on `given` training images as `epochs` do on `planned` (the
    stand-in digits are fewer than the sample a check plans)."""
    return max(epochs, round(epochs * planned / max(given, 1)))


def budget(epochs: int, planned: int, given: int) -> str:
    """What a description adds where epochs_for changed the exercise's epochs: why."""
    more = epochs_for(epochs, planned, given)
    if more == epochs:
        return ""
    return f"; {more} epochs instead of {epochs}, so as to see about as many images as {epochs} of {planned:,} would"


def image_data(name: str, *, train: int, test: int, seed: int, data_dir=None, flat: bool = False):
    """A seeded sample of an image data set, pixels in [0, 1], and what it is: ((x_train, y_train, x_test, y_test),
    description). Where `name` is not on this machine, the digits that ship with keraslab (mnist_5k, split 4,000 /
    1,000) stand in, as they do for a quick run of a lesson, and the description says so."""
    from keraslab import datasets
    from keraslab.errors import DataError

    about = {"mnist": "MNIST digits", "fashion_mnist": "Fashion-MNIST images"}.get(name, f"{name} images")
    source = name if datasets.is_available(name, data_dir) else "mnist_5k"
    try:
        if source == name:
            (x_train, y_train), (x_test, y_test) = datasets.load(name, scale=True, data_dir=data_dir, quiet=True)
        else:
            (x_train, y_train), (x_test, y_test) = datasets.load_split(source, seed=0, scale=True, data_dir=data_dir)
    except DataError as exc:
        raise unavailable(f"{exc} (keraslab data fetch {name})") from None
    train, test = min(train, len(y_train)), min(test, len(y_test))
    if source == name:
        what = f"{train:,} {about} for training, scored on {test:,} more"
    else:
        what = (
            f"{train:,} digits of mnist_5k for training, scored on {test:,} more (the digits that ship with keraslab, "
            f"standing in for the {about}, which are not on this machine: keraslab data fetch {name})"
        )
    rng = np.random.default_rng(seed)
    a = rng.permutation(len(y_train))[:train]
    b = rng.permutation(len(y_test))[:test]
    x_train, x_test = x_train[a], x_test[b]
    if flat:
        x_train, x_test = x_train.reshape(len(a), -1), x_test.reshape(len(b), -1)
    return (x_train, y_train[a], x_test, y_test[b]), what
