"""Monitoring and anomaly detection over the turns the planner commits.

`Monitor` is a plain class (tested without Ray): it keeps the turns of a rolling window, judges each window
against the limits in telco/data/monitor.yaml (response time, tokens per turn, error rate, intent drift from a
baseline, resource use) and against its own exponentially weighted history (response-time spikes, accuracy and
resolution-rate drops), and raises an Alert naming the agent, the metric, the window and the severity. The same
alert is not repeated while it holds, except after the cooldown or when it gets worse.

`MonitorActor` is the detached named Ray actor every planner replica feeds without waiting (the planner never
awaits it: a slow monitor must not slow a turn). It keeps recent alerts for GET /v1/ops/alerts, appends every
alert to the `ops_alerts` table through the single writer, and POSTs it to the configured webhook.
"""
from __future__ import annotations

import logging
import math
import os
import uuid
from collections import Counter, deque
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from telco.contract.http import TurnOut
from telco.data import MONITOR_FILE

log = logging.getLogger(__name__)

MONITOR_NAME = "telco-monitor"
NAMESPACE = "telco"
Severity = Literal["warning", "critical"]
_RANK = {None: 0, "warning": 1, "critical": 2}
TURN = "planner"  # whole-turn measures are the planner's: it owns the turn
RECENT_ALERTS = 1000  # alerts kept in memory for GET /v1/ops/alerts (all of them are in the ops_alerts table)
ALERTS_PAGE = 100  # alerts returned when the caller does not say how many


