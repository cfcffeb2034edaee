#!/usr/bin/env python3
"""bench/attacklib.py - what bench/slowloris, bench/flood and bench/idlemem
share: a scratch folder with the demo certificates and a 100-byte page,
cachetd and nginx started side by side with comparable settings, a "normal
client" probe run in its own process, and /proc readings of the workers.

Both servers: 2 workers, the RSA-2048 certificate from certs/mkcerts,
TLS 1.2 and 1.3, 127.0.0.1 on a free port, listen backlog 511, fd limit
65536, handshake and header timeout 15 s (or as given: nginx's
client_header_timeout runs from accept to the end of the request head and
covers its TLS handshake; cachetd's handshake-timeout and header-timeout
are set to the same value), keep-alive timeout 15 s, send timeout 30 s, no access log, workers run as nobody.  The session cache is GDBM on
/dev/shm for cachetd and shared:SSL:10m for nginx (tickets off), or off for
both (cache=False, used by the memory measurement).

    python3 bench/attacklib.py probe PORT N TIMEOUT CAP   (prints JSON)

is the normal client: N sequential HTTPS GETs of /index.html, a new TCP
connection and a full handshake each (no resumption), Connection: close,
each bounded by TIMEOUT seconds, all by CAP seconds.

CACHETD=/path/to/cachetd in the environment measures another build.

Everything started is stopped on exit, on SIGINT/SIGTERM/SIGHUP too; only
processes this module started are signalled, by pid."""
import asyncio, atexit, errno, json, os, resource, shutil, signal, socket
import ssl, statistics, subprocess, sys, tempfile, time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHETD = os.environ.get("CACHETD") or os.path.join(TOP, "src", "cachetd")
NOFILE = 65536
TIMEOUT = 15          # handshake, header and keep-alive timeouts, seconds
PAGE = "/index.html"


def raise_nofile(n=NOFILE):
    """Raise this process's fd limit (inherited by the servers we start)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, max(n, hard)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


_CTX = None


def client_ctx():
    """No verification, and no session is ever offered (no session= given):
    every handshake is a full one."""
    global _CTX
    if _CTX is None:
        _CTX = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        _CTX.check_hostname = False
        _CTX.verify_mode = ssl.CERT_NONE
    return _CTX


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ------------------------------------------------------------ lab & servers
class Lab:
    """A scratch folder, certificates, a page; stops every server on exit."""

    def __init__(self):
        if not os.access(CACHETD, os.X_OK):
            sys.exit("build first: %s missing (autoreconf -fi && ./configure && make)" % CACHETD)
        if not shutil.which("nginx"):
            sys.exit("nginx missing: apt-get install nginx-light")
        self.nofile = raise_nofile()
        self.dir = tempfile.mkdtemp(prefix="cachet-attack.")
        os.chmod(self.dir, 0o755)
        self.servers = []
        atexit.register(self.cleanup)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._signalled)
        subprocess.run(["sh", os.path.join(TOP, "certs", "mkcerts"),
                        os.path.join(self.dir, "certs")],
                       stdout=subprocess.DEVNULL, check=True)
        site = os.path.join(self.dir, "site")
        os.mkdir(site)
        with open(os.path.join(site, "index.html"), "w") as f:
            f.write("x" * 99 + "\n")
        for root, dirs, files in os.walk(self.dir):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755)
            for f in files:
                if f == "index.html" or f.endswith(".crt"):
                    os.chmod(os.path.join(root, f), 0o644)

    def _signalled(self, signum, frame):
        raise SystemExit(128 + signum)

    def cleanup(self):
        for s in list(self.servers):
            s.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def server(self, kind, wc, cache=True, timeout=TIMEOUT):
        s = Server(self, kind, wc, cache, timeout=timeout)
        self.servers.append(s)
        return s


class Server:
    def __init__(self, lab, kind, wc, cache=True, workers=2, timeout=TIMEOUT):
        self.lab, self.kind, self.wc, self.cache, self.workers = lab, kind, wc, cache, workers
        self.timeout = timeout  # handshake and header timeout
        self.proc = None
        self.port = None
        self.known_workers = set()

    def _write_conf(self):
        d = self.lab.dir
        crt = os.path.join(d, "certs", "server-rsa.crt")
        key = os.path.join(d, "certs", "server-rsa.key")
        site = os.path.join(d, "site")
        if self.kind == "nginx":
            conf = os.path.join(d, "nginx-%d.conf" % self.port)
            cache = ("ssl_session_cache shared:SSL:10m;" if self.cache
                     else "ssl_session_cache off;")
            os.makedirs(os.path.join(d, "nginx-tmp"), exist_ok=True)
            text = f"""worker_processes {self.workers};
