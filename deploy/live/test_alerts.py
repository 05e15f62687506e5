#!/usr/bin/env python3
"""Alerts end to end on the loopback stack: the real Prometheus scrapes both real replicas; the
test SIGKILLs one; VitrineReplicaDown (deploy/prometheus/rules, `for: 1m`) fires and the real
Alertmanager (deploy/alertmanager/alertmanager-local.yml.tmpl) posts it to the local server that
speaks Discord's webhook API; the Discord message must name the alert and the instance, as
deploy/alertmanager/templates/discord.tmpl writes it; the replica is restarted and the resolved
message must follow.

    deploy/live/test_alerts.py     (after scripts/local-stack.sh up; reads .local-stack/env)

With a real webhook (LOCAL_STACK_DISCORD_WEBHOOK_FILE) there is no sink file to read: the test
then stops after checking that Alertmanager sent the notifications without errors.
"""

import json
import time

import live

env = live.load_env()
checks = live.Checks("test_alerts")
FIRE_TIMEOUT = 150     # `for: 1m`, a 2 s scrape and evaluation, group_wait 1 s: about 65 s expected
RESOLVE_TIMEOUT = 60   # a scrape, an evaluation, group_interval 2 s: seconds expected
VICTIM = 2
instance = env[f"VITRINE_{VICTIM}_ADDRESS"]
other = env[f"VITRINE_{3 - VICTIM}_ADDRESS"]
sink = env.get("DISCORD_SINK_FILE")


def messages(start):
    """Discord messages the sink accepted after byte offset `start`: (payload, text) pairs, text
    being everything a reader of the channel sees (content, embed titles and descriptions)."""
    if not sink:
        return []
    lines, _ = live.log_lines(sink, start=start)
    out = []
    for line in lines:
        payload = json.loads(line)
        parts = [payload.get("content") or ""]
        for embed in payload.get("embeds") or []:
            parts += [embed.get("title") or "", embed.get("description") or ""]
        out.append((payload, "\n".join(parts)))
    return out


def replica_down_messages(start, status):
    """Messages about VitrineReplicaDown on the victim, of status firing or resolved."""
    tag = "[FIRING" if status == "firing" else "[RESOLVED"
    found = []
    for payload, text in messages(start):
        titles = [e.get("title") or "" for e in payload.get("embeds") or []] or [payload.get("content") or ""]
        if any(t.startswith(tag) and "VitrineReplicaDown" in t and instance in t for t in titles):
            found.append((payload, text))
    return found


def alert_state():
    """VitrineReplicaDown's state for the victim in Prometheus (inactive, pending or firing)."""
    for alert in live.prom(env, "/api/v1/alerts")["alerts"]:
        labels = alert["labels"]
        if labels.get("alertname") == "VitrineReplicaDown" and labels.get("instance") == instance:
            return alert["state"]
    return "inactive"


def notifications_failed():
    """Alertmanager's own count of failed Discord notifications."""
    response = live.get(env["ALERTMANAGER_URL"] + "/metrics")
    total = 0.0
    for line in response.body.decode().splitlines():
        if line.startswith("alertmanager_notifications_failed_total") and 'integration="discord"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def scraped():
    def both_up():
        result = live.query(env, 'up{job="vitrine"}')
        values = {r["metric"]["instance"]: float(r["value"][1]) for r in result}
        return values if values.get(instance) == 1 and values.get(other) == 1 else None

    values = live.wait_for('up{job="vitrine"} == 1 for both replicas', both_up, 30)
    checks.ok(True, f"Prometheus scrapes both replicas: up{{job=\"vitrine\"}} = {values}")
    managers = live.prom(env, "/api/v1/alertmanagers")["activeAlertmanagers"]
    checks.ok(any(env["ALERTMANAGER_URL"].split("//")[1] in m["url"] for m in managers),
              f"Prometheus sends alerts to the stack's Alertmanager ({[m['url'] for m in managers]})")
    rules = [r for g in live.prom(env, "/api/v1/rules", type="alert")["groups"] for r in g["rules"]]
    down = [r for r in rules if r["name"] == "VitrineReplicaDown"]
    checks.ok(bool(down) and down[0]["health"] == "ok",
              f"the rule VitrineReplicaDown is loaded and evaluates ({down[0]['health'] if down else 'missing'}); "
              f"{len(rules)} alert rules in all")


