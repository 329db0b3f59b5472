"""The Kite examples running under a small load with a real Prometheus scraping them: what
`Dashboards/verify --start` proves the dashboards and rules against, and `Dashboards/render
--start` draws.

  with Environment(bin_dir) as environment:
      environment.prometheus            # http://127.0.0.1:P, scraping every process below
      environment.metrics               # the live /metrics URLs

Started on 127.0.0.1, every port picked at run time:
  - nats-server and etcd (from PATH), an OTLP/HTTP receiver that discards what it is sent
    (`Scripts/discard-otlp.py`) and a StatsD port that reads and discards;
  - addsvc `main`: HTTP, gRPC, NATS and Thrift, registered in etcd, failing 10 % of its calls,
    rate-limited, exporting spans, metrics and logs over OTLP and pushing StatsD;
  - addsvc `capped`: registered in etcd, failing half its calls, with a series cap of 4 that it
    reaches (the cardinality refusals);
  - the apigateway, finding both in etcd;
  - addcli loads, paced, each with its own metrics scraped: over gRPC, NATS and Thrift to `main`,
    and one over HTTP to `capped` (its retries, circuit breaker and bulkhead);
  - Python threads: the gateway's /addsvc/sum, business errors, bad requests and 404s on `main`;
  - Prometheus (with `--enable-feature=exemplar-storage`), scraping every second with
    Kite's rule files loaded.
Everything is stopped, and its folder removed, on leaving the `with`.
"""
import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


