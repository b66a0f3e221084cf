"""``layers=``: one encoder read out at several depths from one forward pass.

``layers=all`` is every block's output, 1..L; ``layers=4,8,12`` (the commas continue the option:
see :func:`evaluate.encoders.base.parse_spec`) the blocks named. Each layer is cached under the
identity a single-layer spec ``layer=N`` has (:meth:`evaluate.encoders.base.Encoder.layer_identity`),
so a sweep and a single-layer run share their embeddings.
"""

from __future__ import annotations

from evaluate.errors import EncoderError

LAYERS_HELP = ("all, or block numbers a,b,c (1..L): every one read out from ONE forward pass, each probed and "
               "cached like layer=N; the run picks the layer that stands for the encoder on validation data")


def check_layer_options(name: str, options: dict[str, str]) -> None:
    """``layer=`` and ``layers=`` together: one line naming both (before any model is loaded)."""
    if "layer" in options and "layers" in options:
        raise EncoderError(f"encoder {name!r}: layer= and layers= together; use layer=N for one layer or layers= "
                           f"for a sweep")


def parse_layers(name: str, value: str | None, n_layers: int) -> list[int] | None:
    """The block numbers of ``layers=value`` (sorted, distinct), or None without the option.
    ``n_layers`` is the model's L; anything outside 1..L is refused in one line."""
    if value is None:
        return None
    if value.strip() == "all":
        return list(range(1, n_layers + 1))
    layers = set()
    for part in value.split(","):
        try:
            layer = int(part)
        except ValueError:
            raise EncoderError(f"encoder {name!r}: layers={value!r}: {part!r} is not a block number; use layers=all "
                               f"or numbers in 1..{n_layers}") from None
        if not 1 <= layer <= n_layers:
            raise EncoderError(f"encoder {name!r}: layers={value!r}: {layer} is out of range; this model's blocks "
                               f"are 1..{n_layers}")
        layers.add(layer)
    return sorted(layers)
