"""What a function's container image sets, read from its staged Dockerfile without building it.

Only the two instructions that change how the code runs are read: ``ENV`` (with ``${ARG}``
references filled from the asset's build arguments, as ``docker build --build-arg`` would) and
the last ``CMD`` (the handler). Everything else the Dockerfile does (installing packages, copying
the project) is what :mod:`~lambda_jobs_tools.emulator.environments` reproduces with ``PYTHONPATH``.
"""

from __future__ import annotations

import json
import re
import shlex

from lambda_jobs_tools.emulator.assembly import ImageAsset

DEFAULT_HANDLER = "lambda_jobs.handler.handle"
_INSTRUCTION = re.compile(r"^\s*(ENV|CMD|ARG)\s+(.+)$", re.IGNORECASE)
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        if raw.lstrip().startswith("#"):
            continue
        if raw.rstrip().endswith("\\"):
            current += raw.rstrip()[:-1] + " "
            continue
        lines.append(current + raw)
        current = ""
    if current:
        lines.append(current)
    return lines


def read_image(asset: ImageAsset) -> tuple[list[str], dict[str, str]]:
    """The image's CMD and ``ENV`` variables (defaults: lambda-jobs' handler, no variables)."""
    dockerfile = asset.directory / "Dockerfile"
    command = [DEFAULT_HANDLER]
    environment: dict[str, str] = {}
    if not dockerfile.is_file():
        return command, environment
    args: dict[str, str] = {}

    def expand(value: str) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(2)
            return environment.get(name, args.get(name, ""))

        return _VARIABLE.sub(one, value)

    for line in _logical_lines(dockerfile.read_text(encoding="utf-8")):
        match = _INSTRUCTION.match(line)
        if match is None:
            continue
        instruction, rest = match.group(1).upper(), match.group(2).strip()
        if instruction == "ARG":
            name, _, default = rest.partition("=")
            args[name] = asset.build_args.get(name, default)
        elif instruction == "ENV":
            if "=" not in rest.split()[0]:  # legacy form: ENV NAME value
                name, _, value = rest.partition(" ")
                environment[name] = expand(value.strip())
            else:
                for pair in shlex.split(rest):
                    name, _, value = pair.partition("=")
                    environment[name] = expand(value)
        elif rest.startswith("["):
            command = [str(part) for part in json.loads(rest)]
        else:
            command = shlex.split(rest)
    return command, environment
