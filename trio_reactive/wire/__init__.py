"""The sans-IO wire layer: framers, serdes and codecs, with no trio import.

Everything here turns bytes into message objects and back and can be tested with plain bytes.
The public names are listed below; the modules under ``binary/`` and ``json/`` are the serdes'
own machinery, used through the codecs.
"""

from . import layout
from .codec import (
    Codec,
    CompiledCodec,
    Decoded,
    Decoder,
    Encoder,
    FixedBinary,
    Raw,
    Textual,
    VariableBinary,
)
from .framing import FixedFramer, Framer, LengthPrefixedFramer, LineFramer
from .json.serde import make_json_converter
from .serde import BatchSerde, Serde, as_batch_serde

__all__ = [
    "BatchSerde",
    "Codec",
    "CompiledCodec",
    "Decoded",
    "Decoder",
    "Encoder",
    "FixedBinary",
    "FixedFramer",
    "Framer",
    "LengthPrefixedFramer",
    "LineFramer",
    "Raw",
    "Serde",
    "Textual",
    "VariableBinary",
    "as_batch_serde",
    "layout",
    "make_json_converter",
]
