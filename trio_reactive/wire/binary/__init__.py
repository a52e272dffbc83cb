"""The binary serde family: layouts derived from attrs classes, compiled to ``struct`` paths.

:mod:`.schema` maps type hints to a layout (and its construct schema, the reference);
:mod:`.fixed` and :mod:`.variable` compile it into the fixed-record and the length-prefixed
serdes.
"""
