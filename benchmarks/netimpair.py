"""Packet loss and delay for real WebRTC traffic on loopback, without netem.

This kernel has no `netem` qdisc and cannot load modules, and Debian's Chromium 156 has no
`WebRTC-FakeNetwork*` field trials, so impairment comes from user space: an iptables `NFQUEUE` rule on
the `lo` of a *private* network namespace hands every UDP packet (and the server's HTTP/Socket.IO TCP)
to this module, which reads them over netlink and gives each a verdict: drop now, or accept after a
delay. Nothing here ever touches the machine's shared namespace (`enter_private_netns` refuses).

Topology: every participant (a browser page) has its own access link; the server has none. A packet
crosses the link of each client endpoint it has, so browser → SFU → browser crosses two hops and a
direct browser → browser packet crosses the sender's uplink and the receiver's downlink: the same
per-browser impairment. A port is a server port when it is in the server's UDP range or is its HTTP
port; every other port is a client port. TCP is never impaired, only blocked (a page cut off).

Every verdict is counted per client port and direction, so a run can show what really happened.
"""

from __future__ import annotations

import heapq
import json
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

NETNS_ENV = "PYSFU_PRIVATE_NETNS"
ROOT = Path(__file__).resolve().parent.parent

# netlink / nfnetlink_queue constants (linux/netfilter/nfnetlink_queue.h)
NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQA_PACKET_HDR, NFQA_PAYLOAD = 1, 10
NFQA_VERDICT_HDR = 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS, NFQA_CFG_QUEUE_MAXLEN = 1, 2, 3
NFQNL_CFG_CMD_BIND, NFQNL_CFG_CMD_UNBIND = 1, 2
NFQNL_COPY_PACKET = 2
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2
NF_DROP, NF_ACCEPT = 0, 1
_NLMSG = struct.Struct("=IHHII")
_NLATTR = struct.Struct("=HH")


@dataclass(frozen=True)
class Impairment:
    """What one hop (a client's access link, each direction) does to each packet."""

    loss: float = 0.0  # probability of a drop per hop, 0..1 (independent, like netem without correlation)
    delay_ms: float = 0.0  # one-way delay per hop
    jitter_ms: float = 0.0  # uniform ± around the delay; a hop stays FIFO (a queue, not a reorderer)

    def label(self) -> str:
        j = f" ±{self.jitter_ms:g} ms" if self.jitter_ms else ""
        return f"{100 * self.loss:g}% + {self.delay_ms:g} ms{j}"


@dataclass
class HopCounter:
    packets: int = 0
    dropped: int = 0
    blocked: int = 0
    delay_ms_sum: float = 0.0  # applied delay (verdict time − read time) summed over delivered packets
    delivered: int = 0

    def add(self, other: HopCounter) -> None:
        self.packets += other.packets
        self.dropped += other.dropped
        self.blocked += other.blocked
        self.delay_ms_sum += other.delay_ms_sum
        self.delivered += other.delivered


@dataclass
class Decision:
    release_at: float | None  # None: drop
    hops: list[tuple[int, str]] = field(default_factory=list)


