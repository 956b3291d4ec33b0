#!/usr/bin/python3
"""python3-libvirt side of virtkit's benchmark (driven by dist/bench/run.js).

Run with Debian's interpreter, /usr/bin/python3 (the one python3-libvirt is installed for):

    /usr/bin/python3 bench/pylibvirt.py '{"uri": "test:///default", "op": "lookupInfo",
        "domain": "test", "concurrency": 1, "warmup": 200, "warmupMs": 500,
        "iterations": 20000, "timeMs": 2500}'

Performs one operation the same way run.ts does for virtkit and prints one JSON object on
stdout: {"samplesNs": [latency of each measured op], "wallNs": wall time of the measured
phase, "n": ..., "error": null | "message", "python": ..., "libvirt": ...}. Statistics are
computed by run.ts, so both bindings are summarised by the same code.

With "eventLoop": true, libvirt's default event loop runs on a thread first (see
start_event_loop), the configuration virtkit always runs in.

Operations (op):
  connect     libvirt.open(uri) then conn.close()
  lookupInfo  conn.lookupByName(domain).info()
  getXML      dom.XMLDesc(0) on a domain looked up once
  type        conn.getType()
  listVolumes storage target: one op lists every volume of pool "pool" with its info and path,
              the way Python code does it: pool.listAllVolumes(), then vol.name(), vol.info()
              and vol.path() for each, in order (or with "innerThreads": N, on N threads of a
              ThreadPoolExecutor over one connection, executor.map). "expect": the volume
              count every listing must return.
  listDomainsState  domains target: conn.listAllDomains(0), then d.name() and d.state()
              for each, in order ("expect": the domain count).
  allDomainStatsState  conn.getAllDomainStats(VIR_DOMAIN_STATS_STATE): one call.

With concurrency > 1 the operation runs on that many threads of one ThreadPoolExecutor,
sharing one connection (closed loop: each thread starts its next op when the last one ends),
the way libvirt-python code usually fans out. libvirt-python releases the GIL around every
libvirt call. Warm-up runs on the same threads first. Every loop is bounded by a count and
by a deadline.
"""
import itertools
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import libvirt


def phase(fn, n, ms, concurrency, executor):
    """Runs fn up to n times or until ms have passed, on `concurrency` workers.
    Returns (samples in ns, wall ns, error or None)."""
    deadline = time.perf_counter_ns() + int(ms * 1e6)
    counter = itertools.count()  # next() on it is atomic under the GIL
    errors = []
    clock = time.perf_counter_ns

    def worker():
        local = []
        append = local.append
        while not errors:
            if next(counter) >= n or clock() >= deadline:
                break
            t0 = clock()
            try:
                fn()
            except Exception as e:  # libvirtError, or a listing of the wrong size
                errors.append(str(e))
                break
            append(clock() - t0)
        return local

    t0 = clock()
    if concurrency == 1:
        samples = worker()
    else:
        futures = [executor.submit(worker) for _ in range(concurrency)]
        samples = []
        for f in futures:
            samples.extend(f.result())
    wall = clock() - t0
    return samples, wall, (errors[0] if errors else None)


def start_event_loop():
    """libvirt's default event loop on a daemon thread, as virtkit runs it (and as Python code
    that wants keepalive or domain events must). Registered before any connection is opened."""
    libvirt.virEventRegisterDefaultImpl()

    def loop():
        while True:
            libvirt.virEventRunDefaultImpl()

    threading.Thread(target=loop, name="libvirt-event-loop", daemon=True).start()


def main():
    spec = json.loads(sys.argv[1])
    uri = spec["uri"]
    op = spec["op"]
    name = spec.get("domain")
    conc = int(spec.get("concurrency", 1))
    # Keep libvirt's default handler from printing every error on stderr; errors still raise.
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    if spec.get("eventLoop"):
        start_event_loop()

    out = {
        "python": sys.version.split()[0],
        "libvirt": libvirt.getVersion(),
        "samplesNs": [],
        "wallNs": 0,
        "n": 0,
        "error": None,
    }
    conn = None
    executor = ThreadPoolExecutor(max_workers=conc) if conc > 1 else None
    lister = None
    try:
        if op == "connect":
            def fn():
                libvirt.open(uri).close()
        else:
            conn = libvirt.open(uri)
            if op == "lookupInfo":
                def fn():
                    conn.lookupByName(name).info()
            elif op == "getXML":
                dom = conn.lookupByName(name)

                def fn():
                    dom.XMLDesc(0)
            elif op == "type":
                fn = conn.getType
            elif op == "listVolumes":
                pool = conn.storagePoolLookupByName(spec["pool"])
                expect = spec.get("expect")
                inner = int(spec.get("innerThreads", 1))
                if inner > 1:
                    lister = ThreadPoolExecutor(max_workers=inner)

                def row(vol):
                    _type, capacity, allocation = vol.info()
                    return (vol.name(), capacity, allocation, vol.path())

                def fn():
                    vols = pool.listAllVolumes(0)
                    rows = list(lister.map(row, vols)) if lister else [row(v) for v in vols]
                    if expect is not None and len(rows) != expect:
                        raise RuntimeError("listed %d volumes, expected %d" % (len(rows), expect))
            elif op == "listDomainsState":
                expect = spec.get("expect")

                def fn():
                    rows = [(d.name(), d.state()) for d in conn.listAllDomains(0)]
                    if expect is not None and len(rows) != expect:
                        raise RuntimeError("listed %d domains, expected %d" % (len(rows), expect))
            elif op == "allDomainStatsState":
                expect = spec.get("expect")

                def fn():
                    rows = conn.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_STATE, 0)
                    if expect is not None and len(rows) != expect:
                        raise RuntimeError("listed %d domains, expected %d" % (len(rows), expect))
            else:
                raise ValueError("unknown op %r" % op)

        _, _, err = phase(fn, spec["warmup"], spec["warmupMs"], conc, executor)
        if err is None:
            samples, wall, err = phase(fn, spec["iterations"], spec["timeMs"], conc, executor)
            out.update(samplesNs=samples, wallNs=wall, n=len(samples))
        out["error"] = err
    except libvirt.libvirtError as e:
        out["error"] = str(e)
    finally:
        for pool_executor in (executor, lister):
            if pool_executor is not None:
                pool_executor.shutdown(wait=True)
        if conn is not None:
            try:
                conn.close()
            except libvirt.libvirtError:
                pass
    json.dump(out, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
