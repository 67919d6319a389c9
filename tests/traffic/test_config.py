"""The include file golive renders is one nginx accepts, for every kind of routing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from golive.plan.models import NginxSettings, TrafficSpec
from golive.plan.routing import user_group
from golive.testing.nginx import nginx_binary
from golive.traffic.config import Routing, render
from golive.traffic.nginx import Nginx, TrafficError

SETTINGS = NginxSettings.model_validate(
    {
        "include": "site.conf",
        "upstreams": {"blue": ["127.0.0.1:8001"], "green": ["127.0.0.1:8002", "[::1]:8003"]},
    }
)


def nginx() -> Nginx:
    return Nginx.from_settings(
        SETTINGS.model_copy(update={"binary": nginx_binary()}), render=str, workdir=Path("/tmp")
    )


@pytest.mark.parametrize(
    "routing",
    [
        Routing("blue", "green", 0.0),
        Routing("blue", "green", 0.1),
        Routing("blue", "green", 0.3333),
        Routing("blue", "green", 1.0),
        Routing("blue", "green", 0.0, user_group("header", "X-Beta")),
        Routing("blue", "green", 0.5, user_group("header", "X-Beta: yes")),
        Routing("blue", "green", 0.0, user_group("cookie", "beta=1")),
        Routing("blue", "green", 0.0, user_group("network", "10.0.0.0/8, 192.168.1.7 ::1")),
    ],
    ids=str,
)
def test_every_routing_renders_a_file_nginx_accepts(routing: Routing) -> None:
    text = render(SETTINGS, routing, note="test")
    asyncio.run(nginx().check_alone(text))
    assert "upstream golive_blue {" in text
    assert "keepalive 16;" in text


def test_a_share_is_split_by_request_id() -> None:
    text = render(SETTINGS, Routing("blue", "green", 0.1), note="test")
    assert (
        'split_clients "${request_id}" $golive_split {\n    10% golive_green;\n    * golive_blue;'
        in text
    )


def test_nginx_t_names_what_it_refuses() -> None:
    with pytest.raises(
        TrafficError, match=r"nginx -t on the new include file failed: .*unknown directive"
    ):
        asyncio.run(nginx().check_alone("upstrem x {}\n"))


@pytest.mark.parametrize(
    ("traffic", "message"),
    [
        ({"strategy": "canary", "from": "a", "to": "a"}, "from and to are the same group"),
        ({"strategy": "canary", "from": "a", "to": "b", "steps": ["50%", "10%"]}, "shares go up"),
        (
            {"strategy": "blue_green", "from": "a", "to": "b", "steps": ["10%"]},
            "moves 100% at once",
        ),
        ({"strategy": "phased", "from": "a", "to": "b"}, "needs a group"),
        (
            {"strategy": "phased", "from": "a", "to": "b", "group": {"header": "X Beta"}},
            "not a header nginx can match",
        ),
        (
            {"strategy": "phased", "from": "a", "to": "b", "group": {"network": "10.0.0.300/8"}},
            "not an address or network",
        ),
        (
            {"strategy": "canary", "from": "a", "to": "b", "group": {"cookie": "beta"}},
            "group is for phased",
        ),
    ],
)
def test_a_traffic_step_that_cannot_be_carried_out_is_refused_by_the_plan(
    traffic: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        TrafficSpec.model_validate(traffic)


def test_an_upstream_server_cannot_smuggle_nginx_directives() -> None:
    with pytest.raises(ValueError, match="upstreams"):
        NginxSettings.model_validate(
            {"include": "x.conf", "upstreams": {"blue": ["127.0.0.1:80; return 200"]}}
        )
