"""keraslab.exercises: the exercises at the end of every lesson, checked on the spot.

In a lesson's notebook an exercise cell ends with one call:

    check("losses.mse_plain", mse_plain)

which prints a verdict a learner can act on: passed; or the first input where the answer differs, what was expected
(and from which library: Keras, scikit-learn, NumPy), what was received, and a hint; "not attempted yet" for an
untouched stub. It never raises for what the learner wrote. `evaluate` gives the same verdict without printing it.

- checking: the verdict, the registry, and the *write it* and *predict, then run* checks
- differences: how an answer differs from the expected value (the first differing element, its index) and how both
  are shown
- derived: whether a *predict, then run* answer was read off what its cell measures
- model_checks: the *build it* checks (a Keras model as asked, trained briefly to a stated score)
- checks_mnist, checks_losses, ... checks_cnn: each lesson's checkers

`keraslab exercises [LESSON]` lists them (keraslab.lessons.practice reads them from the lesson scripts).
"""

from __future__ import annotations

from keraslab.exercises.checking import Verdict, check, checkers, evaluate

__all__ = ["Verdict", "check", "checkers", "evaluate"]
