"""Find and import a deployment: a ``.py`` file, a package directory, or a dotted module name that defines
a module-level ``deployment = Deployment(...)``.

Import failures become ``DeploymentError`` naming the user's own file and line, and a pydantic validation
error names the field, the value given and what was expected.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import cast

from pydantic import ValidationError

from harmony.domain.deployment import Deployment
from harmony.domain.errors import DeploymentError, HarmonyError, InvalidValueError
from harmony.domain.topology import Topology


@dataclass(frozen=True)
class LoadedDeployment:
    name: str
    files: tuple[Path, ...]
    deployment: Deployment[Topology]


def locate(spec: str) -> tuple[str, Path | None, Path]:
    """(module name, directory to put on ``sys.path``, the files to type-check) for a deployment spec."""
    if "\0" in spec:
        raise DeploymentError(f"{spec!r}: a deployment cannot contain a NUL byte; give a file, directory or module")
    path = Path(spec)
    if path.suffix == ".py":
        if not path.is_file():
            raise DeploymentError(f"{spec}: no such deployment file, package directory or module")
        path = path.resolve()
        if (path.parent / "__init__.py").exists():
            return f"{path.parent.name}.{path.stem}", path.parent.parent, path
        return path.stem, path.parent, path
    if path.is_dir():
        path = path.resolve()
        if not (path / "__init__.py").exists():
            raise DeploymentError(f"{spec}: a deployment directory must be a package (have an __init__.py)")
        return path.name, path.parent, path
    # a module name is looked up as `python -m` would: from the current directory first
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        spec_found = importlib.util.find_spec(spec) if _is_module_name(spec) else None
    except (ImportError, ValueError):
        spec_found = None
    if spec_found is None or spec_found.origin is None:
        raise DeploymentError(f"{spec}: no such deployment file, package directory or module")
    origin = Path(spec_found.origin)
    return spec, None, origin.parent if origin.name == "__init__.py" else origin


def _is_module_name(spec: str) -> bool:
    return all(part.isidentifier() for part in spec.split("."))


def load(spec: str) -> LoadedDeployment:
    module_name, sys_path_dir, files = locate(spec)
    if sys_path_dir is not None and str(sys_path_dir) not in sys.path:
        sys.path.insert(0, str(sys_path_dir))
    module = _import(module_name, files)
    deployment: object = getattr(module, "deployment", None)
    if not isinstance(deployment, Deployment):
        raise DeploymentError(
            f"{module.__file__}: defines no `deployment = Deployment(topology=..., scores=[...])` at module level"
        )
    # The topology was checked against the Scores statically, in the user's own file (``harmony check``);
    # from here on the CLI handles the deployment generically.
    checked = cast(Deployment[Topology], deployment)
    if not isinstance(checked.topology, Topology):  # pyright: ignore[reportUnnecessaryIsInstance]  # see cast
        raise DeploymentError(
            f"{module.__file__}: deployment.topology is a {type(checked.topology).__name__}, "
            "which is not a Topology (it needs name, ensure_ready and close)"
        )
    checked.validate()
    return LoadedDeployment(name=module_name, files=(files,), deployment=checked)


def _import(module_name: str, files: Path) -> ModuleType:
    try:
        if module_name in sys.modules:
            return importlib.reload(sys.modules[module_name])
        return importlib.import_module(module_name)
    except HarmonyError as e:
        raise DeploymentError(f"{_user_frame(e, files)}{e}") from e
    except ValidationError as e:
        raise DeploymentError(f"{_user_frame(e, files)}{describe_validation_error(e)}") from e
    except SyntaxError as e:
        raise DeploymentError(f"{e.filename}:{e.lineno}: syntax error: {e.msg}") from e
    except Exception as e:
        raise DeploymentError(f"{_user_frame(e, files)}cannot import {module_name}: {type(e).__name__}: {e}") from e


def _user_frame(e: BaseException, files: Path) -> str:
    """``file:line: `` of the innermost frame inside the deployment's own files, if any."""
    root = files if files.is_dir() else files.parent
    for frame in reversed(traceback.extract_tb(e.__traceback__)):
        if frame.filename and Path(frame.filename).resolve().is_relative_to(root):
            return f"{frame.filename}:{frame.lineno}: "
    return ""


def describe_validation_error(e: ValidationError) -> str:
    parts: list[str] = []
    for err in e.errors():
        field = ".".join(str(x) for x in err["loc"]) or e.title
        cause: object = err.get("ctx", {}).get("error")
        if isinstance(cause, InvalidValueError):  # our own words: the field, the value and what was expected
            parts.append(f"{e.title}.{field}: {cause}")
        else:
            wanted = err["msg"].removeprefix("Input should be ").removeprefix("Value error, ")
            parts.append(f"{e.title}.{field}: {err['input']!r} is not valid; expected {wanted}")
    return "; ".join(parts)
