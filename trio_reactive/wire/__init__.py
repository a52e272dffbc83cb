"""The sans-IO wire layer: framers, serdes and codecs, with no trio import.

Everything here turns bytes into message objects and back and can be tested with plain bytes.
"""

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
]
