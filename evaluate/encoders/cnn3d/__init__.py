"""3D convolutional networks (the "3D kernel" contenders): plain-torch architectures whose parameter names
match the published torchvision and PyTorchVideo checkpoints, and their encoders ``cnn3d:`` and
``random-cnn3d`` (encoder.py). Importing this package registers the encoders; torch is imported only when
one is built."""

from evaluate.encoders.cnn3d import encoder  # noqa: F401  (registration)
