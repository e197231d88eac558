"""Measures start-up time and idle memory of Coldlink's release app and of Electrum, in the
same run, under a private Xvfb display. Prints medians and Coldlink/Electrum ratios.

Window mapped: first time a visible X window belongs to the process (xdotool, polled every
5 ms). First render: the app's own "first render" line on stderr, timed from launch here.
Idle PSS: /proc/PID/smaps_rollup summed over the process and all its descendants (the WebKit
web and network processes for Coldlink), 5 s after the window mapped.
"""

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def children(pid):
    """All descendants of pid."""
    kids = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            kids.setdefault(ppid, []).append(int(entry))
        except (OSError, IndexError, ValueError):
            pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c in kids.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_pss_mib(pid):
    return sum(pss_kib(p) for p in [pid] + children(pid)) / 1024


def visible_window(pids, env):
    for p in pids:
        r = subprocess.run(
            ["xdotool", "search", "--onlyvisible", "--pid", str(p)],
            env=env, capture_output=True, text=True,
        )
        if r.stdout.strip():
            return True
    return False


_display = [200 + os.getpid() % 200]


def measure(cmd, env, ready_marker=None, idle=5.0, limit=30.0):
    """Launches cmd on a fresh Xvfb of its own (so a crash of the X server in one run, seen
    with GPU compositing on, cannot spoil the next); returns (mapped_s, rendered_s or None,
    idle_pss_mib)."""
    _display[0] += 1
    display = f":{_display[0]}"
    xvfb = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    try:
        return _measure(cmd, dict(env, DISPLAY=display), ready_marker, idle, limit)
    finally:
        xvfb.terminate()
        xvfb.wait()


def _measure(cmd, env, ready_marker, idle, limit):
    rendered = {}
    tail = []
    t0 = time.monotonic()
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )

    def read_stderr():
        for line in proc.stderr:
            tail.append(line.rstrip())
            del tail[:-5]
            if ready_marker and ready_marker in line and "t" not in rendered:
                rendered["t"] = time.monotonic() - t0

    threading.Thread(target=read_stderr, daemon=True).start()
    mapped = None
    try:
        while time.monotonic() - t0 < limit:
            if visible_window([proc.pid] + children(proc.pid), env):
                mapped = time.monotonic() - t0
                break
            time.sleep(0.005)
        if mapped is None:
            raise RuntimeError(
                f"no window from {cmd[0]} within {limit} s (exit status {proc.poll()}); "
                f"last stderr: {' | '.join(tail) or 'none'}")
        if ready_marker:
            while "t" not in rendered and time.monotonic() - t0 < limit:
                time.sleep(0.005)
        time.sleep(idle)
        pss = tree_pss_mib(proc.pid)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=5)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        time.sleep(1.5)  # let WebKit children go before the next run
    return mapped, rendered.get("t"), pss


def attempt(cmd, env, marker=None):
    """One measurement, tried twice; a run that fails both times is reported and left out."""
    for _ in range(2):
        try:
            return measure(cmd, env, marker)
        except RuntimeError as e:
            print(f"warning: {e}", file=sys.stderr)
    print("warning: run left out", file=sys.stderr)
    return (None, None, None)


def main():
    app, runs = sys.argv[1], int(sys.argv[2])
    seeded = sys.argv[3] if len(sys.argv) > 3 else None
    # Throwaway app data and WebKit storage: never the developer's own.
    scratch = tempfile.mkdtemp(prefix="coldlink-bench-startup-")
    env = dict(os.environ, COLDLINK_SPECULOS="off", COLDLINK_TREZOR_EMULATOR="off",
               NO_AT_BRIDGE="1", XDG_DATA_HOME=os.path.join(scratch, "xdg"),
               COLDLINK_DATA_DIR=os.path.join(scratch, "empty"),
               COLDLINK_PRICES_URL="http://127.0.0.1:9")
    # The seeded portfolio (scripts/bench-startup fills it): its "local" network is first in
    # the list, and nothing answers on the network, so what shows comes from the cache.
    penv = dict(env, COLDLINK_DATA_DIR=seeded or "",
                COLDLINK_EVM_RPC="http://127.0.0.1:9#31337")
    results = {"coldlink": [], "coldlink_gpu": [], "electrum": [], "portfolio": []}
    electrum = shutil.which("electrum")
    for i in range(runs):
        results["coldlink"].append(attempt([app], env, "first render"))
        if seeded:
            results["portfolio"].append(attempt([app], penv, "portfolioData"))
        # Same app with WebKit's GPU compositing left on: what the default saves.
        results["coldlink_gpu"].append(
            attempt([app], dict(env, COLDLINK_GPU="1"), "first render"))
        if electrum:
            with tempfile.TemporaryDirectory() as d:
                results["electrum"].append(attempt([electrum, "--offline", "-D", d], env))
        print(f"run {i + 1}/{runs} done", file=sys.stderr)

    def med(name, k):
        vals = [r[k] for r in results[name] if r[k] is not None]
        return statistics.median(vals) if vals else None

    size = os.path.getsize(app) / 1e6
    c_map, c_ren, c_pss = (med("coldlink", k) for k in range(3))
    print(f"Coldlink release binary: {size:.1f} MB")
    print(f"{'median of ' + str(runs):<22}{'Coldlink':>12}{'Electrum':>12}{'ratio':>9}")
    e_map, e_pss = med("electrum", 0), med("electrum", 2)

    def row(label, c, e, unit, fmt):
        ratio = f"{c / e:.2f}" if (c is not None and e) else "-"
        es = fmt.format(e) + unit if e is not None else "n/a"
        print(f"{label:<22}{fmt.format(c) + unit:>12}{es:>12}{ratio:>9}")

    row("window mapped", c_map * 1000, e_map * 1000 if e_map else None, " ms", "{:.0f}")
    row("first page rendered", c_ren * 1000, None, " ms", "{:.0f}")
    row("idle PSS after 5 s", c_pss, e_pss, " MiB", "{:.0f}")
    if seeded:
        _, p_ren, p_pss = (med("portfolio", k) for k in range(3))
        if p_ren is not None:
            beside = f" (Electrum's: {e_pss:.0f} MiB)" if e_pss else ""
            print(f"portfolio of the seeded data ({os.path.basename(seeded)}): drawn from the "
                  f"cache {p_ren * 1000:.0f} ms after launch (target < 1000 ms; "
                  f"{p_ren / c_ren:.2f}× the empty app's first page); idle PSS "
                  f"{p_pss:.0f} MiB{beside}")
        else:
            print("portfolio of the seeded data: never drawn (see warnings)")
    g_map, g_ren, g_pss = (med("coldlink_gpu", k) for k in range(3))
    print(f"with GPU compositing on (COLDLINK_GPU=1): mapped {g_map * 1000:.0f} ms, "
          f"rendered {g_ren * 1000:.0f} ms, idle PSS {g_pss:.0f} MiB "
          f"(default/GPU PSS ratio {c_pss / g_pss:.2f})")


if __name__ == "__main__":
    main()
