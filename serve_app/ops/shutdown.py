"""Stop Serve without cutting in-flight requests: drain the ingress first, then shut down.

Why not plain ``serve shutdown``: in Ray 2.60 it kills the HTTP proxy actor on the controller's
first shutdown tick (``ProxyActor.shutdown`` is a no-op, then ``ray.kill``), and the proxy owns
every client connection, so running requests and streams are cut. Deleting the applications
(``serve.delete``) keeps the proxy but stops all deployments of an app at once: the Validator,
VLM and PolicyFilter replicas leave the Ingress's routing table immediately, and a stream that
still needs them hangs until its replica is killed.

So the drain goes front to back: (1) set ``draining`` in every Ingress's ``user_config`` (applied
by ``reconfigure``, no restart): new requests get 503 ``shutting_down`` with Retry-After and
/readyz fails, so load balancers move away; (2) wait until no ingress replica has a request in
flight; (3) ``serve.shutdown()``, which now has nothing left to cut.

What ``make stop`` and the launcher's Ctrl-C / SIGTERM (``docker stop``) run.
Usage: ``python -m serve_app.ops.shutdown [--address auto] [--timeout-s 180]``
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from collections.abc import Callable
from typing import Any

from serve_app.ops.ray_auth import TokenError, use_cluster_token

# above the configs' graceful_shutdown_timeout_s (120 s), plus a few seconds per deployment stopped
DEFAULT_TIMEOUT_S = 180.0
POLL_S = 0.25
QUIET_POLLS = 2  # consecutive idle polls: a request between the proxy and a replica shows up by then
INGRESS = "Ingress"  # our ingress deployment: the one that understands `draining`

Log = Callable[[str], None]


def draining_config(details: dict[str, Any]) -> dict[str, Any] | None:
    """The running Serve config with ``draining: true`` in each Ingress's user_config; None when an
    application was deployed from code (no config to redeploy, and redeploying without it would
    delete it)."""
    apps = []
    for app in details["applications"].values():
        config = copy.deepcopy(app.get("deployed_app_config"))
        if config is None:
            return None
        if _ingress_name(app) == INGRESS:
            deployments = config.setdefault("deployments", [])
            ingress = next((d for d in deployments if d["name"] == INGRESS), None)
            if ingress is None:
                ingress = {"name": INGRESS}
                deployments.append(ingress)
            ingress["user_config"] = {**(ingress.get("user_config") or {}), "draining": True}
        apps.append(config)
    return {
        "proxy_location": details.get("proxy_location"),
        "http_options": details.get("http_options"),
        "applications": apps,
    }


def draining_applied(details: dict[str, Any]) -> bool:
    """Every Ingress runs with ``draining`` set: its target config says so and it is healthy again
    (Serve reports UPDATING until each replica's ``reconfigure`` has run)."""
    for app in details["applications"].values():
        if _ingress_name(app) != INGRESS:
            continue
        deployment = app["deployments"][INGRESS]
        user_config = (deployment.get("deployment_config") or {}).get("user_config") or {}
        if not user_config.get("draining") or str(deployment["status"]).split(".")[-1] != "HEALTHY":
            return False
    return True


def _ingress_name(app: dict[str, Any]) -> str | None:
    topology = app.get("deployment_topology") or {}
    return topology.get("ingress_deployment")


def ingress_replica_actors(details: dict[str, Any]) -> list[str]:
    """Actor names of every application's ingress replicas (where HTTP requests live)."""
    names = []
    for app in details["applications"].values():
        deployment = app["deployments"].get(_ingress_name(app) or "", {})
        names += [r["actor_name"] for r in deployment.get("replicas", []) if r.get("actor_name")]
    return names


def in_flight(actor_names: list[str]) -> int:
    """Requests running in these Serve replicas (their own count, as their graceful shutdown uses)."""
    import ray

    total = 0
    for name in actor_names:
        try:
            actor = ray.get_actor(name, namespace="serve")
            total += ray.get(actor.get_num_ongoing_requests.remote(), timeout=10)
        except (ValueError, ray.exceptions.RayError):
            continue  # the replica is gone: nothing left in it
    return total


def connect(address: str = "auto") -> None:
    """Join the cluster as a driver and import what a drain needs, so that a later drain starts at
    once (Serve's client modules take seconds to import on a loaded machine: time in which a
    stopping service would still admit requests)."""
    # the clusters we start use Ray's token auth; a driver must have the token before Ray is imported
    use_cluster_token(create=False)
    import ray
    import ray.serve._private.api
    import ray.serve.schema

    ray.init(address=address, logging_level="ERROR", log_to_driver=False)


def drain_and_shutdown(
    timeout_s: float = DEFAULT_TIMEOUT_S, log: Log = print, give_up: Callable[[], bool] = lambda: False
) -> bool:
    """Drain (see module doc) and shut Serve down. Returns False when requests were still in flight
    after ``timeout_s`` or when ``give_up()`` said so (Serve is shut down anyway, cutting them)."""
    from ray import serve
    from ray.serve._private.api import serve_start
    from ray.serve.schema import ServeDeploySchema

    began = time.monotonic()

    def expired() -> bool:
        return time.monotonic() - began > timeout_s or give_up()

    client = serve_start()
    details = client.get_serve_details()
    config = draining_config(details)
    log(f"[{time.monotonic() - began:.1f} s] read the running config")
    if config is None:
        log("an application was deployed from code: not setting `draining`, waiting for in-flight requests")
    else:
        client.deploy_apps(ServeDeploySchema.model_validate(config))
        log(f"[{time.monotonic() - began:.1f} s] applied draining config")
        while not draining_applied(client.get_serve_details()) and not expired():
            time.sleep(POLL_S)
        apps = len(config["applications"])
        log(f"[{time.monotonic() - began:.1f} s] ingress draining: new requests answer 503 shutting_down ({apps} apps)")
    actors = ingress_replica_actors(details)
    quiet, drained = 0, True
    while quiet < QUIET_POLLS:
        if expired():
            drained = False
            log(f"requests still in flight after {time.monotonic() - began:.0f} s; shutting down anyway")
            break
        quiet = quiet + 1 if in_flight(actors) == 0 else 0
        time.sleep(POLL_S)
    if drained:
        log(f"drained in {time.monotonic() - began:.1f} s")
    serve.shutdown()
    log("serve shut down")
    return drained


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--address", default="auto", help="Ray cluster address")
    parser.add_argument("--timeout-s", type=float, default=DEFAULT_TIMEOUT_S, help="longest wait for the drain")
    args = parser.parse_args(argv)

    try:
        connect(args.address)
    except TokenError as exc:
        print(f"qwen-vl-serve: {exc}", file=sys.stderr)
        return 1
    import ray

    try:
        return 0 if drain_and_shutdown(args.timeout_s, log=lambda m: print(m, flush=True)) else 1
    finally:
        ray.shutdown()


if __name__ == "__main__":
    sys.exit(main())
