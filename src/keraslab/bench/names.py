"""What `keraslab bench` can time: the course's models and the implementations each is timed through."""

MODELS = ("mlp", "churn", "ann", "cnn")
IMPLS = ("keraslab", "keras-fit", "torch-eager")