class SetupFailed(Exception):
    """A part of the environment is missing or did not start."""


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def require(program):
    path = shutil.which(program, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if not path:
        raise SetupFailed(f"{program} is not installed (Scripts/test.sh installs it)")
    return path


class Environment:
    def __init__(self, bin_dir, scrape_interval="1s"):
        self.bin_dir = bin_dir
        self.scrape_interval = scrape_interval
        self.folder = tempfile.mkdtemp(prefix="kite-dashboards-")
        self.processes = []
        self.stopping = threading.Event()
        self.threads = []
        self.prometheus = None
        self.metrics = []

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exception):
        self.stop()

    # Processes.

    def spawn(self, name, arguments, environment=None):
        log = open(os.path.join(self.folder, name + ".log"), "w")
        process = subprocess.Popen(
            arguments,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(environment or {})},
        )
        self.processes.append(process)
        return process

    def log_of(self, name):
        try:
            with open(os.path.join(self.folder, name + ".log"), errors="replace") as file:
                return file.read()
        except FileNotFoundError:
            return ""

    def wait_for(self, what, condition, process=None, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = condition()
            if result:
                return result
            if process is not None and process.poll() is not None:
                raise SetupFailed(f"{what}: the process exited with {process.returncode}")
            time.sleep(0.1)
        raise SetupFailed(f"timed out waiting for {what}")

    def binary(self, name):
        path = os.path.join(self.bin_dir, name)
        if not os.access(path, os.X_OK):
            raise SetupFailed(f"{path} is missing: run `swift build` first")
        return path

    def ports(self, name, message):
        """The `transport=… port=N` fields of the lines logged with `message`."""
        found = {}
        for line in self.log_of(name).splitlines():
            if f'msg="{message}"' in line:
                transport = re.search(r"\btransport=(\w+)", line)
                port = re.search(r"\bport=(\d+)", line)
                if port:
                    found[transport.group(1) if transport else "http"] = int(port.group(1))
        return found

    # The parts.

    def start(self):
        prometheus = require("prometheus")
        nats_port, etcd_port, etcd_peer = free_port(), free_port(), free_port()
        self.nats = f"nats://127.0.0.1:{nats_port}"
        self.etcd = f"http://127.0.0.1:{etcd_port}"
        nats = self.spawn("nats", [require("nats-server"), "-a", "127.0.0.1", "-p", str(nats_port)])
        etcd = self.spawn("etcd", [
            require("etcd"), "--data-dir", os.path.join(self.folder, "etcd"),
            "--listen-client-urls", self.etcd, "--advertise-client-urls", self.etcd,
            "--listen-peer-urls", f"http://127.0.0.1:{etcd_peer}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{etcd_peer}",
            "--initial-cluster", f"default=http://127.0.0.1:{etcd_peer}",
        ])
        self.wait_for("nats-server", lambda: "Server is ready" in self.log_of("nats"), nats)
        self.wait_for("etcd", lambda: self.answers(self.etcd + "/health"), etcd)
        discard = self.spawn("otlp", [sys.executable, os.path.join(os.path.dirname(HERE), "Scripts", "discard-otlp.py")])
        otlp_port = self.wait_for("the OTLP receiver's port", lambda: self.first_number("otlp"), discard)
        statsd = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        statsd.bind(("127.0.0.1", 0))
        statsd.settimeout(0.2)
        self.background(lambda: self.drain(statsd))

        register = ["--register", "etcd", "--registry", self.etcd, "--registration-ttl", "3s"]
        addsvc = self.binary("addsvc")
        main = self.spawn("addsvc-main", [
            addsvc, "--host", "127.0.0.1", "--http-port", "0", "--grpc-port", "0", "--thrift-port", "0",
            "--nats", self.nats, "--fail-rate", "0.1", "--rate-limit", "200", *register,
        ], {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{otlp_port}",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
            "OTEL_METRIC_EXPORT_INTERVAL": "1000",
            "KITE_STATSD_ADDRESS": f"127.0.0.1:{statsd.getsockname()[1]}",
        })
        capped = self.spawn("addsvc-capped", [
            addsvc, "--host", "127.0.0.1", "--http-port", "0", "--grpc-port", "0", "--fail-rate", "0.5", *register,
        ], {"OTEL_TRACES_EXPORTER": "none", "KITE_METRICS_MAX_SERIES": "4"})
        self.wait_for("addsvc (main) to serve on NATS", lambda: 'msg="nats: serving"' in self.log_of("addsvc-main"), main)
        self.main = self.wait_for("addsvc (main) to listen", lambda: self.listening("addsvc-main", 3), main)
        self.capped = self.wait_for("addsvc (capped) to listen", lambda: self.listening("addsvc-capped", 2), capped)
        gateway = self.spawn("apigateway", [
            self.binary("apigateway"), "--host", "127.0.0.1", "--http-port", "0", "--discovery", "etcd", "--registry", self.etcd,
        ], {"OTEL_TRACES_EXPORTER": "none"})
        self.gateway = self.wait_for("the apigateway to listen", lambda: self.ports("apigateway", "apigateway listening").get("http"), gateway)

        # Every addcli's own metrics are scraped: the client transports', and the resilience of
        # the one calling `capped` (which fails half its calls) through a bulkhead of one.
        clients = [
            self.load_addcli("http", ["--http-addr", f"127.0.0.1:{self.capped['http']}", "--max-in-flight", "1"], "sum", "1", "2"),
            self.load_addcli("grpc", ["--grpc-addr", f"127.0.0.1:{self.main['grpc']}"], "sum", "1", "2"),
            self.load_addcli("nats", ["--nats", self.nats], "sum", "0", "0"),
            self.load_addcli("thrift", ["--thrift-addr", f"127.0.0.1:{self.main['thrift']}"], "concat", "a", "b"),
        ]
        main_http = f"http://127.0.0.1:{self.main['http']}"
        self.load_http(f"http://127.0.0.1:{self.gateway}/addsvc/sum", b'{"a":1,"b":2}')
        self.load_http(main_http + "/sum", b'{"a":0,"b":0}')  # a business error
        self.load_http(main_http + "/concat", b'{"a":"0123456789","b":"x"}')  # too long: a business error
        self.load_http(main_http + "/sum", b'{"a":')  # malformed: 400
        self.load_http(main_http + "/nope", b"")  # 404

        targets = {
            "addsvc": [f"127.0.0.1:{self.main['http']}", f"127.0.0.1:{self.capped['http']}"],
            "apigateway": [f"127.0.0.1:{self.gateway}"],
            "addcli": [f"127.0.0.1:{port}" for port in clients],
        }
        self.metrics = [f"http://{target}/metrics" for group in targets.values() for target in group]
        configuration = {
            "global": {"scrape_interval": self.scrape_interval, "evaluation_interval": self.scrape_interval},
            "rule_files": sorted(path for path in glob.glob(os.path.join(HERE, "*.yml")) if not path.endswith(".test.yml")),
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": addresses}]} for job, addresses in targets.items()
            ],
        }
        with open(os.path.join(self.folder, "prometheus.yml"), "w") as file:
            json.dump(configuration, file)  # JSON is YAML
        prometheus_port = free_port()
        self.prometheus = f"http://127.0.0.1:{prometheus_port}"
        server = self.spawn("prometheus", [
            prometheus, f"--config.file={os.path.join(self.folder, 'prometheus.yml')}",
            f"--storage.tsdb.path={os.path.join(self.folder, 'tsdb')}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}", "--enable-feature=exemplar-storage",
        ])
        self.wait_for("Prometheus to be ready", lambda: self.answers(self.prometheus + "/-/ready"), server)
        self.wait_for("every target to be up", lambda: self.targets_up() == len(self.metrics), server)

    def first_number(self, name):
        """The number on the first line of a log, once it is complete."""
        first, newline, _ = self.log_of(name).partition("\n")
        return int(first) if newline and first.strip().isdigit() else None

    def listening(self, name, count):
        ports = self.ports(name, "addsvc listening")
        return ports if len(ports) == count else None

    def load_addcli(self, transport, arguments, method, a, b):
        """addcli over `transport`, paced, run again whenever it ends; the port its metrics are
        served at."""
        command = [self.binary("addcli"), "--transport", transport, *arguments,
                   "--repeat", "1000000", "--concurrency", "4", "--rate", "50", method, a, b]
        port = free_port()
        environment = {
            "OTEL_TRACES_EXPORTER": "none",
            "OTEL_EXPORTER_PROMETHEUS_HOST": "127.0.0.1",
            "OTEL_EXPORTER_PROMETHEUS_PORT": str(port),
        }
        name = f"addcli-{transport}"

        def run():
            while not self.stopping.is_set():
                process = self.spawn(name, command, environment)
                while process.poll() is None and not self.stopping.is_set():
                    time.sleep(0.2)
        self.background(run)
        return port

    def load_http(self, url, body, per_second=20):
        def run():
            while not self.stopping.is_set():
                request = urllib.request.Request(url, data=body or None, method="POST" if body else "GET")
                try:
                    with urllib.request.urlopen(request, timeout=5) as response:
                        response.read()
                except Exception:  # 4xx and 5xx are part of the load
                    pass
                self.stopping.wait(1 / per_second)
        self.background(run)

    def drain(self, sock):
        while not self.stopping.is_set():
            try:
                sock.recv(65536)
            except OSError:
                pass
        sock.close()

    def background(self, body, stop=None):
        thread = threading.Thread(target=body, daemon=True)
        thread.start()
        self.threads.append((thread, stop))

    def answers(self, url):
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status == 200
        except Exception:
            return False

    def targets_up(self):
        try:
            with urllib.request.urlopen(self.prometheus + "/api/v1/targets", timeout=5) as response:
                targets = json.load(response)["data"]["activeTargets"]
        except Exception:
            return 0
        return sum(1 for target in targets if target["health"] == "up")

    def stop(self):
        self.stopping.set()
        for _, stop in self.threads:
            if stop:
                stop()
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 10
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for thread, _ in self.threads:
            thread.join(timeout=5)
        shutil.rmtree(self.folder, ignore_errors=True)

    def describe(self):
        """The last lines of every process's log, for a failure report."""
        lines = []
        for path in sorted(glob.glob(os.path.join(self.folder, "*.log"))):
            with open(path, errors="replace") as file:
                tail = file.read().splitlines()[-5:]
            lines.append(f"--- {os.path.basename(path)}")
            lines.extend(tail)
        return "\n".join(lines)
