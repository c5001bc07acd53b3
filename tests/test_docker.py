"""The Dockerfile's steps, run here without a Docker engine: its build stage's ``pip wheel`` on exactly the
files it copies, the wheel it makes (every module, the data files, the C accelerator, which imports), the
files its final stage copies, and its entrypoint script (starter rules copied into an empty volume)."""

from __future__ import annotations

import fnmatch
import json
import os
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    joined = DOCKERFILE.replace("\\\n", " ")
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def stages() -> list[list[tuple[str, str]]]:
    out: list[list[tuple[str, str]]] = []
    for word, rest in instructions():
        if word == "FROM":
            out.append([])
        out[-1].append((word, rest))
    return out


def copies(stage: list[tuple[str, str]]) -> list[tuple[list[str], str]]:
    """The stage's COPY instructions from the build context: (sources, destination)."""
    out = []
    for word, rest in stage:
        if word == "COPY" and not rest.startswith("--from"):
            *sources, dest = shlex.split(rest)
            out.append((sources, dest))
    return out


def dockerignored(path: str) -> bool:
    patterns = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    parts = Path(path).parts
    return any(fnmatch.fnmatch(p, pat) for pat in patterns for p in (path, *parts))


def test_the_build_stage_builds_a_complete_wheel_from_the_files_it_copies(tmp_path: Path) -> None:
    build, final = stages()
    src = tmp_path / "src"
    for sources, dest in copies(build):
        assert dest.startswith("./"), dest  # into WORKDIR /src
        for source in sources:
            assert (ROOT / source).exists(), f"the Dockerfile copies {source}, which is not in the repository"
            assert not dockerignored(source), f"{source} is in .dockerignore: the build would not see it"
            target = src / dest / Path(source).name if dest.endswith("/") else src / dest
            if (ROOT / source).is_dir():  # as the build context has it: no build products
                shutil.copytree(
                    ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyc")
                )
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(ROOT / source, target)
    wheel_cmd = next(rest for word, rest in build if word == "RUN" and "pip wheel" in rest)
    assert "--no-deps" in wheel_cmd and "--wheel-dir /wheels" in wheel_cmd, wheel_cmd
    wheels = tmp_path / "wheels"
    # The same command, offline: this environment's setuptools (the build requirement) builds it.
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "--quiet", "--wheel-dir", str(wheels), str(src)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (wheel,) = wheels.glob("newshound-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "bot").rglob("*.py")}
    assert modules <= names, sorted(modules - names)
    assert {"bot/py.typed", "bot/rules/keywords.schema.json"} <= names
    (accelerator,) = [n for n in names if n.startswith("bot/parse/_speedups.") and n.endswith(".so")]

    # The final stage's check, against the wheel's own files (not this checkout's).
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = subprocess.run(
        [sys.executable, "-c", "import bot.parse._speedups as s; print(s.__file__)"],
        capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(site)},
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr
    assert Path(probe.stdout.strip()) == site / accelerator
    assert any(w == "RUN" and "import bot.parse._speedups" in r for w, r in final)


def test_the_entrypoint_copies_the_starter_rules_into_an_empty_volume(tmp_path: Path) -> None:
    _, final = stages()
    for sources, _dest in copies(final):
        for source in sources:
            assert (ROOT / source).exists() and not dockerignored(source), source
    assert (["keywords.yaml"], "/defaults/keywords.yaml") in copies(final)
    entry = next(rest for word, rest in final if word == "ENTRYPOINT")
    argv = json.loads(entry)
    assert argv[:2] == ["/bin/sh", "-c"]
    script = argv[2].replace("/defaults/", f"{tmp_path}/defaults/")
    (tmp_path / "defaults").mkdir()
    shutil.copy(ROOT / "keywords.yaml", tmp_path / "defaults" / "keywords.yaml")
    data = tmp_path / "data"
    data.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("NEWSHOUND_", "DISCORD_"))},
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "NEWSHOUND_KEYWORDS": str(data / "keywords.yaml"),
        "NEWSHOUND_DATABASE": str(data / "newshound.db"),
    }
    # `docker run … newshound check`: the starter rules land in the volume, and the command gets its args
    done = subprocess.run(
        ["/bin/sh", "-c", script, *argv[3:], "check"], capture_output=True, text=True, env=env, cwd=data
    )
    assert done.returncode == 0, done.stderr
    assert (data / "keywords.yaml").read_bytes() == (ROOT / "keywords.yaml").read_bytes()
    assert "OK" in done.stdout
    # rules already in the volume are kept
    (data / "keywords.yaml").write_text("version: 1\nfeeds: []\nrules: []\n", encoding="utf-8")
    subprocess.run(["/bin/sh", "-c", script, *argv[3:], "check"], capture_output=True, env=env, cwd=data)
    assert (data / "keywords.yaml").read_text(encoding="utf-8").startswith("version: 1\nfeeds: []")
    default_cmd = next(rest for word, rest in final if word == "CMD")
    assert json.loads(default_cmd) == ["run"]
