import configparser

from bionicflow.stack.supervisor import Program, Supervisor


def test_programs_are_rendered_supervised_and_restarted(tmp_path):
    sup = Supervisor(tmp_path)
    sup.write_config([
        Program(name="olap", command=["/usr/bin/python3", "-m", "x", "50%"], directory=tmp_path, user="postgres"),
    ])
    conf = configparser.RawConfigParser()
    conf.read(sup.conf)
    section = conf["program:olap"]
    assert section["command"] == "/usr/bin/python3 -m x 50%%"  # '%' escaped for supervisord
    assert section["autostart"] == "false"  # the launcher starts services in dependency order
    assert section["autorestart"] == "true"
    assert section["user"] == "postgres"
    assert section["stdout_logfile"] == str(tmp_path / "logs" / "olap.log")
    assert conf["unix_http_server"]["chmod"] == "0700"
    assert (sup.conf.stat().st_mode & 0o777) == 0o600


def test_supervisor_is_not_running_without_a_socket(tmp_path):
    assert Supervisor(tmp_path).is_running() is False
    assert Supervisor(tmp_path).states() == {}
