"""The Elastic Beanstalk configuration: known option names, and nginx agreeing with the server.

Elastic Beanstalk ignores a misspelt option name, and a config file with an
unknown top-level key is skipped whole, so a typo here deploys an environment
quietly configured otherwise. The allow-list below holds exactly what
.ebextensions/ uses, spelled as in "General options for all environments"
(AWS Elastic Beanstalk Developer Guide).
"""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path

import pytest
import yaml

from server.config import DEFAULT_MAX_BODY_BYTES, DEFAULT_TIMEOUT

REPO = Path(__file__).resolve().parents[2]
EBEXTENSIONS = REPO / ".ebextensions"
CONF_D = REPO / ".platform" / "nginx" / "conf.d"
NGINX_CONF = CONF_D / "studypredict.conf"
EDGE_CONF = CONF_D / "studypredict-edge.conf"
SERVER_EDGE_CONF = CONF_D / "elasticbeanstalk" / "studypredict-edge.conf"
APPLICATION_CONF = CONF_D / "elasticbeanstalk" / "00_application.conf"
HTTPS_LISTENER = "aws:elbv2:listener:443"
ACM_ARN = re.compile(r"arn:aws:acm:[^:]+:[^:]+:certificate/\S+")

# The environment variables the server reads (server/config.py): any other name
# is a typo the server would silently ignore.
SERVER_ENVIRONMENT = {
    "PORT",
    "WEB_CONCURRENCY",
    "MODEL_STORE_DIR",
    "MODEL_VERSION",
    "MAX_BODY_BYTES",
    "MAX_ROWS",
    "ORT_INTRA_OP_THREADS",
    "GUNICORN_TIMEOUT",
}
ALLOWED_OPTIONS = {
    "aws:elasticbeanstalk:application:environment": SERVER_ENVIRONMENT,
    "aws:ec2:instances": {"InstanceTypes"},
    "aws:autoscaling:launchconfiguration": {"RootVolumeType", "RootVolumeSize"},
    "aws:autoscaling:asg": {"MinSize", "MaxSize", "Cooldown"},
    "aws:autoscaling:trigger": {
        "MeasureName",
        "Statistic",
        "Unit",
        "Period",
        "EvaluationPeriods",
        "BreachDuration",
        "UpperThreshold",
        "UpperBreachScaleIncrement",
        "LowerThreshold",
        "LowerBreachScaleIncrement",
    },
    "aws:elasticbeanstalk:environment": {"EnvironmentType", "LoadBalancerType"},
    "aws:elasticbeanstalk:environment:proxy": {"ProxyServer"},
    "aws:elasticbeanstalk:environment:process:default": {
        "HealthCheckPath",
        "MatcherHTTPCode",
        "DeregistrationDelay",
    },
    "aws:elasticbeanstalk:healthreporting:system": {"SystemType"},
    "aws:elasticbeanstalk:cloudwatch:logs": {"StreamLogs", "DeleteOnTerminate", "RetentionInDays"},
    # "ALB listener namespaces" (aws:elbv2:listener:default is port 80).
    HTTPS_LISTENER: {"ListenerEnabled", "Protocol", "SSLPolicy", "SSLCertificateArns"},
    "aws:elbv2:listener:default": {"ListenerEnabled"},
}
# Top-level keys of a configuration file that .ebextensions/ uses.
ALLOWED_KEYS = {"option_settings", "files", "commands"}
CLOUDWATCH_RETENTION_DAYS = {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827}
SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def config_files() -> list[Path]:
    return sorted(EBEXTENSIONS.glob("*.config"))


def load_config(path: Path) -> dict:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict), f"{path.name}: not a YAML mapping"
    return document


def option_settings(document: dict) -> list[tuple[str, str, object]]:
    """(namespace, option, value) from either syntax Elastic Beanstalk accepts."""
    settings = document.get("option_settings") or []
    if isinstance(settings, dict):
        return [(ns, name, value) for ns, opts in settings.items() for name, value in opts.items()]
    return [(s["namespace"], s["option_name"], s.get("value")) for s in settings]


def all_settings() -> dict[tuple[str, str], object]:
    found: dict[tuple[str, str], object] = {}
    for path in config_files():
        for namespace, name, value in option_settings(load_config(path)):
            assert (namespace, name) not in found, f"{namespace} {name} is set twice"
            found[namespace, name] = value
    return found


def nginx_directives(path: Path = NGINX_CONF) -> dict[str, str]:
    text = re.sub(r"#.*", "", path.read_text(encoding="utf-8"))
    return {m[1]: m[2].strip() for m in re.finditer(r"^\s*(\w+)\s+([^;{}]+);", text, re.MULTILINE)}


def nginx_text(path: Path) -> str:
    return re.sub(r"#.*", "", path.read_text(encoding="utf-8"))


def nginx_bytes(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kKmMgG]?)", value).groups()
    return int(number) * SIZE_UNITS[unit.lower()]


def nginx_seconds(value: str) -> int:
    return int(re.fullmatch(r"(\d+)s?", value)[1])


def test_there_are_configuration_files():
    assert config_files(), f"no *.config files in {EBEXTENSIONS}"


