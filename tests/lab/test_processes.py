"""The lab only signals processes it owns, and stopping a group leaves nothing behind."""

import subprocess
import sys

from lab import processes
from lab.processes import Record, StateFile

CHILD = (
    "import subprocess, sys, time; "
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"
)


def test_stop_ends_the_whole_group(tmp_path):
    rec = processes.spawn("t", [sys.executable, "-c", CHILD], {}, tmp_path / "t.log", owner="abc")
    try:
        from tests.conftest import wait_for

        wait_for(lambda: len(processes.members(rec)) == 2)  # the leader and its child
        assert processes.stop(rec, timeout=5)
        assert processes.members(rec) == []
    finally:
        processes.reap(rec)


def test_a_process_we_do_not_own_is_never_signalled(tmp_path):
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True)
    try:
        forged = Record("x", stranger.pid, stranger.pid, owner="not-its-owner", log="", cmd=[], start_ticks=1)
        assert processes.members(forged) == []
        assert processes.stop(forged, timeout=1) is False
        assert stranger.poll() is None  # still running
    finally:
        stranger.kill()
        stranger.wait()


def test_state_file_round_trip(tmp_path):
    state = StateFile(tmp_path / "s.json")
    rec = Record("redis", 1, 1, "o", "log", ["redis-server"], 5)
    state.write([rec])
    assert state.read() == [rec]
    state.clear()
    assert state.read() == []


def test_pinning_a_spawned_group_and_pinning_it_back(tmp_path):
    import os

    import pytest

    from tests.conftest import wait_for

    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        pytest.skip("pinning needs two cores to show")
    born_pinned = processes.spawn("a", [sys.executable, "-c", CHILD], {}, tmp_path / "a.log", "pa", cpus={cores[-1]})
    free = processes.spawn("b", [sys.executable, "-c", CHILD], {}, tmp_path / "b.log", owner="pb")
    try:
        wait_for(lambda: len(processes.members(born_pinned)) == 2 and len(processes.members(free)) == 2)
        # Spawned on a core: the leader and the child it started later both stay there.
        assert all(os.sched_getaffinity(pid) == {cores[-1]} for pid in processes.members(born_pinned))
        assert processes.pin([free], {cores[0]}) >= 2
        assert all(os.sched_getaffinity(pid) == {cores[0]} for pid in processes.members(free))
        processes.pin([free], set(cores))
        assert all(os.sched_getaffinity(pid) == set(cores) for pid in processes.members(free))
    finally:
        for rec in (born_pinned, free):
            processes.stop(rec, timeout=5)
            processes.reap(rec)


def test_cpu_seconds_counts_the_group_its_children_included(tmp_path):
    from tests.conftest import wait_for

    # A leader that waits and a child that burns CPU until told to stop: the reading grows with the child's work.
    burner = "import time\nend = time.process_time() + 0.5\nwhile time.process_time() < end: pass\ntime.sleep(60)"
    code = f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {burner!r}]); time.sleep(60)"
    rec = processes.spawn("c", [sys.executable, "-c", code], {}, tmp_path / "c.log", owner="pc")
    try:
        wait_for(lambda: processes.cpu_seconds([rec]) >= 0.5, timeout=30)  # the child's 0.5 s, read from /proc
        assert processes.cpu_seconds([rec]) < 0.5 + 5  # and not the machine's: two interpreters' start-up at most
    finally:
        processes.stop(rec, timeout=5)
        processes.reap(rec)
    assert processes.cpu_seconds([rec]) == 0.0  # nothing left to read
