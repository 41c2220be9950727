"""Every command that writes where the user says (issue 13, part B5): `export --out`, `predict
--out`, `plot --out` and a sweep's `--out` folder, against each way a write fails: a full disk
(ENOSPC), a read-only file system (EROFS), no permission (EACCES), a name too long
(ENAMETOOLONG), a file where a folder should be (ENOTDIR) and a folder where the file should be
(EISDIR). Every time: exit 2, one `error:` line naming the path and the cause, no traceback,
nothing left beside the target, and a file that was there before still whole.

Tests run as root, where permissions never refuse, so ENOSPC, EROFS and EACCES are injected: the
write-side calls on the test's own folder fail as the kernel would fail them. The other three are
real file system situations.
"""
from __future__ import annotations

import builtins
import errno
import io
import os

import numpy as np
import pytest

from sample_configs import SPIRALS

INJECTED = (errno.ENOSPC, errno.EROFS, errno.EACCES)
REAL = (errno.ENAMETOOLONG, errno.ENOTDIR, errno.EISDIR)
COMMANDS = ("export", "predict", "plot", "sweep")
TARGET = {"export": "model.onnx", "predict": "predictions.csv", "plot": "curves.png", "sweep": "sweep"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One small run, its config, and inputs to predict: shared by every case of the module."""
    from nntrain import api
    from nntrain.config import load_config

    root = tmp_path_factory.mktemp("trained")
    (root / "s.yaml").write_text(SPIRALS)
    api.fit(load_config(root / "s.yaml"), run_dir=root / "run")
    np.savez(root / "x.npz", x=np.random.default_rng(0).standard_normal((5, 2)).astype(np.float32))
    return root


def argv(command: str, trained, out) -> list:
    return {"export": ["export", trained / "run", "--out", out],
            "predict": ["predict", trained / "run", trained / "x.npz", "--out", out],
            "plot": ["plot", trained / "run", "--out", out],
            "sweep": ["sweep", trained / "s.yaml", "--grid", "optimizer.lr=0.1,0.01", "--out", out, "-q"]}[command]


class Refused:
    """Write-side calls on paths under `area` fail with `code`, as the kernel fails them: an open
    for writing, a mkdir or a rename is refused on a read-only file system (EROFS) or without
    permission (EACCES); on a full disk (ENOSPC) the file opens and the write fails halfway."""

    def __init__(self, monkeypatch, area, code: int):
        self.area, self.code, self.calls = str(area), code, 0
        real_open, real_mkdir, real_replace, real_rename = builtins.open, os.mkdir, os.replace, os.rename
        refused = self

        class HalfWritten:
            def __init__(self, f):
                self.f = f

            def write(self, data):
                self.f.write(data[: len(data) // 2])
                refused.fail(self.f.name)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return self.f.__exit__(*exc)

            def __getattr__(self, name):
                return getattr(self.f, name)

        def opener(path, mode="r", *args, **kwargs):
            if not any(c in mode for c in "wax+") or not refused.mine(path):
                return real_open(path, mode, *args, **kwargs)
            if code != errno.ENOSPC:
                refused.fail(path)
            refused.calls += 1
            return HalfWritten(real_open(path, mode, *args, **kwargs))

        def mkdir(path, *args, **kwargs):
            if refused.mine(path) and code != errno.ENOSPC and not os.path.exists(path):  # EEXIST comes first
                refused.fail(path)
            return real_mkdir(path, *args, **kwargs)

        def renamer(real):
            def rename(src, dst, *args, **kwargs):
                if refused.mine(dst) and code != errno.ENOSPC:
                    refused.fail(dst)
                return real(src, dst, *args, **kwargs)
            return rename

        for module in (builtins, io):  # io.open: what pathlib's write_text and open() call
            monkeypatch.setattr(module, "open", opener)
        monkeypatch.setattr(os, "mkdir", mkdir)
        monkeypatch.setattr(os, "replace", renamer(real_replace))
        monkeypatch.setattr(os, "rename", renamer(real_rename))

    def mine(self, path) -> bool:
        return isinstance(path, (str, os.PathLike)) and os.path.abspath(os.fspath(path)).startswith(self.area)

    def fail(self, path):
        self.calls += 1
        raise OSError(self.code, os.strerror(self.code), os.fspath(path))


def tree(folder) -> dict[str, bytes | None]:
    """Every file (its bytes) and folder (None) under `folder`, by relative path."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


def existing_target(cli, trained, command: str, target) -> None:
    """What a user may have at the target already: a file of theirs, or an earlier sweep."""
    if command == "sweep":  # an earlier sweep of the same trials, planned, not run
        r = cli(*argv(command, trained, target), "--print-commands")
        assert r.exit_code == 0 and (target / "sweep.json").is_file(), r.output
    else:
        target.write_bytes(b"the user's own file, not to be clobbered\n")


def assert_one_error_line(r, path, code: int) -> None:
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr
    assert str(path) in r.stderr, f"the message does not name {path}: {r.stderr}"
    assert os.strerror(code) in r.stderr, f"the message does not name the cause: {r.stderr}"
    assert "Traceback" not in r.output


@pytest.mark.parametrize("code", INJECTED, ids=[errno.errorcode[c] for c in INJECTED])
@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing"])
@pytest.mark.parametrize("command", COMMANDS)
def test_a_refused_write_is_one_error_line_and_leaves_the_target_as_it_was(trained, cli, tmp_path, monkeypatch,
                                                                         command, existing, code):
    area = tmp_path / "area"
    area.mkdir()
    target = area / TARGET[command]
    if existing:
        existing_target(cli, trained, command, target)
    before = tree(area)
    with monkeypatch.context() as m:
        refused = Refused(m, area, code)
        r = cli(*argv(command, trained, target))
    assert refused.calls, "the injection never reached the command's writes"
    assert_one_error_line(r, target, code)
    assert tree(area) == before  # no temporary or half-written file, the old one whole


@pytest.mark.parametrize("code", REAL, ids=[errno.errorcode[c] for c in REAL])
@pytest.mark.parametrize("command", COMMANDS)
def test_a_path_the_file_system_refuses_is_one_error_line(trained, cli, tmp_path, command, code):
    area = tmp_path / "area"
    area.mkdir()
    name = TARGET[command]
    if code == errno.ENAMETOOLONG:
        target = area / ("n" * 300 + os.path.splitext(name)[1])
    elif code == errno.ENOTDIR:  # a parent path component is a file
        (area / "a-file").write_text("not a folder\n")
        target = area / "a-file" / name
    elif command == "sweep":  # its --out is a folder: sweep.json is the file, and a folder is in the way
        target = area / name / "sweep.json"
        (target / "notes").mkdir(parents=True)
    else:  # --out names a folder
        target = area / name
        (target / "notes").mkdir(parents=True)
    before = tree(area)
    r = cli(*argv(command, trained, target.parent if command == "sweep" and code == errno.EISDIR else target))
    assert_one_error_line(r, target, code)
    assert tree(area) == before


@pytest.mark.parametrize("command", ["export", "plot", "predict"])
def test_out_naming_a_folder_without_an_extension_says_it_is_a_folder(trained, cli, tmp_path, command):
    """`--out exports/`: the cause is the folder, not a missing format."""
    (tmp_path / "exports").mkdir()
    r = cli(*argv(command, trained, tmp_path / "exports"))
    assert_one_error_line(r, tmp_path / "exports", errno.EISDIR)
    assert list((tmp_path / "exports").iterdir()) == []
