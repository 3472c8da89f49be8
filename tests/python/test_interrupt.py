"""Ctrl-C during a long solve: KeyboardInterrupt in Python (the SIGINT handler in force runs), and the process goes on
cleanly (the library's interrupt is cleared, so the next solve runs)."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

SCRIPT = textwrap.dedent("""
    import signal, sys, time
    import numpy as np
    import pushpull
    class Stop(Exception):
        pass
    def handler(signum, frame):
        raise Stop()
    signal.signal(signal.SIGINT, handler if sys.argv[2] == "custom" else signal.default_int_handler)
    m = pushpull.load_model(sys.argv[1])
    x = np.random.default_rng(0).standard_normal((1000000, 2))
    print("started", flush=True)
    start = time.monotonic()
    try:
        pushpull.density(m, x, ode_type="dopri5", ode_rtol=1e-10, ode_atol=1e-12, batch_size=4, threads=int(sys.argv[3]))
        print("finished without interrupt", flush=True)
    except (KeyboardInterrupt, Stop) as e:
        print(f"{type(e).__name__} after {time.monotonic() - start:.2f} s", flush=True)
    r = pushpull.density(m, x[:8], ode_type="dopri5")
    print("after", int(r.ok.all()), flush=True)
""")


@pytest.mark.parametrize("handler,raised,threads",
                         [("default", "KeyboardInterrupt", 2), ("default", "KeyboardInterrupt", 1), ("custom", "Stop", 2)])
def test_sigint_raises_the_handlers_exception(flow_file, tmp_path, handler, raised, threads):
    """The Python SIGINT handler in force decides what is raised: KeyboardInterrupt, or a custom handler's own."""
    script = tmp_path / "long_solve.py"
    script.write_text(SCRIPT)
    p = subprocess.Popen([sys.executable, str(script), str(flow_file), handler, str(threads)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        assert p.stdout.readline().strip() == "started"
        time.sleep(1.0)  # well inside the solve (1000000 points take about 40 s uninterrupted)
        sent = time.monotonic()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
        stopped = time.monotonic() - sent
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"{raised} after"), out + err
    assert lines[1] == "after 1", out + err
    assert stopped < 10, f"took {stopped:.1f} s to stop"


VALIDATE_SCRIPT = textwrap.dedent("""
    import time
    import pushpull
    print("started", flush=True)
    start = time.monotonic()
    try:
        pushpull.validate(level="quick")
        print("finished without interrupt", flush=True)
    except KeyboardInterrupt:
        print(f"KeyboardInterrupt after {time.monotonic() - start:.2f} s", flush=True)
    print("after", int(pushpull.validate(validate_cases="OT-exact").passed), flush=True)
""")


def test_sigint_stops_validate(tmp_path):
    """pushpull.validate (about 25 s at level quick) stops on Ctrl-C with KeyboardInterrupt; the next run is clean."""
    script = tmp_path / "long_validate.py"
    script.write_text(VALIDATE_SCRIPT)
    p = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=os.environ.copy())
    try:
        assert p.stdout.readline().strip() == "started"
        time.sleep(1.0)
        sent = time.monotonic()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
        stopped = time.monotonic() - sent
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("KeyboardInterrupt after"), out + err
    assert lines[1] == "after 1", out + err
    assert stopped < 10, f"took {stopped:.1f} s to stop"
