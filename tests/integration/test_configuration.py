"""The daemons' configuration front door: the example files in deploy/configs pass `-t`,
`-t` output can be fed back as a configuration, and bad settings are refused with a message
that names them. No cluster is needed."""

import json
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
DAEMONS = ["comet", "logic", "job"]


def run(bin_dir, daemon, *arguments):
    return subprocess.run([str(pathlib.Path(bin_dir) / daemon), *arguments],
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("daemon", DAEMONS)
def test_example_config_passes_check(bin_dir, daemon):
    result = run(bin_dir, daemon, "-t", "-conf", str(REPO / "deploy" / "configs" / f"{daemon}.json"))
    assert result.returncode == 0, result.stderr
    json.loads(result.stdout)


@pytest.mark.parametrize("daemon", DAEMONS)
def test_check_output_round_trips(bin_dir, daemon, tmp_path):
    first = run(bin_dir, daemon, "-t", "-redis.timeout", "750ms")
    assert first.returncode == 0, first.stderr
    saved = tmp_path / "dump.json"
    saved.write_text(first.stdout)
    second = run(bin_dir, daemon, "-t", "-conf", str(saved))
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout) == json.loads(first.stdout)
    assert json.loads(second.stdout)["redis.timeout"] == "750ms"


@pytest.mark.parametrize("daemon", DAEMONS)
@pytest.mark.parametrize("arguments, named", [
    (["-redis.timeout", "soon"], "redis.timeout"),
    (["-no.such.setting", "1"], "no.such.setting"),
])
def test_bad_setting_is_refused_by_name(bin_dir, daemon, arguments, named):
    result = run(bin_dir, daemon, "-t", *arguments)
    assert result.returncode != 0
    assert named in result.stderr


@pytest.mark.parametrize("daemon", DAEMONS)
def test_unknown_key_in_file_is_refused(bin_dir, daemon, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"redis": {"adress": "127.0.0.1:6379"}}')
    result = run(bin_dir, daemon, "-t", "-conf", str(bad))
    assert result.returncode != 0
    assert "redis.adress" in result.stderr


def test_check_finds_certificate_lists_of_different_lengths(bin_dir):
    """WSS certificates and keys pair by position; `-t` says so without reading the files."""
    common = ["-t", "-websocket.tlsOpen", "true", "-websocket.privateFile", "k1.pem,k2.pem"]
    mismatched = run(bin_dir, "comet", *common, "-websocket.certFile", "c1.pem")
    assert mismatched.returncode != 0
    assert ("websocket.certFile lists 1 certificate file(s) but websocket.privateFile lists 2"
            in mismatched.stderr), mismatched.stderr
    paired = run(bin_dir, "comet", *common, "-websocket.certFile", "c1.pem,c2.pem")
    assert paired.returncode == 0, paired.stderr


@pytest.mark.parametrize("prefix", ["gusher/", "/gusher", "x"])
def test_gusher_client_prefix_must_start_and_end_with_a_slash(bin_dir, prefix):
    result = run(bin_dir, "comet", "-t", "-gusher.clientPrefix", prefix)
    assert result.returncode != 0
    assert "gusher.clientPrefix: must start and end with '/'" in result.stderr
    for good in ("", "/", "/gcs/"):
        assert run(bin_dir, "comet", "-t", "-gusher.clientPrefix", good).returncode == 0
