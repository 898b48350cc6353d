"""Apache Kafka's jars from Maven Central, cached outside the source tree.

`ensure_kafka()` runs Maven once into `~/.cache/mm2plan/kafka-<version>/libs` (or
`$MM2PLAN_KAFKA_HOME`) and leaves a marker; later calls do no network work.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path

KAFKA_VERSION = "4.3.1"
_MARKER = ".complete"


class LabError(Exception):
    """The lab cannot do what was asked; the message says what is missing and what to do."""


def java_version() -> int | None:
    java = shutil.which("java")
    if java is None:
        return None
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major


def require_java() -> str:
    java = shutil.which("java")
    version = java_version()
    if java is None or version is None:
        raise LabError(
            "Java is not on PATH: the Kafka lab runs Apache Kafka from its jars and "
            "needs Java 17 or newer (apt-get install openjdk-17-jre-headless)"
        )
    if version < 17:
        raise LabError(
            f"Java {version} found; Kafka 4 needs Java 17 or newer "
            "(apt-get install openjdk-17-jre-headless)"
        )
    return java


def kafka_home(version: str = KAFKA_VERSION) -> Path:
    env = os.environ.get("MM2PLAN_KAFKA_HOME")
    if env:
        return Path(env)
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "mm2plan" / f"kafka-{version}"


def ensure_kafka(version: str = KAFKA_VERSION, home: Path | None = None) -> Path:
    """The directory holding Kafka's jars (`<home>/libs`), fetching them the first time."""
    home = home or kafka_home(version)
    libs = home / "libs"
    if (home / _MARKER).exists() and libs.is_dir():
        return libs
    require_java()
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LabError(
            "Maven is not on PATH: it fetches Kafka's jars from Maven Central the "
            "first time (apt-get install maven)"
        )
    home.mkdir(parents=True, exist_ok=True)
    pom = home / "pom.xml"
    pom.write_text(resources.files("mm2plan.lab").joinpath("pom.xml").read_text())
    cmd = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(pom),
        f"-Dkafka.version={version}",
        "dependency:copy-dependencies",
        f"-DoutputDirectory={libs}",
        "-DincludeScope=runtime",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        raise LabError(f"Maven could not fetch Kafka {version}:\n{tail}")
    (home / _MARKER).write_text(version + "\n")
    return libs