class LinkModel:
    """Per-packet decisions and counters; no I/O, so it is unit-testable."""

    def __init__(self, impairment: Impairment, server_ports: Iterable[range | int], seed: int | None = None) -> None:
        self.impairment = impairment
        self._server = [p if isinstance(p, range) else range(p, p + 1) for p in server_ports]
        self._rng = random.Random(seed)
        self._last_release: dict[tuple[int, str], float] = {}
        self.counters: dict[tuple[int, str], HopCounter] = {}
        self.seen_ports: set[int] = set()
        self.other = 0  # UDP packets with no client endpoint (never impaired)
        self._blocked: set[int] = set()
        self._allowed: set[int] = set()
        self._block_new = False
        self._block_until = 0.0

    def is_server(self, port: int) -> bool:
        return any(port in r for r in self._server)

    def block(self, ports: Iterable[int], seconds: float, now: float, block_new: bool = True) -> None:
        """Cut `ports` (and, with block_new, every client port first seen from now on) for `seconds`."""
        self._blocked = set(ports)
        self._allowed = self.seen_ports - self._blocked
        self._block_new = block_new
        self._block_until = now + seconds

    def _is_blocked(self, port: int, now: float) -> bool:
        if now >= self._block_until:
            return False
        return port in self._blocked or (self._block_new and port not in self._allowed)

    def decide(self, proto: int, src: int, dst: int, now: float) -> Decision:
        hops = [(p, d) for p, d in ((src, "up"), (dst, "down")) if not self.is_server(p)]
        for p, _ in hops:
            if now >= self._block_until:
                self.seen_ports.add(p)
        if not hops:
            self.other += 1
            return Decision(now)
        if any(self._is_blocked(p, now) for p, _ in hops):
            self._count(hops[0]).blocked += 1
            return Decision(None, hops)
        if proto != socket.IPPROTO_UDP:  # signaling: only ever blocked, never impaired
            return Decision(now)
        imp = self.impairment
        t = now
        for hop in hops:
            counter = self._count(hop)
            counter.packets += 1
            if imp.loss and self._rng.random() < imp.loss:
                counter.dropped += 1
                return Decision(None, hops)
            d = imp.delay_ms + (self._rng.uniform(-imp.jitter_ms, imp.jitter_ms) if imp.jitter_ms else 0.0)
            t = max(t + max(d, 0.0) / 1000, self._last_release.get(hop, 0.0))
            self._last_release[hop] = t
        return Decision(t, hops)

    def delivered(self, hops: Sequence[tuple[int, str]], read_at: float, now: float) -> None:
        """Account a packet's delay to its hops (the total split evenly: hops share one configuration)."""
        per_hop = (now - read_at) * 1000 / len(hops)
        for hop in hops:
            counter = self._count(hop)
            counter.delivered += 1
            counter.delay_ms_sum += per_hop

    def _count(self, hop: tuple[int, str]) -> HopCounter:
        counter = self.counters.get(hop)
        if counter is None:
            counter = self.counters[hop] = HopCounter()
        return counter

    def snapshot(self) -> dict[str, Any]:
        return {"ports": {f"{p}/{d}": vars(c).copy() for (p, d), c in self.counters.items()}, "other": self.other}


def summarize(snapshot: dict[str, Any], ports: Iterable[int] | None = None,
              since: dict[str, Any] | None = None) -> dict[str, float]:
    """Totals over hops (optionally only `ports`, optionally minus an earlier snapshot)."""
    wanted = None if ports is None else {str(p) for p in ports}
    total = HopCounter()
    base = (since or {}).get("ports", {})
    for key, values in snapshot["ports"].items():
        if wanted is not None and key.split("/")[0] not in wanted:
            continue
        now = HopCounter(**values)
        before = HopCounter(**base[key]) if key in base else HopCounter()
        total.add(HopCounter(**{k: getattr(now, k) - getattr(before, k) for k in vars(now)}))
    return {
        "hop_packets": total.packets,
        "hop_dropped": total.dropped,
        "hop_loss": total.dropped / total.packets if total.packets else 0.0,
        "blocked": total.blocked,
        "hop_delay_ms": total.delay_ms_sum / total.delivered if total.delivered else 0.0,
    }