worker_rlimit_nofile {NOFILE};
user nobody nogroup;
pid {d}/nginx-{self.port}.pid;
error_log {d}/nginx-{self.port}.err;
events {{ worker_connections {self.wc}; }}
http {{
	access_log off;
	{cache}
	ssl_session_tickets off;
	ssl_protocols TLSv1.2 TLSv1.3;
	client_header_timeout {int(self.timeout * 1000)}ms;
	keepalive_timeout {TIMEOUT};
	send_timeout 30;
	client_body_temp_path {d}/nginx-tmp;
	server {{
		listen 127.0.0.1:{self.port} ssl;
		ssl_certificate {crt};
		ssl_certificate_key {key};
		root {site};
	}}
}}
"""
        else:
            conf = os.path.join(d, "cachetd-%d.conf" % self.port)
            self.db = "/dev/shm/cachet-attack-%d-%d.db" % (os.getpid(), self.port)
            store = ('gdbm:%s' % self.db) if self.cache else "none"
            text = f"""listen = {{"127.0.0.1:{self.port}"}}
workers = {self.workers}
worker-connections = {self.wc}
user = "nobody"
root = "{site}"
certificate = "{crt}"
key = "{key}"
protocols = {{"TLSv1.2", "TLSv1.3"}}
access-log = "/dev/null"
error-log = "{d}/cachetd-{self.port}.err"
handshake-timeout = {self.timeout:g}
header-timeout = {self.timeout:g}
keepalive-timeout = {TIMEOUT}
send-timeout = 30
session-cache {{ store = "{store}" }}
location "/status" {{
	status = true
	allow-address = {{"127.0.0.1"}}
}}
"""
        with open(conf, "w") as f:
            f.write(text)
        return conf

    def errlog(self):
        text = ""
        for ext in (".err", ".stderr"):
            try:
                with open(os.path.join(self.lab.dir, "%s-%d%s" % (self.kind, self.port, ext))) as f:
                    text += f.read()
            except OSError:
                pass
        return text

    def start(self):
        self.port = free_port()
        conf = self._write_conf()
        if self.kind == "nginx":
            argv = ["nginx", "-c", conf, "-g", "daemon off;"]
        else:
            argv = [CACHETD, "-c", conf]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.lab.dir, "%s-%d.stderr" % (self.kind, self.port)), "w"))
        t0 = time.time()
        while time.time() - t0 < 15:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited at start: %s" % (self.kind, self.errlog()[-500:]))
            ok, _, _ = fetch_once(self.port, 1.0)
            if ok and len(self.worker_pids()) >= self.workers:
                return self
            time.sleep(0.1)
        raise RuntimeError("%s did not start: %s" % (self.kind, self.errlog()[-500:]))

    def worker_pids(self):
        """Children of the master (the workers), remembered for cleanup."""
        pids = []
        if not self.proc:
            return pids
        for e in os.listdir("/proc"):
            if not e.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % e) as f:
                    st = f.read()
            except OSError:
                continue
            ppid = int(st[st.rindex(")") + 2:].split()[1])
            if ppid == self.proc.pid:
                pids.append(int(e))
        self.known_workers.update(pids)
        return sorted(pids)

    def stop(self):
        if not self.proc:
            return
        self.worker_pids()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        time.sleep(0.2)
        for p in self.known_workers:   # a worker that outlived its master
            try:
                with open("/proc/%d/stat" % p) as f:
                    st = f.read()
                ppid = int(st[st.rindex(")") + 2:].split()[1])
                if ppid in (1, self.proc.pid) or ppid == os.getpid():
                    os.kill(p, signal.SIGKILL)
            except (OSError, ValueError):
                pass
        if self.kind == "cachetd":
            for suffix in ("", ".lock"):
                try:
                    os.unlink(self.db + suffix)
                except OSError:
                    pass
        self.proc = None
        if self in self.lab.servers:
            self.lab.servers.remove(self)
        time.sleep(0.3)

    # ---- readings
    def memory(self):
        """Summed Pss and Rss (kB) of the workers, from smaps_rollup."""
        pss = rss = 0
        for p in self.worker_pids():
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
                    elif line.startswith("Rss:"):
                        rss += int(line.split()[1])
        return pss, rss

    def sockets(self):
        """Sockets the workers hold open (listening sockets included)."""
        return sum(self.sockets_per_worker())

    def sockets_per_worker(self):
        out = []
        for p in self.worker_pids():
            n = 0
            try:
                for fd in os.listdir("/proc/%d/fd" % p):
                    try:
                        if os.readlink("/proc/%d/fd/%s" % (p, fd)).startswith("socket:"):
                            n += 1
                    except OSError:
                        pass
            except OSError:
                pass
            out.append(n)
        return out

    def status(self):
        """cachetd's status counters (JSON), or {} for nginx / on failure."""
        if self.kind != "cachetd":
            return {}
        ok, body, _ = fetch_once(self.port, 3.0, "/status?format=json")
        if not ok:
            return {}
        try:
            return json.loads(body.split(b"\r\n\r\n", 1)[1])
        except ValueError:
            return {}