def fire_and_resolve():
    start = live.file_size(sink) if sink else 0
    failed_before = notifications_failed()
    pid = live.kill_replica(env, VICTIM)
    killed = time.monotonic()
    print(f"      SIGKILLed replica {VICTIM} ({instance}, pid {pid}); waiting up to {FIRE_TIMEOUT} s for the alert", flush=True)

    state = {"last": None}

    def fired():
        now = alert_state()
        if now != state["last"]:
            print(f"      {time.monotonic() - killed:5.1f} s: VitrineReplicaDown on {instance} is {now} in Prometheus", flush=True)
            state["last"] = now
        if not sink:
            return now == "firing"
        return replica_down_messages(start, "firing")

    try:
        try:
            found = live.wait_for(f"a Discord message that VitrineReplicaDown fires on {instance}", fired, FIRE_TIMEOUT, 1.0)
        except TimeoutError as error:
            checks.ok(False, str(error), [f"Prometheus says: {alert_state()}",
                                          f"messages the sink got meanwhile: {[t[:120] for _, t in messages(start)]}"])
            found = None
        fired_after = time.monotonic() - killed
        if found and sink:
            payload, text = found[0]
            embed = (payload.get("embeds") or [{}])[0]
            checks.ok(True, f"Discord got the firing message {fired_after:.0f} s after the kill")
            checks.ok(embed.get("title", "").startswith(f"[FIRING:1] PAGE VitrineReplicaDown on {instance}"),
                      f"its title names the alert, the severity and the instance: {embed.get('title')!r}")
            checks.ok(f"Vitrine replica {instance} is down" in text and "Runbook: docs/operations.md#vitrinereplicadown" in text,
                      "its description carries the summary and the runbook", [line for line in text.splitlines() if line][:4])
            checks.ok(isinstance(embed.get("color"), int), f"the embed has a colour ({embed.get('color')})")
            checks.ok(other not in text, f"the message is about {instance} alone, not the healthy {other}")
        elif found:
            checks.ok(True, f"VitrineReplicaDown fired in Prometheus {fired_after:.0f} s after the kill (real webhook: no sink to read)")
    finally:
        new_pid = live.restart_replica(env, VICTIM)
    restarted = time.monotonic()
    print(f"      restarted replica {VICTIM} (pid {new_pid}); waiting up to {RESOLVE_TIMEOUT} s for the resolved message", flush=True)
    if not found:
        return

    def resolved():
        if not sink:
            return alert_state() == "inactive"
        return replica_down_messages(start, "resolved")

    try:
        done = live.wait_for(f"a Discord message that VitrineReplicaDown on {instance} is resolved", resolved, RESOLVE_TIMEOUT, 1.0)
    except TimeoutError as error:
        checks.ok(False, str(error), [f"Prometheus says: {alert_state()}",
                                      f"messages the sink got: {[t[:120] for _, t in messages(start)]}"])
        return
    if sink:
        payload, text = done[0]
        embed = (payload.get("embeds") or [{}])[0]
        checks.ok(embed.get("title", "").startswith(f"[RESOLVED] PAGE VitrineReplicaDown on {instance}")
                  and f"Resolved: Vitrine replica {instance} is down" in text,
                  f"the resolved message arrived {time.monotonic() - restarted:.0f} s after the restart: {embed.get('title')!r}",
                  [line for line in text.splitlines() if line][:3])
        firing_colour = (found[0][0].get("embeds") or [{}])[0].get("color")
        checks.ok(embed.get("color") != firing_colour,
                  f"resolved and firing messages differ in colour ({embed.get('color')} vs {firing_colour})")
    failed = notifications_failed() - failed_before
    checks.ok(failed == 0, f"Alertmanager counted no failed Discord notifications ({failed:.0f})")


print("-- Prometheus scrapes the replicas", flush=True)
checks.run("scrape", scraped)
print("-- a replica down: alert fires to Discord, then resolves", flush=True)
checks.run("fire and resolve", fire_and_resolve)
checks.exit()