class NfQueue:
    """A minimal nfnetlink_queue client: bind a queue, read packets, send verdicts."""

    def __init__(self, queue_num: int = 0, copy_range: int = 128, maxlen: int = 16384) -> None:
        self.queue_num = queue_num
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE (root)
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind((0, 0))
        self._seq = 0
        self.enobufs = 0
        self._config(_attr(NFQA_CFG_CMD, struct.pack("!BxH", NFQNL_CFG_CMD_BIND, socket.AF_INET)))
        self._config(_attr(NFQA_CFG_PARAMS, struct.pack("!IB", copy_range, NFQNL_COPY_PACKET))
                     + _attr(NFQA_CFG_QUEUE_MAXLEN, struct.pack("!I", maxlen)))
        self.sock.setblocking(False)

    def fileno(self) -> int:
        return self.sock.fileno()

    def _message(self, msg_type: int, flags: int, family: int, body: bytes) -> bytes:
        self._seq += 1
        nfgen = struct.pack("=BBH", family, 0, socket.htons(self.queue_num))
        return _NLMSG.pack(_NLMSG.size + 4 + len(body), (NFNL_SUBSYS_QUEUE << 8) | msg_type, flags,
                           self._seq, 0) + nfgen + body

    def _config(self, body: bytes) -> None:
        self.sock.send(self._message(NFQNL_MSG_CONFIG, NLM_F_REQUEST | NLM_F_ACK, socket.AF_UNSPEC, body))
        data = self.sock.recv(65536)
        length, msg_type = struct.unpack_from("=IH", data)
        if msg_type == NLMSG_ERROR:
            (errno,) = struct.unpack_from("=i", data, _NLMSG.size)
            if errno:
                raise OSError(-errno, f"nfnetlink_queue config failed: {os.strerror(-errno)}")

    def read(self) -> list[tuple[int, bytes]]:
        """Every packet waiting now: (packet id, the first bytes of its IP header and payload)."""
        out: list[tuple[int, bytes]] = []
        while True:
            try:
                data = self.sock.recv(1 << 16)
            except BlockingIOError:
                return out
            except OSError as exc:
                if exc.errno == 105:  # ENOBUFS: the kernel dropped messages; packets stay queued
                    self.enobufs += 1
                    continue
                raise
            offset = 0
            while offset + _NLMSG.size <= len(data):
                length, msg_type, _f, _s, _p = _NLMSG.unpack_from(data, offset)
                if length < _NLMSG.size:
                    break
                if msg_type == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                    pid, payload = None, b""
                    pos = offset + _NLMSG.size + 4
                    end = offset + length
                    while pos + 4 <= end:
                        alen, atype = _NLATTR.unpack_from(data, pos)
                        if alen < 4:
                            break
                        atype &= 0x7FFF
                        if atype == NFQA_PACKET_HDR:
                            (pid,) = struct.unpack_from("!I", data, pos + 4)
                        elif atype == NFQA_PAYLOAD:
                            payload = data[pos + 4:pos + alen]
                        pos += (alen + 3) & ~3
                    if pid is not None:
                        out.append((pid, payload))
                offset += (length + 3) & ~3

    def verdicts(self, items: Sequence[tuple[int, int]]) -> None:
        """Send many verdicts in one datagram (netlink allows several messages per send)."""
        for i in range(0, len(items), 256):
            chunk = b"".join(
                self._message(NFQNL_MSG_VERDICT, NLM_F_REQUEST, socket.AF_UNSPEC,
                              _attr(NFQA_VERDICT_HDR, struct.pack("!II", verdict, pid)))
                for pid, verdict in items[i:i + 256]
            )
            self.sock.send(chunk)

    def close(self) -> None:
        try:
            self.sock.setblocking(True)
            self._config(_attr(NFQA_CFG_CMD, struct.pack("!BxH", NFQNL_CFG_CMD_UNBIND, socket.AF_INET)))
        except OSError:
            pass
        self.sock.close()


def _attr(atype: int, value: bytes) -> bytes:
    raw = _NLATTR.pack(4 + len(value), atype) + value
    return raw + b"\0" * (-len(raw) % 4)


def parse_ports(packet: bytes) -> tuple[int, int, int] | None:
    """(protocol, source port, destination port) of an IPv4 UDP/TCP packet."""
    if len(packet) < 20 or packet[0] >> 4 != 4:
        return None
    ihl = (packet[0] & 0x0F) * 4
    proto = packet[9]
    if proto not in (socket.IPPROTO_UDP, socket.IPPROTO_TCP) or len(packet) < ihl + 4:
        return None
    src, dst = struct.unpack_from("!HH", packet, ihl)
    return proto, src, dst


