"""``python -m enclave.guard.worker``: a process that scans texts for the server (see ``enclave.guard.pool``).

It reads frames from its standard input and answers each on its standard output, one at a time. A frame is a
4-byte big-endian length and that many bytes of JSON: first the guard's configuration, then, for each scan,
``{"texts": [...]}``, answered by ``{"findings": [[type, start, end, text index], ...]}`` or ``{"error": ...}``.
Findings carry positions and types only, as everywhere: no value crosses the pipe back.
"""

from __future__ import annotations

import json
import struct
import sys
from typing import IO, Any

_LENGTH = struct.Struct(">I")


def read_frame(stream: IO[bytes]) -> Any:
    """The next frame's JSON, or None at the end of the stream."""
    header = stream.read(_LENGTH.size)
    if len(header) < _LENGTH.size:
        return None
    return json.loads(stream.read(_LENGTH.unpack(header)[0]))


def frame(value: Any) -> bytes:
    payload = json.dumps(value, ensure_ascii=False).encode()
    return _LENGTH.pack(len(payload)) + payload


def main() -> None:
    from enclave.config import GuardConfig
    from enclave.guard.scanner import Guard

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    config = read_frame(stdin)
    if config is None:
        return
    guard = Guard(GuardConfig.model_validate(config))
    while (request := read_frame(stdin)) is not None:
        try:
            report = guard.scan(request["texts"])
        except Exception as exc:  # reported to the server, which fails closed; the worker serves on
            # The error's type only: its message might quote the text.
            answer: dict[str, Any] = {"error": type(exc).__name__}
        else:
            answer = {"findings": [[f.entity_type, f.start, f.end, f.message] for f in report.findings]}
        stdout.write(frame(answer))
        stdout.flush()


if __name__ == "__main__":
    main()
