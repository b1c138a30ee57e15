"""The command line a user drives: users add, filter create/list/show/run/delete over the API, consume with plots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_filter_streams import seed_objects

from skystream.cli import main as cli
from skystream.devtools.generator import generate_alerts
from skystream.local.processes import free_port
from skystream.local.testing import EphemeralStack


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """The command's exit code, output and errors. The API function hosted in this process prints its
    metrics and logs to the same stdout (one EMF or log JSON line each, as Lambda logs them): not the command's.
    (So do the services a command runs in-process, e.g. issuing stream credentials.)"""
    code = cli(list(argv))
    out = capsys.readouterr()
    return code, command_output(out.out), out.err


def command_output(printed: str) -> str:
    """What a command printed, without the lines of the functions hosted in this process (EMF metrics and
    JSON log lines, which their threads may print at any moment)."""
    return "".join(line for line in printed.splitlines(keepends=True) if not line.startswith(('{"_aws"', '{"level"')))


def test_a_user_works_with_filters_and_streams_from_the_command_line(
    stack: EphemeralStack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    alerts = generate_alerts(20, seed=31)
    seed_objects(alerts)
    port = free_port()
    host = stack.host(only={"filter_api"}, api_port=port).start()
    try:
        code, out, _ = run(capsys, "users", "add", "Ada", "ada@example.org")
        assert code == 0 and out.startswith("user 1 (Ada <ada@example.org>)")
        token = next(line.split()[1] for line in out.splitlines() if line.startswith("token "))
        monkeypatch.setenv("SKYSTREAM_API_URL", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("SKYSTREAM_TOKEN", token)

        code, out, _ = run(capsys, "filter", "create", "--name", "lite one", "--output", "kafka_lite", "--on-alert",
                           "--selected", "objects.diaObjectId, objects.nDiaSources", "--tables", "objects",
                           "--conditions", "objects.nDiaSources >= 2", "--json")
        saved = json.loads(out)
        fid, topic = saved["filter"]["filter_id"], saved["topic"]
        expected = min(10, sum(a["diaObject"]["nDiaSources"] >= 2 for a in alerts))
        assert code == 0 and topic == "lasair_1liteone" and saved["reseeded"] == expected >= 3

        code, out, _ = run(capsys, "filter", "list")
        assert code == 0 and fid in out and "lite one" in out and "kafka_lite" in out
        code, out, _ = run(capsys, "filter", "show", fid)
        assert code == 0 and "WHERE objects.nDiaSources >= 2" in out and f"topic: {topic}" in out
        code, out, _ = run(capsys, "filter", "run", fid, "--limit", "3")
        assert code == 0 and len([ln for ln in out.splitlines() if ln.startswith("{")]) == 3
        assert "3 row(s) from the 20 most recent objects" in out

        # the user's stream credentials, issued by an administrator's command (shown once)
        code, out, _ = run(capsys, "users", "kafka-credentials", "1", "--json")
        credentials = json.loads(out)
        assert code == 0 and credentials["username"] == "user-1" and credentials["security_protocol"] == "SASL_PLAINTEXT"
        monkeypatch.setenv("SKYSTREAM_KAFKA_USERNAME", credentials["username"])
        monkeypatch.setenv("SKYSTREAM_KAFKA_PASSWORD", credentials["password"])

        plots = tmp_path / "plots"
        code, out, err = run(capsys, "consume", topic, "--group", "g1", "--max", "2", "--plot", str(plots))
        assert code == 0 and out.count("===") == 2 and "2 record(s) read" in out, (out[-3000:], err[-3000:])
        pngs = sorted(plots.glob("*.png"))
        assert len(pngs) == 2 and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
        assert f"lightcurve plotted to {pngs[0]}" in out or f"lightcurve plotted to {pngs[1]}" in out
        # the same group resumes after the two it has read
        code, out, _ = run(capsys, "consume", topic, "--group", "g1", "--timeout", "4")
        assert code == 0 and out.count("===") == expected - 2

        code, out, _ = run(capsys, "filter", "delete", fid)
        assert code == 0 and f"deleted filter {fid} and its topic {topic}" in out
        code, out, _ = run(capsys, "consume", topic, "--group", "g2", "--timeout", "4")
        assert code == 0 and "UNKNOWN_TOPIC_OR_PART" in out and f"there is no topic {topic}" in out
        code, _, err = run(capsys, "filter", "show", fid)
        assert code == 1 and "HTTP 404" in err and "no filter" in err
        # without the password, consume fails at once, saying why
        monkeypatch.delenv("SKYSTREAM_KAFKA_USERNAME")
        code, _, err = run(capsys, "consume", topic, "--group", "g3", "--timeout", "4")
        assert code == 1 and "need your stream credentials" in err
        monkeypatch.delenv("SKYSTREAM_TOKEN")
        code, _, err = run(capsys, "filter", "list")
        assert code == 1 and "SKYSTREAM_TOKEN" in err
    finally:
        host.stop()
