"""``skystream alerts generate`` and ``show`` on files (no stack needed)."""

from pathlib import Path

import fastavro
import pytest

from skystream.alerts.schema_files import sample_alert_path
from skystream.alerts.wire import encode_alert
from skystream.cli import main
from skystream.devtools.generator import generate_alerts


def test_generate_writes_a_container_file_that_show_reads(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "alerts.avro"
    assert main(["alerts", "generate", "--count", "7", "--seed", "3", "--schema", "10.0", "--out", str(out)]) == 0
    with out.open("rb") as f:
        alerts = list(fastavro.reader(f))
    assert alerts == generate_alerts(7, seed=3, schema_version="10.0")
    capsys.readouterr()
    assert main(["alerts", "show", str(out), "--limit", "2"]) == 0
    text = capsys.readouterr().out
    assert text.count("schema 10.0") == 2
    assert f"diaObjectId {alerts[0]['diaObject']['diaObjectId']}" in text
    assert "objects row (non-NULL columns)" in text and "htm16" in text


def test_show_reads_json_lines_a_wire_message_and_the_upstream_sample(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture) -> None:
    lines = tmp_path / "alerts.jsonl"
    assert main(["alerts", "generate", "--count", "3", "--out", str(lines)]) == 0
    wire = tmp_path / "one.bin"
    wire.write_bytes(encode_alert(generate_alerts(1, seed=4)[0]))
    capsys.readouterr()
    assert main(["alerts", "show", str(lines)]) == 0
    assert capsys.readouterr().out.count("schema 11.1") == 3
    assert main(["alerts", "show", str(wire), "--json"]) == 0
    assert '"schema_version": "11.1"' in capsys.readouterr().out
    assert main(["alerts", "show", str(sample_alert_path("11.0"))]) == 0
    assert "diaObjectId 281323062375219201" in capsys.readouterr().out


def test_a_bad_file_gives_one_clear_error_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"\x07garbage")
    assert main(["alerts", "show", str(bad)]) == 1
    assert "wrong magic byte 0x07" in capsys.readouterr().err
