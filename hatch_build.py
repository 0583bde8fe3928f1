"""Build hook: compile the prompt scorer's hot modules with mypyc in wheels.

``score_prompt`` runs before every agent action, and its six text modules are
plain typed Python; mypyc turns them into C extensions that score the same
text the same way, in about three quarters of the time (``bench/intercept_speed.py``).

- Only a regular wheel is compiled (``pip install .``, ``pip wheel .``). An
  editable install (``pip install -e .``) stays pure Python, so an edited
  ``.py`` is never shadowed by a stale compiled module; the source tree is
  never written to: the package is copied to a temporary directory and
  compiled there.
- No compiler, no Python headers or a failed compile: the wheel is built
  pure Python (the same results, slower), with a warning on stderr.
- ``LOOPCORE_COMPILE=0`` builds pure Python on purpose; ``LOOPCORE_COMPILE=1``
  makes a failed compile an error instead of a warning (CI uses it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

# The modules that read the text: they take nearly all of score_prompt's time.
COMPILED = tuple(
    f"loopcore/intercept/{name}.py"
    for name in ("_text", "_anchors", "_phrases", "_scan", "features", "dimensions", "advice")
)


class MypycHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"
    _tmp: str | None = None

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        setting = os.environ.get("LOOPCORE_COMPILE", "auto").strip().lower()
        if self.target_name != "wheel" or version != "standard" or setting in ("0", "no", "off"):
            return
        try:
            built = self._compile()
        except (OSError, subprocess.CalledProcessError) as exc:
            if setting in ("1", "yes", "on"):
                raise
            detail = getattr(exc, "output", "") or ""
            self.app.display_warning(
                "loopcore: the mypyc compile failed, so this wheel is pure Python (the same "
                f"results, slower; LOOPCORE_COMPILE=0 skips the attempt): {exc}\n{detail[-2000:]}"
            )
            self._cleanup()
            return
        self.app.display_info(f"loopcore: compiled {len(COMPILED)} scorer modules with mypyc")
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        build_data["force_include"].update(built)

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        self._cleanup()

    def _cleanup(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def _compile(self) -> dict[str, str]:
        """Compile a copy of the package; the built extensions, path -> path in the wheel."""
        self._tmp = tempfile.mkdtemp(prefix="loopcore-mypyc-")
        work = Path(self._tmp)
        shutil.copytree(
            Path(self.root) / "loopcore",
            work / "loopcore",
            ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyd"),
        )
        # mypy type-checks what the compiled modules import; third-party packages may be
        # absent from the build environment, and only these modules' types matter here.
        subprocess.run(
            [sys.executable, "-m", "mypyc", "--ignore-missing-imports", *COMPILED],
            cwd=work,
            check=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
        built: dict[str, str] = {}
        for path in COMPILED:
            ext = work / path.replace(".py", suffix)
            if not ext.is_file():
                raise OSError(f"mypyc did not build {ext.name}")
            built[str(ext)] = path.replace(".py", suffix)
        # The shared runtime of the group (one module for all of them, at the top level).
        for shared in work.glob(f"*__mypyc{suffix}"):
            built[str(shared)] = shared.name
        return built