class _Cfg(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limit(_Cfg):
    stat: Literal["p95", "mean", "rate", "tvd", "share"]
    warning: float = Field(gt=0)
    critical: float = Field(gt=0)

    def severity(self, value: float) -> Severity | None:
        if value >= self.critical:
            return "critical"
        return "warning" if value >= self.warning else None


class Trend(_Cfg):
    alpha: float = Field(gt=0, le=1)
    spike_sigmas: float = Field(gt=0)
    spike_min_ratio: float = Field(ge=1)
    drop_warning: float = Field(gt=0, le=1)
    drop_critical: float = Field(gt=0, le=1)


class MonitorConfig(_Cfg):
    window_s: float = Field(gt=0)
    min_samples: int = Field(ge=1)
    cooldown_s: float = Field(ge=0)
    baseline_samples: int = Field(ge=1)
    max_window_turns: int = Field(ge=10)
    evaluate_every_s: float = Field(ge=0)
    small_window: int = Field(ge=1)
    webhook_url: str | None = None
    webhook_timeout_s: float = Field(gt=0)
    limits: dict[Literal["response_time_s", "tokens_per_turn", "error_rate", "intent_drift", "resource_use"], Limit]
    trend: Trend

    @classmethod
    def load(cls, path: Path = MONITOR_FILE) -> "MonitorConfig":
        cfg = cls.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        hook = os.environ.get("TELCO_OPS_WEBHOOK")
        return cfg.model_copy(update={"webhook_url": hook}) if hook else cfg


class TurnSample(BaseModel):
    """What the monitor needs of one committed turn."""

    model_config = ConfigDict(extra="forbid")
    at: float  # epoch seconds
    latency_ms: float
    agents: dict[str, float] = {}  # agent -> ms spent in it this turn
    failed: list[str] = []  # agents (or "oss_bss") that had a system error this turn
    tokens: int = 0
    intent: str | None = None
    confidence: float | None = None
    ended: list[str] = []  # outcomes of the issues that ended this turn

    @classmethod
    def of(cls, out: TurnOut, ended: Iterable[str] = (), at: float | None = None) -> "TurnSample":
        from actors.operations.metrics import backend_down, llm_tokens, turn_had_error

        t = out.trace
        agents: dict[str, float] = {}
        for a in t.agents:
            agents[a.agent] = agents.get(a.agent, 0.0) + a.ms
        failed = {a.agent for a in t.agents if a.attempts > 1}
        if backend_down(out):
            failed.add("oss_bss")
        if turn_had_error(out):
            failed.add(TURN)  # the turn itself went wrong, whichever part failed
        top = out.intents[0] if out.intents else None
        return cls(at=at if at is not None else datetime.now(timezone.utc).timestamp(), latency_ms=t.latency_ms,
                   agents=agents, failed=sorted(failed), tokens=llm_tokens(out),
                   intent=top.intent if top else None, confidence=top.confidence if top else None,
                   ended=list(ended))


class Alert(BaseModel):
    model_config = ConfigDict(extra="forbid")
    alert_id: str
    at: datetime
    agent: str
    metric: str
    window_s: float
    samples: int
    severity: Severity
    value: float
    threshold: float
    message: str


class Ewma:
    """Exponentially weighted mean and variance of a series."""

    def __init__(self, alpha: float) -> None:
        self.alpha, self.mean, self.var, self.n = alpha, 0.0, 0.0, 0

    def update(self, x: float) -> None:
        if self.n == 0:
            self.mean = x
        else:
            diff = x - self.mean
            self.mean += self.alpha * diff
            self.var = (1 - self.alpha) * (self.var + self.alpha * diff * diff)
        self.n += 1

    @property
    def std(self) -> float:
        return math.sqrt(self.var)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def tvd(a: Counter, b: Counter) -> float:
    """Total variation distance between two distributions given as counts."""
    na, nb = sum(a.values()), sum(b.values())
    if not na or not nb:
        return 0.0
    return 0.5 * sum(abs(a[k] / na - b[k] / nb) for k in set(a) | set(b))


Finding = tuple[str, str, float, float, Severity | None]  # agent, metric, value, threshold, severity


class Monitor:
    def __init__(self, config: MonitorConfig | None = None,
                 resource_use: Callable[[], float | None] | None = None) -> None:
        self.cfg = config or MonitorConfig.load()
        self.resource_use = resource_use
        self.window: deque[TurnSample] = deque(maxlen=self.cfg.max_window_turns)
        self.recent: deque[TurnSample] = deque(maxlen=self.cfg.min_samples)  # what trends compare
        self.last_judged = float("-inf")
        self.baseline_intents: Counter = Counter()
        self.baseline_n = 0
        self.latency = Ewma(self.cfg.trend.alpha)
        self.accuracy = Ewma(self.cfg.trend.alpha)
        self.resolution = Ewma(self.cfg.trend.alpha)
        self.raised: dict[tuple[str, str], tuple[Severity, float]] = {}  # (agent, metric) -> last alert
        self._resource_read: tuple[float, float | None] = (float("-inf"), None)  # (when, share)

    # ---- feeding -----------------------------------------------------------------------------------------
    def observe(self, sample: TurnSample) -> list[Alert]:
        now = sample.at
        self.window.append(sample)
        self.recent.append(sample)
        while self.window and self.window[0].at < now - self.cfg.window_s:
            self.window.popleft()
        if sample.intent and self.baseline_n < self.cfg.baseline_samples:
            self.baseline_intents[sample.intent] += 1
            self.baseline_n += 1
        findings = self._trends(sample)
        # Judging a window costs its size: a busy one is judged once per evaluate_every_s, a small one every turn.
        if len(self.window) <= self.cfg.small_window or now - self.last_judged >= self.cfg.evaluate_every_s:
            self.last_judged = now
            findings = self._limits(now) + findings
        return self._alerts(findings, now)

    # ---- rolling-window limits ---------------------------------------------------------------------------
    def _limits(self, now: float) -> list[Finding]:
        samples = list(self.window)
        if len(samples) < self.cfg.min_samples:
            return []
        lim = self.cfg.limits
        out: list[Finding] = []
        rt = lim["response_time_s"]
        out.append(self._judge(TURN, "response_time_s", p95([s.latency_ms / 1000 for s in samples]), rt))
        for agent in sorted({a for s in samples for a in s.agents}):
            times = [s.agents[agent] / 1000 for s in samples if agent in s.agents]
            if len(times) >= self.cfg.min_samples:
                out.append(self._judge(agent, "response_time_s", p95(times), rt))
        out.append(self._judge(TURN, "tokens_per_turn", sum(s.tokens for s in samples) / len(samples),
                               lim["tokens_per_turn"]))
        for agent in sorted({a for s in samples for a in s.failed} | {TURN} | set(self._known_failing())):
            rate = sum(agent in s.failed for s in samples) / len(samples)
            out.append(self._judge(agent, "error_rate", rate, lim["error_rate"]))
        if self.baseline_n >= self.cfg.baseline_samples:
            current = Counter(s.intent for s in samples if s.intent)
            if sum(current.values()) >= self.cfg.min_samples:
                out.append(self._judge("intent", "intent_drift", tvd(current, self.baseline_intents),
                                       lim["intent_drift"]))
        share = self._resource_share(now)
        if share is not None:
            out.append(self._judge("cluster", "resource_use", share, lim["resource_use"]))
        return out

    def _resource_share(self, now: float) -> float | None:
        # Reading the cluster is a round trip to Ray's control service: at most once per evaluate_every_s, also
        # while a small window is judged on every turn.
        if self.resource_use is None:
            return None
        if now - self._resource_read[0] >= self.cfg.evaluate_every_s:
            self._resource_read = (now, self.resource_use())
        return self._resource_read[1]

    def _known_failing(self) -> list[str]:
        # Agents with an alert still open must be re-judged even when the window no longer shows them failing.
        return [agent for (agent, metric) in self.raised if metric == "error_rate"]

    @staticmethod
    def _judge(agent: str, metric: str, value: float, limit: Limit) -> Finding:
        severity = limit.severity(value)
        return agent, metric, value, limit.critical if severity == "critical" else limit.warning, severity

    # ---- trends against the EWMA history -----------------------------------------------------------------
    def _trends(self, sample: TurnSample) -> list[Finding]:
        tr, out = self.cfg.trend, []
        recent = list(self.recent)
        if self.latency.n >= self.cfg.min_samples and len(recent) >= self.cfg.min_samples:
            mean = sum(s.latency_ms for s in recent) / len(recent)
            spike = (mean > self.latency.mean + tr.spike_sigmas * self.latency.std
                     and mean > tr.spike_min_ratio * self.latency.mean)
            out.append((TURN, "response_time_spike", mean / 1000, self.latency.mean / 1000,
                        "warning" if spike else None))
        self.latency.update(sample.latency_ms)
        if sample.confidence is not None:
            out += self._drop("intent", "accuracy_drop", self.accuracy,
                              [s.confidence for s in recent if s.confidence is not None])
            self.accuracy.update(sample.confidence)
        if sample.ended:
            outcomes = [o == "resolved" for s in recent for o in s.ended]
            out += self._drop(TURN, "resolution_rate_drop", self.resolution, [float(x) for x in outcomes])
            for o in sample.ended:
                self.resolution.update(float(o == "resolved"))
        return out

    def _drop(self, agent: str, metric: str, history: Ewma, recent: list[float]) -> list[Finding]:
        tr = self.cfg.trend
        if history.n < self.cfg.min_samples or len(recent) < self.cfg.min_samples:
            return []
        fall = history.mean - sum(recent) / len(recent)
        severity = "critical" if fall >= tr.drop_critical else "warning" if fall >= tr.drop_warning else None
        return [(agent, metric, fall, tr.drop_critical if severity == "critical" else tr.drop_warning, severity)]

    # ---- alerts ------------------------------------------------------------------------------------------
    def _alerts(self, findings: list[Finding], now: float) -> list[Alert]:
        alerts = []
        for agent, metric, value, threshold, severity in findings:
            key = (agent, metric)
            last = self.raised.get(key)
            if severity is None:
                self.raised.pop(key, None)
                continue
            worse = last is None or _RANK[severity] > _RANK[last[0]]
            if not worse and now - last[1] < self.cfg.cooldown_s:
                continue
            self.raised[key] = (severity, now)
            alerts.append(Alert(
                alert_id=f"alert-{uuid.uuid4().hex[:12]}", at=datetime.fromtimestamp(now, timezone.utc),
                agent=agent, metric=metric, window_s=self.cfg.window_s, samples=len(self.window),
                severity=severity, value=round(value, 4), threshold=threshold,
                message=f"{agent} {metric} = {value:.3g} over the last {self.cfg.window_s:.0f} s "
                        f"({len(self.window)} turns), {severity} at {threshold:g}"))
        return alerts


# ---- storage of alerts -------------------------------------------------------------------------------------
def alert_row(alert: Alert) -> dict[str, Any]:
    return {"alert_id": alert.alert_id, "at": alert.at, "agent": alert.agent, "metric": alert.metric,
            "window_s": alert.window_s, "severity": alert.severity, "value": alert.value,
            "threshold": alert.threshold, "body": alert.model_dump_json()}


def cluster_cpu_use() -> float | None:
    import ray

    total = ray.cluster_resources().get("CPU", 0.0)
    free = ray.available_resources().get("CPU", 0.0)
    return (total - free) / total if total else None


class MonitorService:
    """The actor's body: a Monitor plus recent alerts, the alerts table and the webhook."""

    def __init__(self, memory_uri: str | None = None, config: MonitorConfig | None = None,
                 resource_use: Callable[[], float | None] | None = None, keep: int = RECENT_ALERTS) -> None:
        self.monitor = Monitor(config, resource_use)
        self.memory_uri = memory_uri
        self.recent: deque[Alert] = deque(maxlen=keep)
        self._writer = None

    async def observe(self, sample: TurnSample | dict) -> list[Alert]:
        sample = sample if isinstance(sample, TurnSample) else TurnSample.model_validate(sample)
        alerts = self.monitor.observe(sample)
        for alert in alerts:
            self.recent.append(alert)
            log.warning("ALERT %s", alert.message)
        if alerts:
            await self._store(alerts)
            await self._notify(alerts)
        return alerts

    async def world_reloaded(self) -> None:
        """A new sandbox world starts a new drill. The window, the baselines and the conditions still open were
        about the old world's traffic: kept, a fault planted now would be averaged with that traffic (six failed
        turns in a window of three hundred are 2 %) and its alert held back as a repeat of the last drill's. The
        alerts already raised stay listed."""
        old, self.monitor = self.monitor, Monitor(self.monitor.cfg, self.monitor.resource_use)
        # The cluster's CPUs are no world's doing: a reservation still over its level is not announced again.
        self.monitor.raised = {k: v for k, v in old.raised.items() if k[1] == "resource_use"}

    async def alerts(self, severity: str | None = None, limit: int = ALERTS_PAGE) -> list[dict[str, Any]]:
        found = [a for a in reversed(self.recent) if severity is None or a.severity == severity]
        return [a.model_dump(mode="json") for a in found[:limit]]

    async def _store(self, alerts: list[Alert]) -> None:
        if self.memory_uri is None:
            return
        try:
            if self._writer is None:
                from memory.writer import RayWriter

                self._writer = RayWriter(self.memory_uri)
            from memory.writer import Op

            await self._writer.apply_async([Op(table="ops_alerts", kind="append",
                                               rows=[alert_row(a) for a in alerts])])
        except Exception:
            log.exception("alerts not stored")

    async def _notify(self, alerts: list[Alert]) -> None:
        url = self.monitor.cfg.webhook_url
        if not url:
            return
        import httpx

        try:
            async with httpx.AsyncClient(timeout=self.monitor.cfg.webhook_timeout_s) as client:
                for alert in alerts:
                    await client.post(url, json=alert.model_dump(mode="json"))
        except httpx.HTTPError as exc:
            log.warning("alert webhook %s failed: %s", url, exc)


def monitor_actor(memory_uri: str | None):
    """The detached monitor actor every planner replica shares (created by the first one that asks)."""
    import ray

    @ray.remote(num_cpus=0, max_restarts=-1)
    class MonitorActor(MonitorService):
        def __init__(self, uri: str | None) -> None:
            super().__init__(uri, resource_use=cluster_cpu_use)

    from memory.placement import on_head_node

    return MonitorActor.options(name=MONITOR_NAME, namespace=NAMESPACE, get_if_exists=True,
                                lifetime="detached", **on_head_node()).remote(memory_uri)