def serve(impairment: Impairment, server_ports: list[range], queue_num: int, seed: int | None) -> None:
    """The impairer process: netlink loop plus JSON-line commands on stdin (set, block, stats, stop)."""
    import select

    priority = _prefer_cpu()
    model = LinkModel(impairment, server_ports, seed)
    queue = NfQueue(queue_num)
    pending: list[tuple[float, int, int, float, list[tuple[int, str]]]] = []  # (release, n, id, read_at, hops)
    n = 0
    late_sum, late_n = 0.0, 0
    commands = sys.stdin.buffer
    _reply({"ready": True})
    try:
        while True:
            timeout = max(0.0, pending[0][0] - time.monotonic()) if pending else 0.2
            readable, _, _ = select.select([queue, commands], [], [], timeout)
            now = time.monotonic()
            verdicts: list[tuple[int, int]] = []
            if queue in readable:
                for pid, packet in queue.read():
                    ports = parse_ports(packet)
                    if ports is None:
                        verdicts.append((pid, NF_ACCEPT))
                        continue
                    now = time.monotonic()  # per packet: the batch may hold packets that came after select()
                    decision = model.decide(*ports, now)
                    if decision.release_at is None:
                        verdicts.append((pid, NF_DROP))
                    elif decision.release_at <= now:
                        verdicts.append((pid, NF_ACCEPT))
                        if decision.hops:
                            model.delivered(decision.hops, now, now)
                    else:
                        n += 1
                        heapq.heappush(pending, (decision.release_at, n, pid, now, decision.hops))
            now = time.monotonic()
            while pending and pending[0][0] <= now:
                release, _, pid, read_at, hops = heapq.heappop(pending)
                verdicts.append((pid, NF_ACCEPT))
                model.delivered(hops, read_at, now)
                late_sum += now - release
                late_n += 1
            if verdicts:
                queue.verdicts(verdicts)
            if commands in readable:
                line = commands.readline()
                if not line:
                    break
                cmd = json.loads(line)
                if cmd["cmd"] == "stop":
                    break
                if cmd["cmd"] == "set":
                    model.impairment = Impairment(**cmd["impairment"])
                elif cmd["cmd"] == "block":
                    model.block(cmd["ports"], cmd["seconds"], time.monotonic())
                elif cmd["cmd"] == "stats":
                    snap = model.snapshot()
                    snap.update(enobufs=queue.enobufs, late_ms_sum=1000 * late_sum, late_n=late_n,
                                pending=len(pending), kernel=_kernel_queue_stats(queue_num),
                                impairment=asdict(model.impairment), seen_ports=sorted(model.seen_ports),
                                priority=priority)
                    _reply(snap)
    finally:
        if pending:
            queue.verdicts([(pid, NF_ACCEPT) for _, _, pid, _, _ in pending])
        queue.close()


