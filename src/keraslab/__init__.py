"""keraslab: the classic Keras deep-learning course as reproducible, tested software.

Importing keraslab does not import Keras: the backend is chosen first (see `keraslab.backend`).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
