import configparser
import shlex
import sys

from bionicflow.stack.supervisor import Program, Supervisor


def test_programs_are_rendered_supervised_and_restarted(tmp_path):
    sup = Supervisor(tmp_path)
    sup.write_config([
        Program(name="olap", command=["/usr/bin/python3", "-m", "x", "50%"], directory=tmp_path, user="postgres"),
    ])
    conf = configparser.RawConfigParser()
    conf.read(sup.conf)
    section = conf["program:olap"]
    keeper, service = shlex.split(section["command"].replace("%%", "%")), ["/usr/bin/python3", "-m", "x", "50%"]
    assert section["command"].endswith(" -- /usr/bin/python3 -m x 50%%")  # '%' escaped for supervisord
    # the service runs under its process-tree keeper, which switches to the service's user itself
    assert keeper[:3] == [sys.executable, "-m", "bionicflow.stack.proctree"]
    assert keeper[keeper.index("--") + 1:] == service
    assert keeper[keeper.index("--user") + 1] == "postgres" and "user" not in section
    assert keeper[keeper.index("--state-dir") + 1] == str(tmp_path)
    assert section["stopasgroup"] == "false"  # the keeper forwards the stop signal to the service once
    assert section["autostart"] == "false"  # the launcher starts services in dependency order
    assert section["autorestart"] == "true"
    assert section["stdout_logfile"] == str(tmp_path / "logs" / "olap.log")
    assert conf["unix_http_server"]["chmod"] == "0700"
    assert (sup.conf.stat().st_mode & 0o777) == 0o600


def test_supervisor_is_not_running_without_a_socket(tmp_path):
    assert Supervisor(tmp_path).is_running() is False
    assert Supervisor(tmp_path).states() == {}


def test_every_service_runs_on_utc_whatever_the_hosts_zone(tmp_path):
    sup = Supervisor(tmp_path)
    sup.write_config([Program(name="a", command=["x"], directory=tmp_path),
                      Program(name="b", command=["y"], directory=tmp_path, environment={"JAVA_OPTS": "-Xmx1g"})])
    conf = configparser.RawConfigParser()
    conf.read(sup.conf)
    assert conf["program:a"]["environment"] == 'TZ="UTC"'
    assert conf["program:b"]["environment"] == 'TZ="UTC",JAVA_OPTS="-Xmx1g"'
