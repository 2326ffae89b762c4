"""A Spark standalone cluster and a Spark Connect server on loopback, for the test session.

Everything is started from PySpark's own distribution (``SPARK_HOME`` is the ``pyspark``
package): ``bin/spark-class`` runs the Master and two Workers, ``bin/spark-submit`` runs the
Spark Connect server (the class ``sbin/start-connect-server.sh`` submits, in the foreground).
Every process binds to 127.0.0.1 on free ports (``SPARK_LOCAL_IP``; web UIs on port 0), gets a
parent-death signal through ``setpriv`` (if pytest is killed, the JVMs go too), and keeps its
logs, work and warehouse directories in one temporary directory (``assay-spark-cluster-*``)
that :meth:`SparkCluster.stop` removes after stopping the processes, newest first.

Sizes are small on purpose: each Worker offers ``--cores 2 --memory 1g``, so that the two
applications of a session (the test process's cluster-mode driver and the Connect server) each
get one one-core executor of 512 MB on *each* Worker (``spark.cores.max=2``) and their shuffles
really cross processes. Daemons run with 256 MB heaps.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

START_TIMEOUT = 300.0  # two cores shared by several engineers: JVM start-up can take minutes
WORKERS = 2
#: Settings every application on the test cluster uses (the driver in pytest, the Connect server).
APP_SETTINGS: dict[str, str] = {
    "spark.cores.max": "2",
    "spark.executor.cores": "1",
    "spark.executor.memory": "512m",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.sql.session.timeZone": "UTC",
}
#: The ``warehouse`` fixture's parameters for Spark, and where each one's driver runs.
SPARK_MODES = {"spark": "local", "spark_cluster": "cluster", "spark_connect": "connect"}
#: The environment variable the Connect tests read the server's token from (the assay URL
#: names it with ``token_env=``; the value never appears on a command line or in a URL).
TOKEN_ENV = "ASSAY_TEST_SPARK_CONNECT_TOKEN"


def spark_marks(mode: str, *extra: pytest.MarkDecorator) -> list[pytest.MarkDecorator]:
    """Marks of a test parameter that runs on the Spark ``mode`` (a key of ``SPARK_MODES``)."""
    marks = [pytest.mark.spark, pytest.mark.xdist_group("spark"), *extra]
    return [*marks, pytest.mark.spark_cluster] if mode != "spark" else marks


def spark_home() -> Path:
    """PySpark's package directory, which ships ``bin/``, ``sbin/`` and ``jars/``."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Daemon:
    """One JVM this module started, with the log its stdout and stderr go to."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    port: int = 0

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        """SIGTERM (Spark's shutdown hooks stop executors), then SIGKILL after 20 s."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@dataclass
class SparkCluster:
    """A standalone Master, its Workers and a Spark Connect server submitted to them."""

    root: Path
    master_url: str
    env: dict[str, str]
    daemons: list[Daemon] = field(default_factory=list)
    connect_url: str | None = None
    token: str | None = None
    started_in: float = 0.0

    @property
    def warehouse_dir(self) -> Path:
        """Where the cluster's applications keep managed tables (``driver/``, ``connect/``)."""
        return self.root / "warehouse"

    def launch_connect(self) -> Daemon:
        """Launch the Connect server on this cluster on a free port (see :meth:`await_connect`)."""
        self.token = self.token or uuid.uuid4().hex
        # The launcher sizes the Connect server like a daemon; Spark needs a 450 MB heap at least.
        # The server reads its token from the environment: it never shows on a command line.
        env = {**self.env, "SPARK_CONNECT_AUTHENTICATE_TOKEN": self.token,
               "SPARK_DAEMON_MEMORY": "768m"}
        port = free_port()
        settings = {**APP_SETTINGS, "spark.connect.grpc.binding.address": "127.0.0.1",
                    "spark.connect.grpc.binding.port": str(port),
                    "spark.connect.grpc.port.maxRetries": "0",
                    "spark.sql.warehouse.dir": str(self.warehouse_dir / "connect")}
        argv = [str(spark_home() / "bin" / "spark-submit"), "--class",
                "org.apache.spark.sql.connect.service.SparkConnectServer",
                "--name", "assay-test-connect", "--master", self.master_url]
        for key, value in settings.items():
            argv += ["--conf", f"{key}={value}"]
        daemon = _launch("connect", argv, self.root, env)
        daemon.port = port
        self.daemons.append(daemon)
        return daemon

    def await_connect(self, daemon: Daemon) -> str:
        """Wait for the server ``daemon`` (relaunching on a taken port); its ``sc://`` URL."""
        for _attempt in range(3):
            if _wait_for(daemon, lambda text: "Spark Connect server started" in text):
                self.connect_url = f"sc://localhost:{daemon.port}"
                return self.connect_url
            daemon.stop()
            if "BindException" not in daemon.text() and "already in use" not in daemon.text():
                raise RuntimeError(f"Spark Connect server did not start; its log:\n"
                                   f"{daemon.text()[-4000:]}")
            daemon = self.launch_connect()
        raise RuntimeError("Spark Connect server found no free port in 3 attempts")

    def stop(self) -> None:
        """Stop every process, newest first (Connect, Workers, Master), then remove ``root``."""
        for daemon in reversed(self.daemons):
            daemon.stop()
        self.daemons.clear()
        shutil.rmtree(self.root, ignore_errors=True)


def _launch(name: str, argv: list[str], root: Path, env: dict[str, str]) -> Daemon:
    log = root / "logs" / f"{name}-{len(list((root / 'logs').iterdir()))}.log"
    setpriv = shutil.which("setpriv")
    prefix = [setpriv, "--pdeathsig", "TERM", "--"] if setpriv else []
    with log.open("wb") as sink:
        process = subprocess.Popen([*prefix, *argv], stdout=sink, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=env, cwd=root)
    return Daemon(name=name, process=process, log=log)


def _wait_for(daemon: Daemon, ready: Callable[[str], bool]) -> bool:
    """True once ``ready(log text)``; False if the process exits first."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        text = daemon.text()
        if ready(text):
            return True
        if daemon.process.poll() is not None:
            return False
        time.sleep(0.2)
    raise RuntimeError(f"{daemon.name} not ready after {START_TIMEOUT} s; its log:\n"
                       f"{daemon.text()[-4000:]}")


def _environment(root: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SPARK_", "PYSPARK_"))}
    conf = root / "conf"
    conf.mkdir()
    env.update({
        "SPARK_HOME": str(spark_home()),
        "SPARK_CONF_DIR": str(conf),  # empty: nothing from the machine leaks in
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOCAL_DIRS": str(root / "local"),
        "SPARK_LOG_DIR": str(root / "logs"),
        "SPARK_WORKER_DIR": str(root / "work"),
        "SPARK_DAEMON_MEMORY": "256m",
        "SPARK_NO_DAEMONIZE": "1",
    })
    return env


def start_cluster(*, connect: bool = True) -> SparkCluster:
    """A Master, ``WORKERS`` Workers and (unless ``connect`` is false) a Connect server on
    127.0.0.1, all ready on return. The Workers and the server start side by side once the
    Master is up."""
    began = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="assay-spark-cluster-"))
    for sub in ("logs", "work", "local", "warehouse"):
        (root / sub).mkdir()
    env = _environment(root)
    cluster = None
    try:
        cluster = _start_master(root, env)
        workers = [_launch_worker(cluster, index) for index in range(WORKERS)]
        server = cluster.launch_connect() if connect else None
        for index, worker in enumerate(workers):
            if not _wait_for(worker, lambda text: "Successfully registered with master" in text):
                raise RuntimeError(f"Spark worker {index} did not register; its log:\n"
                                   f"{worker.text()[-4000:]}")
        if server is not None:
            cluster.await_connect(server)
    except BaseException:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
        raise
    cluster.started_in = time.perf_counter() - began
    return cluster


def _spark_class(main: str, *args: str) -> list[str]:
    return [str(spark_home() / "bin" / "spark-class"), main, *args]


def _start_master(root: Path, env: dict[str, str]) -> SparkCluster:
    for _attempt in range(3):
        port = free_port()
        daemon = _launch("master", _spark_class(
            "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
            "--webui-port", "0"), root, env)
        if _wait_for(daemon, lambda text: "I have been elected leader" in text):
            return SparkCluster(root=root, master_url=f"spark://127.0.0.1:{port}", env=env,
                                daemons=[daemon])
        daemon.stop()
        if "BindException" not in daemon.text() and "already in use" not in daemon.text():
            raise RuntimeError(f"Spark master did not start; its log:\n{daemon.text()[-4000:]}")
    raise RuntimeError("Spark master found no free port in 3 attempts")


def _launch_worker(cluster: SparkCluster, index: int) -> Daemon:
    work = cluster.root / "work" / f"worker-{index}"
    work.mkdir()
    daemon = _launch(f"worker-{index}", _spark_class(
        "org.apache.spark.deploy.worker.Worker", cluster.master_url, "--host", "127.0.0.1",
        "--cores", "2", "--memory", "1g", "--webui-port", "0", "--work-dir", str(work)),
        cluster.root, cluster.env)
    cluster.daemons.append(daemon)
    return daemon


class SparkDriver:
    """The one classic Spark driver a process may have, switched between masters on demand.

    PySpark allows one SparkContext per process, so local mode and the cluster-mode driver take
    turns: asking for the other mode stops the current session first. The test collection hook
    orders the cluster-mode tests after all the others, so a session switches once at most.
    """

    def __init__(self) -> None:
        self.mode: str | None = None
        self.warehouse: Any = None

    def session(self, mode: str, url: str) -> Any:
        """The running session for ``mode`` (``local`` or ``cluster``), started from ``url``."""
        from assay.warehouse.spark import SparkWarehouse

        if self.mode != mode:
            self.stop()
            self.warehouse = SparkWarehouse.from_url(url)
            self.warehouse.spark.sparkContext.setLogLevel("ERROR")
            self.mode = mode
        return self.warehouse.spark

    def stop(self, mode: str | None = None) -> None:
        """Stop the session (only if it runs ``mode``, when given)."""
        if self.warehouse is not None and mode in (None, self.mode):
            self.warehouse.close()
            self.warehouse, self.mode = None, None


def cluster_url(cluster: SparkCluster) -> str:
    """The ``spark://`` URL of the cluster with the test applications' settings."""
    settings = {**APP_SETTINGS, "warehouse_dir": str(cluster.warehouse_dir / "driver")}
    return f"{cluster.master_url}?{urlencode(settings)}"
