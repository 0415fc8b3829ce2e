"""The type name every emulator module uses for a JSON object.

A stored document (an app, a payable...), a request body and most answers are
JSON objects: string keys, values of any JSON type.
"""

from typing import Any, TypeAlias

Doc: TypeAlias = dict[str, Any]
# Dots' `metadata`: a string or an object, or absent.
Metadata: TypeAlias = str | Doc | None
