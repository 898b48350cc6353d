"""Apache Kafka's jars from Maven Central, cached outside the source tree.

`ensure_kafka()` runs Maven once into `~/.cache/mm2plan/kafka-<version>/libs` (or
`$MM2PLAN_KAFKA_HOME`) and leaves a marker naming the pom it used; later calls do no network
work, and a changed pom (a new Kafka or log4j) fetches afresh instead of mixing jar versions.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

KAFKA_VERSION = "4.3.1"
JAVA_INSTALL = "apt-get install openjdk-17-jre-headless"
MAVEN_INSTALL = "apt-get install maven"
_MARKER = ".complete"


class LabError(Exception):
    """The lab cannot do what was asked; the message says what is missing and what to do."""


def java_version(java: str | None = None) -> int | None:
    """The major version of `java` (or the one on PATH); None when there is none to ask."""
    java = java or shutil.which("java")
    if java is None:
        return None
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, check=False, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major


_checked_java: dict[str, str] = {}
"""PATH -> java checked under it: asking `java -version` costs a JVM start (~0.1 s)."""


def require_java() -> str:
    """The path of a Java 17+ runtime, or a LabError saying how to install one."""
    path_env = os.environ.get("PATH", "")
    cached = _checked_java.get(path_env)
    if cached is not None and os.access(cached, os.X_OK):
        return cached
    java = shutil.which("java")
    if java is None:
        raise LabError(
            "Java is not on PATH: the Kafka lab runs Apache Kafka from its jars and "
            f"needs Java 17 or newer ({JAVA_INSTALL})"
        )
    version = java_version(java)
    if version is None:
        raise LabError(f"{java} did not tell its version; the Kafka lab needs Java 17 or newer")
    if version < 17:
        raise LabError(
            f"Java {version} found ({java}); Kafka 4 needs Java 17 or newer ({JAVA_INSTALL})"
        )
    _checked_java[path_env] = java
    return java


def require_maven() -> str:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LabError(
            "Maven is not on PATH: it fetches Kafka's jars from Maven Central the "
            f"first time ({MAVEN_INSTALL})"
        )
    return mvn


def kafka_home(version: str | None = None) -> Path:
    """Where one Kafka version's jars are cached: `$MM2PLAN_KAFKA_HOME`, else the user cache."""
    env = os.environ.get("MM2PLAN_KAFKA_HOME")
    if env:
        return Path(env)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "mm2plan" / f"kafka-{version or KAFKA_VERSION}"


def _pom() -> str:
    return resources.files("mm2plan.lab").joinpath("pom.xml").read_text()


def _fingerprint(version: str, pom: str) -> str:
    return f"{version} {hashlib.sha256(pom.encode()).hexdigest()[:16]}"


@contextmanager
def _locked(home: Path) -> Iterator[None]:
    """One fetch at a time per cache dir (parallel test workers, two shells)."""
    home.mkdir(parents=True, exist_ok=True)
    with (home / ".lock").open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def ensure_kafka(version: str | None = None, cache_dir: Path | None = None) -> Path:
    """The directory holding Kafka's jars (`<cache>/libs`), fetching them the first time.

    Raises LabError when Java 17+ or Maven is missing or Maven cannot resolve the jars.
    """
    version = version or KAFKA_VERSION
    home = cache_dir or kafka_home(version)
    libs = home / "libs"
    pom = _pom()
    want = _fingerprint(version, pom)

    def fetched() -> bool:
        marker = home / _MARKER
        return libs.is_dir() and marker.exists() and marker.read_text().strip() == want

    if fetched():
        return libs
    require_java()
    mvn = require_maven()
    with _locked(home):
        if fetched():  # another process fetched while we waited
            return libs
        pom_path = home / "pom.xml"
        pom_path.write_text(pom)
        staging = home / "libs.partial"
        shutil.rmtree(staging, ignore_errors=True)
        cmd = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(pom_path),
            f"-Dkafka.version={version}",
            "dependency:copy-dependencies",
            f"-DoutputDirectory={staging}",
            "-DincludeScope=runtime",
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
            raise LabError(
                f"Maven could not fetch Kafka {version} (it needs Maven Central, or the jars "
                f"already in ~/.m2):\n{tail}"
            )
        # Swap whole directories: stale jars of another version must never share a classpath.
        shutil.rmtree(libs, ignore_errors=True)
        staging.rename(libs)
        (home / _MARKER).write_text(want + "\n")
    return libs
