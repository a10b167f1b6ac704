"""keraslab.scratch: the course's first half built by hand, in NumPy alone.

Nothing here imports the rest of keraslab, Keras or scikit-learn; the tests hold it against both.

- activations: sigmoid, tanh, relu, leaky_relu, softmax and their derivatives
- losses: mae, mse, binary / categorical / sparse categorical cross-entropy and focal losses, with gradients
- gradient_descent: one sigmoid neuron; linear regression by batch, stochastic and mini-batch descent
- layers, optimizers, mlp: a small neural network classifier (Dense, dropout, SGD, Adam), safetensors weights
- gradcheck: numerical gradient checks
"""

from keraslab.scratch import activations, gradcheck, gradient_descent, layers, losses, mlp, optimizers
from keraslab.scratch.activations import get_activation
from keraslab.scratch.losses import get_loss
from keraslab.scratch.mlp import MLPClassifier

__all__ = [
    "MLPClassifier",
    "activations",
    "get_activation",
    "get_loss",
    "gradcheck",
    "gradient_descent",
    "layers",
    "losses",
    "mlp",
    "optimizers",
]
