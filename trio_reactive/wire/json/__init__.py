"""The JSON serde family: one tagged JSON object per message, via cattrs and orjson."""