def _prefer_cpu() -> str:
    """Run ahead of the browsers and the server: on a busy machine a starved impairer adds delay of its own.
    The loop sleeps in select() between packets, so a real-time priority costs others little."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
        return "SCHED_FIFO 10"
    except (OSError, AttributeError):
        pass
    try:
        os.nice(-10)
        return "nice -10"
    except OSError:
        return "default"


def _reply(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _kernel_queue_stats(queue_num: int) -> dict[str, int]:
    """/proc/net/netfilter/nfnetlink_queue: packets the kernel itself dropped (queue full, no reader)."""
    try:
        for line in open("/proc/net/netfilter/nfnetlink_queue").read().splitlines():
            f = line.split()
            if int(f[0]) == queue_num:
                return {"waiting": int(f[2]), "queue_dropped": int(f[5]), "user_dropped": int(f[6]),
                        "last_id": int(f[7])}
    except (OSError, ValueError, IndexError):
        pass
    return {}


class Impairer:
    """The impairer in its own process (so the browser driver cannot starve it), plus its iptables rules."""

    def __init__(self, impairment: Impairment, server_udp: range, http_port: int, queue_num: int = 0,
                 seed: int | None = None) -> None:
        self.impairment = impairment
        self.server_udp = server_udp
        self.http_port = http_port
        self.queue_num = queue_num
        self.seed = seed
        self._proc: subprocess.Popen[bytes] | None = None
        self._rules: list[list[str]] = []

    def __enter__(self) -> Impairer:
        if not in_private_netns():
            raise RuntimeError("refusing to impair this namespace's loopback: run inside reexec_in_private_netns")
        u = self.server_udp
        args = [sys.executable, "-m", "benchmarks.netimpair", json.dumps(
            {"impairment": asdict(self.impairment), "server_udp": [u.start, u.stop], "http_port": self.http_port,
             "queue": self.queue_num, "seed": self.seed})]
        self._proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT)
        try:
            self._read(20)
            q = ["-j", "NFQUEUE", "--queue-num", str(self.queue_num)]
            self._rules = [["OUTPUT", "-o", "lo", "-p", "udp", *q],
                           ["OUTPUT", "-o", "lo", "-p", "tcp", "--dport", str(self.http_port), *q],
                           ["OUTPUT", "-o", "lo", "-p", "tcp", "--sport", str(self.http_port), *q]]
            for rule in self._rules:
                _iptables("-A", rule)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        for rule in self._rules:
            _iptables("-D", rule, check=False)
        self._rules = []
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            try:
                self._write(proc, {"cmd": "stop"})
                proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait(5)

    def set(self, impairment: Impairment) -> None:
        self.impairment = impairment
        self._send({"cmd": "set", "impairment": asdict(impairment)})

    def block(self, ports: Iterable[int], seconds: float) -> None:
        self._send({"cmd": "block", "ports": sorted(ports), "seconds": seconds})

    def stats(self) -> dict[str, Any]:
        self._send({"cmd": "stats"})
        return self._read(10)

    def _send(self, cmd: dict[str, Any]) -> None:
        assert self._proc is not None, "use Impairer as a context manager"
        self._write(self._proc, cmd)

    @staticmethod
    def _write(proc: subprocess.Popen[bytes], cmd: dict[str, Any]) -> None:
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(cmd).encode() + b"\n")
        proc.stdin.flush()

    def _read(self, timeout: float) -> dict[str, Any]:
        import select

        assert self._proc is not None and self._proc.stdout is not None
        ready, _, _ = select.select([self._proc.stdout], [], [], timeout)
        line = self._proc.stdout.readline() if ready else b""
        if not line:
            raise RuntimeError(f"the impairer process is not answering (exit status {self._proc.poll()})")
        return json.loads(line)


def _iptables(action: str, rule: list[str], check: bool = True) -> None:
    """iptables (nf_tables backend), else iptables-legacy: both carry the xt NFQUEUE target."""
    errors = []
    for binary in ("iptables", "iptables-legacy"):
        path = shutil.which(binary) or (f"/usr/sbin/{binary}" if os.path.exists(f"/usr/sbin/{binary}") else None)
        if path is None:
            continue
        done = subprocess.run([path, "-w", action, *rule], capture_output=True, text=True)
        if done.returncode == 0:
            return
        errors.append(f"{binary}: {done.stderr.strip()}")
    if check:
        raise RuntimeError("cannot install the NFQUEUE rule (apt-get install iptables): " + "; ".join(errors or ["no iptables"]))


def in_private_netns() -> bool:
    """True only inside a namespace this module created (never the machine's own `lo`)."""
    if os.environ.get(NETNS_ENV) != "1":
        return False
    try:
        return os.readlink("/proc/self/ns/net") != os.readlink("/proc/1/ns/net")
    except OSError:  # /proc/1 unreadable (rootless): trust the variable set by enter_private_netns
        return True


def netns_problem() -> str | None:
    """Why this machine cannot run the impairer, or None."""
    if not sys.platform.startswith("linux"):
        return "needs Linux (network namespaces, NFQUEUE)"
    if shutil.which("unshare") is None:
        return "needs unshare (util-linux)"
    if not any(shutil.which(b) or os.path.exists(f"/usr/sbin/{b}") for b in ("iptables", "iptables-legacy")):
        return "needs iptables (apt-get install iptables)"
    probe = subprocess.run(_unshare_prefix() + ["true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot create a network namespace: {probe.stderr.strip()}"
    return None


def _unshare_prefix() -> list[str]:
    return ["unshare", "--net"] if os.geteuid() == 0 else ["unshare", "--user", "--map-root-user", "--net"]


def reexec_in_private_netns(argv: Sequence[str], cwd: Path = ROOT) -> int:
    """Run `python argv...` in a fresh network namespace with only `lo` (up, IPv6 off); its exit status."""
    script = ("ip link set lo up && (echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6) 2>/dev/null; "
              'exec "$@"')
    env = dict(os.environ, **{NETNS_ENV: "1"})
    return subprocess.call(_unshare_prefix() + ["sh", "-c", script, "sh", sys.executable, *argv], env=env, cwd=cwd)


def selftest(impairment: Impairment, packets: int = 2000) -> dict[str, Any]:
    """UDP through one hop (client → server port) and two hops (client → client), measured at the receivers."""
    import threading

    with Impairer(impairment, range(20000, 20200), 8080, seed=1) as imp:
        server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        server.bind(("127.0.0.1", 20001))
        peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        peer.bind(("127.0.0.1", 0))
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sender.bind(("127.0.0.1", 0))
        delays: dict[str, list[float]] = {"one_hop": [], "two_hops": []}

        def receive(sock: socket.socket, out: list[float]) -> None:
            sock.settimeout(0.5 + 2 * impairment.delay_ms / 1000)
            try:
                while True:
                    sent = float(sock.recv(64))
                    out.append(time.monotonic() - sent)
            except TimeoutError:
                pass

        threads = [threading.Thread(target=receive, args=(server, delays["one_hop"])),
                   threading.Thread(target=receive, args=(peer, delays["two_hops"]))]
        for t in threads:
            t.start()
        for _ in range(packets):
            sender.sendto(repr(time.monotonic()).encode(), ("127.0.0.1", 20001))
            sender.sendto(repr(time.monotonic()).encode(), peer.getsockname())
            time.sleep(0.0005)
        for t in threads:
            t.join()
        stats = imp.stats()
    return {
        name: {"loss": 1 - len(d) / packets, "delay_ms": 1000 * sum(d) / len(d) if d else None,
               "min_ms": 1000 * min(d, default=0), "max_ms": 1000 * max(d, default=0)}
        for name, d in delays.items()
    } | {"impairer": summarize(stats), "kernel": stats["kernel"], "priority": stats["priority"]}


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m benchmarks.netimpair selftest [LOSS_FRACTION DELAY_MS]`: check the mechanism on this machine
    (prints JSON); `python -m benchmarks.netimpair CONFIG_JSON`: the impairer process `Impairer` starts."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["selftest"]:
        if not in_private_netns():
            problem = netns_problem()
            if problem:
                print(json.dumps({"error": problem}))
                return 2
            return reexec_in_private_netns(["-m", "benchmarks.netimpair", *args])
        loss, delay = (float(args[1]), float(args[2])) if len(args) >= 3 else (0.05, 20.0)
        print(json.dumps(selftest(Impairment(loss, delay))))
        return 0
    cfg = json.loads(args[0])
    first, stop = cfg["server_udp"]
    serve(Impairment(**cfg["impairment"]), [range(first, stop), range(cfg["http_port"], cfg["http_port"] + 1)],
          cfg["queue"], cfg["seed"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