@pytest.mark.parametrize("path", config_files(), ids=lambda p: p.name)
def test_configuration_file_uses_only_known_keys(path):
    unknown = set(load_config(path)) - ALLOWED_KEYS
    assert not unknown, f"{path.name}: Elastic Beanstalk would skip this file for {unknown}"


@pytest.mark.parametrize("path", config_files(), ids=lambda p: p.name)
def test_every_option_is_a_known_namespace_and_name(path):
    for namespace, name, _ in option_settings(load_config(path)):
        assert namespace in ALLOWED_OPTIONS, f"{path.name}: unknown namespace {namespace!r}"
        assert name in ALLOWED_OPTIONS[namespace], (
            f"{path.name}: {namespace} has no option {name!r} "
            f"(known here: {sorted(ALLOWED_OPTIONS[namespace])})"
        )


def test_health_check_is_the_readiness_endpoint():
    process = "aws:elasticbeanstalk:environment:process:default"
    assert all_settings()[process, "HealthCheckPath"] == "/ready"


def test_environment_sets_the_server_defaults_nginx_relies_on():
    namespace = "aws:elasticbeanstalk:application:environment"
    env = {name: value for (ns, name), value in all_settings().items() if ns == namespace}
    assert int(env["MAX_BODY_BYTES"]) == DEFAULT_MAX_BODY_BYTES
    assert int(env["GUNICORN_TIMEOUT"]) == DEFAULT_TIMEOUT


def test_nginx_accepts_exactly_the_bodies_the_server_accepts():
    assert nginx_bytes(nginx_directives()["client_max_body_size"]) == DEFAULT_MAX_BODY_BYTES


def test_nginx_waits_for_gunicorn_longer_than_gunicorn_waits_for_a_worker():
    assert nginx_seconds(nginx_directives()["proxy_read_timeout"]) >= DEFAULT_TIMEOUT


def test_scaling_trigger_breach_duration_is_period_times_evaluation_periods():
    settings = all_settings()
    breach, period, evaluations = (
        int(settings["aws:autoscaling:trigger", name])
        for name in ("BreachDuration", "Period", "EvaluationPeriods")
    )
    # Elastic Beanstalk rewrites one of the three when they disagree.
    assert breach == period * evaluations


def test_scaling_in_cannot_push_the_remaining_instances_over_the_scale_out_threshold():
    settings = all_settings()
    upper = float(settings["aws:autoscaling:trigger", "UpperThreshold"])
    lower = float(settings["aws:autoscaling:trigger", "LowerThreshold"])
    # Going from 2 instances to 1 doubles the load on the one left.
    assert 2 * lower < upper


def test_log_retention_is_a_value_cloudwatch_accepts():
    days = int(all_settings()["aws:elasticbeanstalk:cloudwatch:logs", "RetentionInDays"])
    assert days in CLOUDWATCH_RETENTION_DAYS


def test_the_load_balancer_listens_on_443_with_an_acm_certificate():
    settings = all_settings()
    assert settings["aws:elasticbeanstalk:environment", "LoadBalancerType"] == "application"
    assert settings[HTTPS_LISTENER, "ListenerEnabled"] is True
    assert settings[HTTPS_LISTENER, "Protocol"] == "HTTPS"
    assert ACM_ARN.fullmatch(settings[HTTPS_LISTENER, "SSLCertificateArns"])
    # TLS 1.2 and 1.3 only: the TLS13-1-2 family of ALB security policies.
    assert settings[HTTPS_LISTENER, "SSLPolicy"].startswith("ELBSecurityPolicy-TLS13-1-2-")


def test_port_80_stays_open_for_the_redirect():
    assert all_settings()["aws:elbv2:listener:default", "ListenerEnabled"] is True
    assert re.search(r"return 301 https://\$host\$request_uri;", nginx_text(SERVER_EDGE_CONF))


def test_nginx_proxies_to_the_port_gunicorn_binds():
    port = all_settings()["aws:elasticbeanstalk:application:environment", "PORT"]
    proxy_pass = nginx_directives(APPLICATION_CONF)["proxy_pass"]
    assert proxy_pass == f"http://127.0.0.1:{port}"


def test_forwarding_headers_are_believed_from_private_addresses_only():
    text = nginx_text(EDGE_CONF)
    real_ip_from = re.findall(r"set_real_ip_from\s+(\S+);", text)
    geo = re.search(r"geo \$realip_remote_addr \$from_load_balancer \{(.*?)\}", text, re.DOTALL)
    trusted = re.findall(r"^\s*([0-9a-f.:/]+)\s+1;", geo[1], re.MULTILINE)
    assert re.search(r"^\s*default 0;", geo[1], re.MULTILINE)
    assert real_ip_from and sorted(real_ip_from) == sorted(trusted)
    assert all(ipaddress.ip_network(network).is_private for network in trusted)


def test_the_429_message_states_the_limit_nginx_applies():
    rate = re.search(r"rate=(\d+)r/s;", nginx_text(EDGE_CONF))[1]
    server = nginx_text(SERVER_EDGE_CONF)
    burst = re.search(r"limit_req zone=\S+ burst=(\d+)", server)[1]
    message = json.loads(re.search(r"return 429 '(.*)\\n';", server)[1])["error"]
    assert f"at most {rate} a second (bursts of {burst})" in message
