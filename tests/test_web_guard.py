"""The server limits' own rules (assistant/web_guard.py), without a server: which Host names
are answered, the warning beyond loopback, log lines cut, the waiting line served
round-robin, temporary folders of killed servers recognised. The server itself is
probed in test_server_limits.py."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from assistant.web_guard import (LOOPBACK_NAMES, LineLimit, QueueGuard, TempFolder, _host_name, exposure_warning,
                                 host_allow_list, is_loopback)


def test_loopback_addresses_are_recognised():
    assert all(is_loopback(host) for host in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"))
    assert not any(is_loopback(host) for host in ("0.0.0.0", "::", "192.168.1.5", "plan.example.org"))


def test_host_header_names_are_compared_without_port_case_or_final_dot():
    assert _host_name("Plan.Example.org:7860") == "plan.example.org"
    assert _host_name("[::1]:7860") == "::1" and _host_name("::1") == "::1"
    assert _host_name("localhost.") == "localhost"


def test_host_allow_list_by_where_the_server_listens():
    assert host_allow_list("127.0.0.1", "") == LOOPBACK_NAMES  # loopback: loopback names only
    assert host_allow_list("0.0.0.0", "") is None  # beyond loopback, nothing configured: any name
    assert host_allow_list("0.0.0.0", " plan.example.org, Other.example:80 ") == LOOPBACK_NAMES | {
        "plan.example.org", "other.example"}
    assert host_allow_list("192.168.1.5", "plan.example.org") == LOOPBACK_NAMES | {"plan.example.org", "192.168.1.5"}


def test_warning_only_beyond_loopback():
    assert exposure_warning("127.0.0.1", 7860, LOOPBACK_NAMES) is None
    anyone = exposure_warning("0.0.0.0", 7860, None)
    assert anyone.startswith("warning: ") and "other machines" in anyone and "ASSISTANT_ALLOWED_HOSTS" in anyone
    assert "plan.example.org" in exposure_warning("0.0.0.0", 80, LOOPBACK_NAMES | {"plan.example.org"})


def test_log_lines_are_cut_at_the_limit():
    out = io.StringIO()
    stream = LineLimit(out, limit=10)
    stream.write("short\n" + "x" * 50)
    stream.write("y" * 50 + "\nnext line\n")
    lines = out.getvalue().splitlines()
    assert lines[0] == "short" and lines[1].startswith("x" * 10 + " …(cut") and "y" not in lines[1]
    assert lines[2] == "next line"


def test_waiting_line_is_served_round_robin_across_addresses():
    def event(client: str, n: int):
        return SimpleNamespace(request=SimpleNamespace(client=SimpleNamespace(host=client)), session_hash="s",
                               name=f"{client}{n}")

    queue = SimpleNamespace(active_jobs=[[event("a", 0)], None], push=None)
    guard = QueueGuard(SimpleNamespace(_queue=queue), per_client=50)
    waiting = [event("a", n) for n in range(1, 5)] + [event("b", 1), event("c", 1), event("b", 2)]
    guard._round_robin(waiting)
    # a has one running, so its first waiting question comes after b's and c's first.
    assert [e.name for e in waiting] == ["b1", "c1", "a1", "b2", "a2", "a3", "a4"]


def test_temporary_folder_of_a_killed_server_is_removed_at_the_next_start(tmp_path):
    killed = subprocess.run([sys.executable, "-c", (
        "import os, sys; from pathlib import Path; from assistant.web_guard import TempFolder;"
        "folder = TempFolder(Path(sys.argv[1])); (folder.path / 'file').write_text('x');"
        "os.kill(os.getpid(), 9)"), str(tmp_path)], cwd=os.path.dirname(os.path.dirname(__file__)))
    assert killed.returncode == -9 and len(list(tmp_path.iterdir())) == 1
    running = TempFolder(tmp_path)
    assert list(tmp_path.iterdir()) == [running.path]  # the killed one's is gone; a running one's stays
    TempFolder(tmp_path).remove()
    assert list(tmp_path.iterdir()) == [running.path]
    running.remove()
    assert not list(tmp_path.iterdir())


def test_a_limit_that_is_not_a_number_is_one_line(monkeypatch):
    from assistant.faults import BadSetting
    from assistant.web_guard import ServerLimits

    monkeypatch.setenv("ASSISTANT_SESSION_IDLE_SECONDS", "an hour")
    with pytest.raises(BadSetting) as error:
        ServerLimits.from_env()
    message = str(error.value)
    assert error.value.status == 2 and "\n" not in message and "ASSISTANT_SESSION_IDLE_SECONDS" in message
