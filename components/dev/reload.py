"""Reloading `anycloud dev` when a file changes, without a restart and without losing data.

Files are watched with watchfiles (https://watchfiles.helpmanual.io: the OS's notifications
through the Rust notify crate, changes grouped until 50 ms pass without one), not a polling
loop of ours:

- the functions folder, recursively (Python files; the runtime under it is the framework's and
  is not re-imported): the handlers are imported again;
- the declaration's module (its package folder when it is a package) and the stack files
  (Pulumi.yaml, Pulumi.<stack>.yaml): the declaration and the config are read again as well.

The service swaps in what was reloaded only when all of it loaded (components/dev/service.py):
tables stay in the store, queued messages and workflow executions stay in the process, and a
change that does not load prints one line and leaves the previous version running.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import watchfiles

from components.dev.project import BAD_INPUT, module_path
from components.dev.service import DevService
from components.dev.store import StoreError


class Reloader:
    """Watches the service's files on two threads and reloads it on a change."""

    def __init__(self, service: DevService, echo: Callable[[str], None] | None = None):
        self.service = service
        self.echo = echo or service.echo
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one reload at a time
        self._threads: list[threading.Thread] = []
        project = service.project
        self.functions = project.functions_dir
        declaration = _declaration_file(project.module)
        self.flat = {p.resolve() for p in project.stack_files()}  # watched in their folder, not below it
        self.trees = [self.functions]  # watched with everything below
        if declaration is not None and declaration.name == "__init__.py":
            self.trees.append(declaration.parent)
        elif declaration is not None:
            self.flat.add(declaration)
        self.declaration_tree = declaration.parent if declaration is not None and declaration.name == "__init__.py" else None

    def start(self) -> None:
        folders = sorted({p.parent for p in self.flat})
        watches = [(self.trees, True, self._in_tree), (folders, False, lambda _, path: Path(path).resolve() in self.flat)]
        for paths, recursive, accept in watches:
            thread = threading.Thread(target=self._watch, args=(paths, recursive, accept), name="anycloud dev reload",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(2)

    def _in_tree(self, _change: watchfiles.Change, path: str) -> bool:
        file = Path(path)
        if file.suffix != ".py" or "__pycache__" in file.parts:
            return False
        resolved = file.resolve()
        return not (resolved.is_relative_to(self.functions) and resolved.relative_to(self.functions).parts[0] == "runtime")

    def _watch(self, paths: Iterable[Path], recursive: bool, accept: Callable[[watchfiles.Change, str], bool]) -> None:
        for changes in watchfiles.watch(*paths, watch_filter=accept, recursive=recursive, stop_event=self._stop,
                                        raise_interrupt=False):
            self.changed({Path(path).resolve() for _, path in changes})

    def changed(self, paths: set[Path]) -> bool:
        """Reload for a change of `paths`; False (and one line) when the change did not load."""
        declaration = any(p in self.flat or (self.declaration_tree and p.is_relative_to(self.declaration_tree))
                          for p in paths)
        names = ", ".join(sorted(_shown(p) for p in paths))
        with self._lock:
            try:
                self.service.reload(declaration=declaration)
            except (*BAD_INPUT, StoreError) as err:
                failure = str(err)
            except Exception as err:  # a defect of ours must not end the watch
                failure = f"the reload failed: {type(err).__name__}: {err}"
            else:
                failure = None
        if failure is not None:
            self.echo(f"error: {failure}")
            self.echo(f"reload: {names} did not load; still running the previous version")
            return False
        self.echo(f"reloaded: {names}")
        return True


def _declaration_file(module: str) -> Path | None:
    loaded = sys.modules.get(module)
    return module_path(loaded) if loaded is not None else None


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