# ------------------------------------------------------------ normal client
def fetch_once(port, timeout, path=PAGE):
    """One GET on a new connection: (ok, response bytes, error name)."""
    deadline = time.monotonic() + timeout
    s = None
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        s = client_ctx().wrap_socket(s, server_hostname="localhost")
        s.settimeout(max(0.01, deadline - time.monotonic()))
        s.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" % path).encode())
        data = b""
        while True:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            b = s.recv(65536)
            if not b:
                break
            data += b
        if data.startswith(b"HTTP/1.1 200"):
            return True, data, None
        return False, data, "status " + data[9:12].decode(errors="replace") if data else "empty"
    except socket.timeout:
        return False, b"", "timeout"
    except ConnectionRefusedError:
        return False, b"", "refused"
    except ConnectionResetError:
        return False, b"", "reset"
    except ssl.SSLError as e:
        return False, b"", "tls:" + (e.reason or "error")
    except OSError as e:
        return False, b"", errno.errorcode.get(e.errno, "oserror") if e.errno else type(e).__name__
    finally:
        if s is not None:
            try:
                s.close()
            except OSError:
                pass


def probe(port, n, timeout, cap):
    """N sequential requests; latencies (ms) of the good ones, failures."""
    lat, fails = [], {}
    t0 = time.monotonic()
    tried = 0
    for _ in range(n):
        if time.monotonic() - t0 > cap:
            break
        tried += 1
        a = time.monotonic()
        ok, _, err = fetch_once(port, timeout)
        if ok:
            lat.append((time.monotonic() - a) * 1000.0)
        else:
            fails[err] = fails.get(err, 0) + 1
    return {"tried": tried, "ok": len(lat), "failed": tried - len(lat),
            "fail_kinds": fails, "lat_ms": lat,
            "p50_ms": pct(lat, 50), "p95_ms": pct(lat, 95),
            "max_ms": max(lat) if lat else None,
            "secs": time.monotonic() - t0}


async def probe_async(port, n, timeout=5.0, cap=60.0):
    """Run probe() in a child process so the attack's event loop (and its
    CPU) stays out of the measured client."""
    p = await asyncio.create_subprocess_exec(
        sys.executable, os.path.abspath(__file__), "probe", str(port), str(n),
        str(timeout), str(cap), stdout=asyncio.subprocess.PIPE)
    out, _ = await p.communicate()
    return json.loads(out)


def probe_sync(port, n, timeout=5.0, cap=60.0):
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "probe",
                          str(port), str(n), str(timeout), str(cap)],
                         stdout=subprocess.PIPE, check=True).stdout
    return json.loads(out)


async def until_served(port, cap=30.0, timeout=1.0):
    """Seconds until a new client gets a 200 (None if not within CAP)."""
    t0 = time.monotonic()
    loop = asyncio.get_running_loop()
    while time.monotonic() - t0 < cap:
        ok, _, _ = await loop.run_in_executor(None, fetch_once, port, timeout)
        if ok:
            return time.monotonic() - t0
        await asyncio.sleep(0.05)
    return None


# ------------------------------------------------------------ output
def fmt(v, nd=0):
    if v is None:
        return "-"
    if isinstance(v, float):
        return ("%%.%df" % nd) % v
    return str(v)


def table(headers, rows):
    """Markdown table as a string."""
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for r in rows:
        out.append("| " + " | ".join(fmt(c) if not isinstance(c, str) else c for c in r) + " |")
    return "\n".join(out)


def machine_line():
    nv = subprocess.run(["nginx", "-v"], stderr=subprocess.PIPE, text=True).stderr.strip()
    cv = subprocess.run([CACHETD, "-v"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                        text=True).stdout.splitlines()
    return "%s, %d CPUs, %s; %s; %s; %s" % (
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), os.cpu_count(),
        os.uname().release, nv.replace("nginx version: ", ""),
        cv[0] if cv else "cachetd", ssl.OPENSSL_VERSION)


def write_results(name, data, md):
    out = os.path.join(TOP, "bench", "results")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, name + ".json"), "w") as f:
        json.dump(data, f, indent=1, default=str)
        f.write("\n")
    with open(os.path.join(out, name + ".md"), "w") as f:
        f.write(md + "\n")
    return out


def write_csv(name, headers, rows):
    import csv
    out = os.path.join(TOP, "bench", "results", name + ".csv")
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(headers)
        for r in rows:
            w.writerow(["" if c is None else (round(c, 2) if isinstance(c, float) else c) for c in r])


if __name__ == "__main__" and len(sys.argv) == 6 and sys.argv[1] == "probe":
    r = probe(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]))
    print(json.dumps(r))
