"""The live set of models: specs from models.yaml, their backends, and who can serve now.

A model whose endpoints are unset (``${VAR}`` empty) or fail their probe is
*unavailable*: it is listed as such and left out of pairing, and the app keeps
running. Probes repeat every ``health_interval`` seconds so a server that comes
up later joins without a restart.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass

from arena.backends import Backend, Health, build_backend
from arena.config import ModelCatalogue, ModelSpec
from arena.pairing import Candidate
from arena.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelStatus:
    name: str
    available: bool
    detail: str


class ModelPool:
    """Specs, backends and availability of every enabled model."""

    def __init__(self, catalogue: ModelCatalogue, settings: Settings) -> None:
        self.catalogue = catalogue
        self.settings = settings
        self.backends: dict[str, Backend | None] = {}
        self.health: dict[str, Health] = {}
        for spec in catalogue.enabled:
            backend = build_backend(spec, settings)
            self.backends[spec.name] = backend
            if backend is None:
                self.health[spec.name] = Health(ok=False, detail="no endpoint configured (environment variable unset)")
            else:
                self.health[spec.name] = Health(ok=False, detail="not probed yet")
        self._retired: list[Backend] = []  # replaced by a reload; battles in flight may still use them
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def reload(self, catalogue: ModelCatalogue) -> list[str]:
        """Switch to *catalogue*; return the models that got a new backend (new or changed entries).

        A model whose entry is unchanged keeps its backend and health. Backends
        of removed or changed entries are retired, not closed: battles already
        running keep the models they started with.
        """
        previous = {spec.name: spec for spec in self.catalogue.models}
        backends: dict[str, Backend | None] = {}
        health: dict[str, Health] = {}
        fresh: list[str] = []
        for spec in catalogue.enabled:
            if previous.get(spec.name) == spec and spec.name in self.backends:
                backends[spec.name], health[spec.name] = self.backends[spec.name], self.health[spec.name]
                continue
            backend = build_backend(spec, self.settings)
            backends[spec.name] = backend
            health[spec.name] = Health(ok=False, detail="not probed yet" if backend else "no endpoint configured (environment variable unset)")
            fresh.append(spec.name)
        kept = {id(b) for b in backends.values() if b is not None}
        self._retired.extend(b for b in self.backends.values() if b is not None and id(b) not in kept)
        self.catalogue, self.backends, self.health = catalogue, backends, health
        return fresh

    def spec(self, name: str) -> ModelSpec:
        return self.catalogue.get(name)

    def backend(self, name: str) -> Backend:
        backend = self.backends.get(name)
        if backend is None:
            raise KeyError(name)
        return backend

    def is_available(self, name: str) -> bool:
        health = self.health.get(name)
        return bool(health and health.ok)

    def candidates(self) -> list[Candidate]:
        """Available models as pairing candidates."""
        return [
            Candidate(spec.name, spec.weight, spec.battle_targets)
            for spec in self.catalogue.enabled
            if self.is_available(spec.name)
        ]

    def named_choices(self) -> list[str]:
        """Models a voter may pick by name (side-by-side, direct chat)."""
        return [s.name for s in self.catalogue.enabled if not s.anony_only and self.is_available(s.name)]

    def pickable_names(self) -> list[str]:
        """Every enabled model a voter may pick by name, available now or not (the server re-checks)."""
        return [s.name for s in self.catalogue.enabled if not s.anony_only]

    def statuses(self) -> list[ModelStatus]:
        out = []
        for spec in self.catalogue.models:
            if not spec.enabled:
                out.append(ModelStatus(spec.name, False, "disabled in models.yaml"))
                continue
            health = self.health[spec.name]
            out.append(ModelStatus(spec.name, health.ok, health.detail))
        return out

    def endpoint_rows(self) -> list[tuple[str, str, str, str, str]]:
        """(model, endpoint, status, latency, served ids) per endpoint, for operators; the status says what is in flight."""
        rows = []
        for status in self.statuses():
            backend = self.backends.get(status.name)
            reports = getattr(backend, "endpoint_reports", None)
            if reports is None:  # disabled, unset, or in-process
                where = "in-process" if backend is not None else "—"
                rows.append((status.name, where, "ok" if status.available else status.detail, "", ""))
                continue
            for r in reports():
                latency = f"{r.latency_s * 1000:.0f} ms" if r.latency_s is not None else ""
                state = f"{r.status}, {r.in_flight} in flight" if r.in_flight else r.status
                rows.append((status.name, r.url, state, latency, ", ".join(r.served)))
        return rows

    def identity_terms(self) -> list[str]:
        terms: list[str] = []
        for spec in self.catalogue.models:
            terms.extend(spec.identity_terms())
        return terms

    async def refresh(self) -> None:
        """Probe every backend once, concurrently."""
        backends = {n: b for n, b in self.backends.items() if b is not None}
        results = await asyncio.gather(*(self._probe(b, n) for n, b in backends.items()))
        for (name, backend), health in zip(backends.items(), results):
            if self.backends.get(name) is not backend:  # reloaded meanwhile: this result is about a retired backend
                continue
            before = self.health[name].ok
            self.health[name] = health
            if before != health.ok:
                log.info("model %s is now %s (%s)", name, "available" if health.ok else "unavailable", health.detail)

    async def _probe(self, backend: Backend, name: str) -> Health:
        try:
            return await backend.health()
        except Exception as exc:  # noqa: BLE001 - a probe must never take the app down
            log.warning("health probe of %s crashed: %r", name, exc)
            return Health(ok=False, detail=f"probe failed: {type(exc).__name__}")

    async def warm_up(self) -> None:
        """Load in-process models ahead of the first battle (non-blocking for the caller's loop)."""
        for name, backend in self.backends.items():
            load = getattr(backend, "load", None)
            if load is not None and self.is_available(name):
                try:
                    await asyncio.to_thread(load)
                except Exception as exc:  # noqa: BLE001 - a model that fails to load is marked unavailable; the others still serve
                    log.error("local model %s failed to load: %s", name, exc)
                    self.health[name] = Health(ok=False, detail=f"failed to load: {exc}")

    def start_background(self) -> None:
        """Warm up local models, then re-probe on a schedule, in a daemon thread with its own loop."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._background, name="model-health", daemon=True)
        self._thread.start()

    def _background(self) -> None:
        asyncio.run(self.warm_up())
        while not self._stopping.wait(self.settings.health_interval):
            asyncio.run(self.refresh())

    async def aclose(self) -> None:
        self._stopping.set()
        for backend in [*self.backends.values(), *self._retired]:
            if backend is not None:
                await backend.aclose()
